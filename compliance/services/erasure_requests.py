"""Erasure requests a caller makes by voice ("forget me"): filed during the call, confirmed or
dismissed by a member afterwards (caller ID can be spoofed: the call alone proves nothing)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from aybiza.core.errors import ApplicationError
from aybiza.core.models import Tenant
from aybiza.core.tenancy import ensure_owned
from compliance.crypto import decrypt_text_for_tenant, encrypt_text_for_tenant
from compliance.models import ErasureRequest, ErasureRequestStatus
from compliance.selectors import normalize_phone
from compliance.services.audit import audit_record
from compliance.services.subjects import subject_erase, subject_hash

_CONTEXT = "erasure-request-phone"


def erasure_request_file(*, tenant: Tenant, phone_number: str, call=None) -> ErasureRequest:
    """File (once per number while pending) a caller's request to be erased."""
    e164 = normalize_phone(phone_number)
    digest = subject_hash(tenant=tenant, e164=e164)
    with transaction.atomic():
        pending = ErasureRequest.objects.select_for_update().filter(
            tenant=tenant, subject_hash=digest, status=ErasureRequestStatus.PENDING).first()
        if pending is not None:
            return pending
        request = ErasureRequest.objects.create(
            tenant=tenant, subject_hash=digest, call=call,
            phone_sealed=encrypt_text_for_tenant(tenant, e164, context=_CONTEXT))
        audit_record(tenant=tenant, action="subject.erasure_requested", target=request,
                     actor="caller", payload={"subject": digest})
    return request


def erasure_request_phone(*, tenant: Tenant, request: ErasureRequest) -> str:
    """The number a pending request is about (for the member deciding on it)."""
    ensure_owned(tenant, request)
    if not request.phone_sealed:
        return ""
    return decrypt_text_for_tenant(tenant, request.phone_sealed, context=_CONTEXT)


def erasure_request_decide(*, tenant: Tenant, request: ErasureRequest, erase: bool,
                           actor: Any) -> dict[str, int]:
    """Erase everything about the number (`subject_erase`), or dismiss the request; either way
    the number itself is dropped from the request. Returns what was erased."""
    ensure_owned(tenant, request)
    if request.status != ErasureRequestStatus.PENDING:
        raise ApplicationError("This request was already decided.")
    counts: dict[str, int] = {}
    if erase:
        # Unlinked first: erasure deletes every row tied to the number's calls, this one too.
        request.call = None
        request.save(update_fields=["call", "updated_at"])
        counts = subject_erase(tenant=tenant, phone_number=erasure_request_phone(
            tenant=tenant, request=request), actor=actor)
    request.status = ErasureRequestStatus.ERASED if erase else ErasureRequestStatus.DISMISSED
    request.phone_sealed = ""
    request.handled_by = actor if getattr(actor, "pk", None) else None
    request.handled_at = timezone.now()
    request.save(update_fields=["status", "phone_sealed", "handled_by", "handled_at",
                                "updated_at"])
    audit_record(tenant=tenant, action=f"subject.erasure_request_{request.status}",
                 target=request, actor=actor, payload={"subject": request.subject_hash})
    return counts
