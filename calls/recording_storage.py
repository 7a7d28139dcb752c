"""Where call recordings are stored: the `recordings` storage of settings.STORAGES.

Recordings are filed per tenant (`recordings/tenant-<id>/YYYY/MM/DD/<sid>.wav`): the S3 storage
(calls/recording_s3.py) reads the tenant from the name to encrypt each object under that
tenant's own KMS key. The names are ours (`recording_upload_to`), never a caller's.
"""

from __future__ import annotations

import re

from django.core.files.storage import Storage, storages
from django.utils import timezone

TENANT_IN_NAME = re.compile(r"^recordings/tenant-(\d+)/")


def recordings_storage() -> Storage:
    """The storage of Call.recording: a callable, so settings choose it, not the migrations."""
    return storages["recordings"]


def recording_upload_to(call, filename: str) -> str:
    return f"recordings/tenant-{call.tenant_id}/{timezone.now():%Y/%m/%d}/{filename}"


def is_sealed_by_us(storage: Storage) -> bool:
    """Whether files in `storage` must be sealed with the tenant's key before they are written
    (every storage but S3 with SSE-KMS, which encrypts them itself under the tenant's key)."""
    return not getattr(storage, "encrypts_per_tenant", False)
