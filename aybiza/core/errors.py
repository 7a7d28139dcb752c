"""The one application error type. Services raise it; the API turns it into JSON."""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A failure a client can understand: a message, an HTTP status and optional extra data."""

    status_code = 400
    code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        extra: dict[str, Any] | None = None,
        status_code: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}
        if status_code is not None:
            self.status_code = status_code
        if code is not None:
            self.code = code


class NotFound(ApplicationError):
    """A missing object, or one that belongs to another tenant: the two look the same."""

    status_code = 404
    code = "not_found"
