"""List pages of the API: `?limit=&offset=`, bounded. An unbounded `limit` or `offset` (a client
sending 10**30) must be a page or a clear 400, never an integer the database cannot hold."""

from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination

MAX_LIMIT = 200
MAX_OFFSET = 10**9


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    max_limit = MAX_LIMIT  # a larger limit gets this many

    def get_offset(self, request) -> int:
        offset = super().get_offset(request)
        if offset > MAX_OFFSET:
            raise ValidationError({"offset": [f"At most {MAX_OFFSET}."]})
        return offset
