"""A KMS key of each tenant's own for its call recordings (S3 SSE-KMS).

One key per tenant, found by its alias (`RECORDINGS_KMS_ALIAS_PREFIX` + the tenant id): the
tenant's objects can be audited, rotated, disabled or destroyed (crypto-shredding) without
touching another tenant's. Operators may create the keys themselves (with the aliases) and set
`RECORDINGS_KMS_CREATE_KEYS=false`; by default the first recording of a tenant creates its key.
KMS calls block: recordings are stored after the call, in a thread.
"""

from __future__ import annotations

import threading

from aybiza.core.errors import ApplicationError
from compliance.conf import setting
from compliance.keywrap import kms_client

_arns: dict[int, str] = {}
_lock = threading.Lock()


class RecordingKeyUnavailable(ApplicationError):
    status_code = 500
    code = "recording_key_unavailable"


def recording_key_alias(tenant_id: int) -> str:
    return f"{setting('RECORDINGS_KMS_ALIAS_PREFIX')}{tenant_id}"


def recording_key_arn(tenant_id: int) -> str:
    """The ARN of the tenant's recording key, created on first use unless turned off."""
    arn = _arns.get(tenant_id)
    if arn:
        return arn
    with _lock:
        arn = _arns.get(tenant_id) or _find_or_create(tenant_id)
        _arns[tenant_id] = arn
    return arn


def _kms():
    return kms_client(setting("KMS_REGION"), setting("KMS_ENDPOINT_URL"))


def _find_or_create(tenant_id: int) -> str:
    kms, alias = _kms(), recording_key_alias(tenant_id)
    try:
        return kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"]
    except kms.exceptions.NotFoundException:
        if not setting("RECORDINGS_KMS_CREATE_KEYS"):
            raise RecordingKeyUnavailable(
                f"No KMS key {alias} for this tenant's recordings; create it, or set "
                "RECORDINGS_KMS_CREATE_KEYS=true.") from None
    key = kms.create_key(
        Description=f"AYBIZA call recordings of tenant {tenant_id}",
        KeyUsage="ENCRYPT_DECRYPT",
        Tags=[{"TagKey": "aybiza_tenant", "TagValue": str(tenant_id)}],
    )["KeyMetadata"]
    try:
        kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    except kms.exceptions.AlreadyExistsException:
        # Another process created the tenant's key first: use its key, retire ours.
        kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
        return kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"]
    return key["Arn"]


def forget_cached_keys() -> None:
    """For tests that swap the KMS endpoint."""
    _arns.clear()
