"""Writes of contacts and memory. Every write checks the contact's tenant and the caller's wish
not to be remembered; values are bounded and sealed with the tenant's data key."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from aybiza.core.errors import ApplicationError
from aybiza.core.models import Tenant
from aybiza.core.tenancy import ensure_owned
from compliance.crypto import encrypt_text_for_tenant
from compliance.hashing import keyed_hash
from compliance.selectors import normalize_phone
from compliance.services import audit_record
from memory.models import Contact, MemoryFact
from memory.selectors import FACT_CONTEXT, NAME_CONTEXT, PHONE_CONTEXT
from memory.working import working_memory_forget

MAX_NAME_CHARS = 100
MAX_FACT_KEY_CHARS = 64
MAX_FACT_VALUE_CHARS = 500
MAX_FACTS_PER_CONTACT = 50


def contact_phone_hash(*, tenant: Tenant, e164: str) -> str:
    """The contact's lookup key: per tenant, not reversible without the deployment's secret."""
    return keyed_hash("contact", f"{tenant.pk}:{e164}")


def contact_for_caller(*, tenant: Tenant, number: str) -> Contact | None:
    """The tenant's contact for a caller's number, created on their first call and counted on
    every call; None for a withheld or malformed number (nobody to remember)."""
    try:
        e164 = normalize_phone(number)
    except ApplicationError:
        return None
    phone_hash = contact_phone_hash(tenant=tenant, e164=e164)
    now = timezone.now()
    updated = Contact.objects.filter(tenant=tenant, phone_hash=phone_hash).update(
        last_seen_at=now, call_count=F("call_count") + 1, updated_at=now)
    if not updated:
        try:
            with transaction.atomic():
                Contact.objects.create(
                    tenant=tenant, phone_hash=phone_hash, first_seen_at=now, last_seen_at=now,
                    call_count=1, phone_sealed=encrypt_text_for_tenant(
                        tenant, e164, context=PHONE_CONTEXT))
        except IntegrityError:  # the same caller's concurrent call created it first
            Contact.objects.filter(tenant=tenant, phone_hash=phone_hash).update(
                last_seen_at=now, call_count=F("call_count") + 1, updated_at=now)
    return Contact.objects.get(tenant=tenant, phone_hash=phone_hash)


def contact_ensure(*, tenant: Tenant, e164: str) -> Contact:
    """The tenant's contact for a number we are about to call (a campaign row, the do-not-call
    list): created if new, without counting a call."""
    phone_hash = contact_phone_hash(tenant=tenant, e164=e164)
    contact = Contact.objects.filter(tenant=tenant, phone_hash=phone_hash).first()
    if contact is not None:
        return contact
    try:
        with transaction.atomic():
            return Contact.objects.create(
                tenant=tenant, phone_hash=phone_hash, call_count=0,
                phone_sealed=encrypt_text_for_tenant(tenant, e164, context=PHONE_CONTEXT))
    except IntegrityError:  # created concurrently
        return Contact.objects.get(tenant=tenant, phone_hash=phone_hash)


def contact_do_not_call_set(*, tenant: Tenant, e164: str, do_not_call: bool,
                            actor=None) -> Contact:
    """Put a number on the tenant's do-not-call list (or take it off): outbound calls check it
    when they dial. Audited: an auditor asks who removed a number."""
    contact = contact_ensure(tenant=tenant, e164=e164)
    if contact.do_not_call != do_not_call:
        contact.do_not_call = do_not_call
        contact.do_not_call_since = timezone.now() if do_not_call else None
        contact.save(update_fields=["do_not_call", "do_not_call_since", "updated_at"])
        audit_record(tenant=tenant, action=("contact.do_not_call_added" if do_not_call
                                            else "contact.do_not_call_removed"),
                     target=contact, actor=actor)
    return contact


def contact_update(*, tenant: Tenant, contact: Contact, actor=None, **fields: Any) -> Contact:
    """Change a contact's `name` or `do_not_remember`. Turning `do_not_remember` on forgets
    every fact at once."""
    ensure_owned(tenant, contact)
    unknown = set(fields) - {"name", "do_not_remember"}
    if unknown:
        raise ApplicationError(f"Unknown contact fields: {', '.join(sorted(unknown))}.")
    errors: dict[str, list[str]] = {}
    if "name" in fields:
        name = fields["name"]
        if not isinstance(name, str) or len(name.strip()) > MAX_NAME_CHARS:
            errors["name"] = [f"A text of at most {MAX_NAME_CHARS} characters."]
    if "do_not_remember" in fields and not isinstance(fields["do_not_remember"], bool):
        errors["do_not_remember"] = ["true or false."]
    if errors:
        raise ApplicationError("Invalid contact.", extra={"fields": errors})
    with transaction.atomic():
        if "name" in fields:
            name = fields["name"].strip()
            contact.name_sealed = (encrypt_text_for_tenant(tenant, name, context=NAME_CONTEXT)
                                   if name else "")
        if fields.get("do_not_remember") is True:
            working_memory_forget(tenant_id=tenant.pk, contact_id=contact.pk)
            contact.do_not_remember = True
            contact.name_sealed = ""
            MemoryFact.objects.filter(tenant=tenant, contact=contact).delete()
        elif fields.get("do_not_remember") is False:
            contact.do_not_remember = False
        contact.save(update_fields=["name_sealed", "do_not_remember", "updated_at"])
        audit_record(action="contact.updated", tenant=tenant, target=contact, actor=actor,
                     payload={"fields": sorted(fields)})
    return contact


def memory_remember(*, tenant: Tenant, contact: Contact, key: str, value: str,
                    source_call=None, confidence: float = 1.0) -> MemoryFact | None:
    """Remember one fact (the latest value per key wins); None when the contact asked not to
    be remembered. Keys and values are bounded; a contact keeps at most 50 facts."""
    ensure_owned(tenant, contact)
    if contact.do_not_remember:
        return None
    key = key.strip()[:MAX_FACT_KEY_CHARS]
    value = value.strip()
    if not key or not value:
        return None
    if len(value) > MAX_FACT_VALUE_CHARS:
        raise ApplicationError(f"A remembered value holds at most {MAX_FACT_VALUE_CHARS} "
                               "characters.", extra={"fields": {"value": ["Too long."]}})
    sealed = encrypt_text_for_tenant(tenant, value, context=FACT_CONTEXT)
    existing = MemoryFact.objects.filter(tenant=tenant, contact=contact, key=key).first()
    if existing is None and MemoryFact.objects.filter(contact=contact).count() >= \
            MAX_FACTS_PER_CONTACT:
        return None  # full: new keys are dropped, known ones still update
    if existing is None:
        return MemoryFact.objects.create(tenant=tenant, contact=contact, key=key,
                                         value_sealed=sealed, source_call=source_call,
                                         confidence=confidence)
    existing.value_sealed, existing.source_call, existing.confidence = (
        sealed, source_call, confidence)
    existing.save(update_fields=["value_sealed", "source_call", "confidence", "updated_at"])
    return existing


def contact_name_heard(*, call, name: str) -> None:
    """The caller said who they are on `call` ("my name is Ana Lima"): the contact keeps the
    name, sealed, unless the agent does not remember callers, the caller opted out, or the
    tenant already named the contact."""
    name = " ".join(word.capitalize() for word in name.split())[:MAX_NAME_CHARS]
    if not name or call.contact_id is None or call.agent is None \
            or not call.agent.remember_callers:
        return
    sealed = encrypt_text_for_tenant(call.tenant, name, context=NAME_CONTEXT)
    Contact.objects.filter(pk=call.contact_id, tenant_id=call.tenant_id, do_not_remember=False,
                           name_sealed="").update(name_sealed=sealed, updated_at=timezone.now())


def memory_forget(*, tenant: Tenant, contact: Contact, actor=None) -> None:
    """Forget the contact's name and every fact (the contact and its call count stay)."""
    ensure_owned(tenant, contact)
    working_memory_forget(tenant_id=tenant.pk, contact_id=contact.pk)
    with transaction.atomic():
        MemoryFact.objects.filter(tenant=tenant, contact=contact).delete()
        contact.name_sealed = ""
        contact.save(update_fields=["name_sealed", "updated_at"])
        audit_record(action="contact.forgotten", tenant=tenant, target=contact, actor=actor)


def memory_remember_on_call(*, call, key: str, value: str) -> None:
    """A fact the agent chose to remember during `call` (its `remember` tool); nothing when the
    call has no contact or the caller asked not to be remembered."""
    if call.contact is None:
        return
    with contextlib.suppress(ApplicationError):  # too long or full: the call goes on
        memory_remember(tenant=call.tenant, contact=call.contact, key=key, value=value,
                        source_call=call)


def caller_asked_to_be_forgotten(*, call) -> None:
    """The caller said "forget me" on `call`: from now on nothing is remembered about them,
    what was remembered is gone, and an erasure request is filed for a member to confirm
    (caller ID can be spoofed, so the call alone does not erase their history)."""
    from compliance.services.erasure_requests import erasure_request_file

    contact = call.contact
    if contact is not None:
        contact.do_not_remember = True
        contact.save(update_fields=["do_not_remember", "updated_at"])
        memory_forget(tenant=call.tenant, contact=contact, actor="caller")
    number = call.to_number if call.direction == "outbound" else call.from_number
    if number:
        # No usable number (withheld): there is nothing to file a request against.
        with contextlib.suppress(ApplicationError):
            erasure_request_file(tenant=call.tenant, phone_number=number, call=call)


def memory_retention_enforce(tenant: Tenant, cutoff: datetime) -> int:
    """The tenant's retention for callers' memory: facts not written since `cutoff`, and
    contacts not heard from since then (their calls stay, unlinked); returns rows deleted."""
    # (Conversations kept for a call back expire on their own within a day at most.)
    facts, _ = MemoryFact.objects.filter(tenant=tenant, updated_at__lt=cutoff).delete()
    contacts, _ = Contact.objects.filter(tenant=tenant, last_seen_at__lt=cutoff).delete()
    return facts + contacts
