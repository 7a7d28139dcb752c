"""Recording what a caller agreed to during a call."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from aybiza.core.errors import ApplicationError
from aybiza.core.models import Tenant
from aybiza.core.tenancy import ensure_owned
from calls.models import Call
from compliance.models import ConsentKind, ConsentMethod, ConsentRecord
from compliance.services.audit import audit_record


def consent_record(
    *, tenant: Tenant, call: Call, kind: str, granted: bool, method: str,
    disclosure_text: str = "", at: datetime | None = None,
) -> ConsentRecord:
    """Store a caller's answer (the latest answer per kind wins) and audit it.

    The live session calls it (through `database_sync_to_async`) when the caller answers a
    disclosure: `method` is how they answered, `disclosure_text` what they were told.
    """
    ensure_owned(tenant, call)
    errors = {}
    if kind not in ConsentKind.values:
        errors["kind"] = [f"One of {', '.join(ConsentKind.values)}."]
    if method not in ConsentMethod.values:
        errors["method"] = [f"One of {', '.join(ConsentMethod.values)}."]
    if errors:
        raise ApplicationError("Invalid consent.", extra={"fields": errors})
    fields = {"at": at} if at is not None else {}
    with transaction.atomic():
        record = ConsentRecord.objects.create(
            tenant=tenant, call=call, kind=kind, granted=granted, method=method,
            disclosure_text=disclosure_text.strip()[:2000], **fields,
        )
        audit_record(tenant=tenant, action="consent.recorded", target=record,
                     payload={"call_id": call.pk, "kind": kind, "granted": granted,
                              "method": method})
    return record
