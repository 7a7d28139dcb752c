"""A caller's memory in data-subject requests: exported in clear, erased with the contact."""

from __future__ import annotations

from typing import Any

from memory.models import Contact
from memory.selectors import contact_facts, contact_name
from memory.services import contact_phone_hash
from memory.working import working_memory_forget, working_memory_peek


def _contact(tenant, e164: str) -> Contact | None:
    return Contact.objects.filter(tenant=tenant,
                                  phone_hash=contact_phone_hash(tenant=tenant, e164=e164)).first()


def export(tenant, e164: str, calls) -> dict[str, Any] | None:
    contact = _contact(tenant, e164)
    if contact is None:
        return None
    kept = working_memory_peek(tenant=tenant, contact=contact)
    return {"name": contact_name(contact), "facts": contact_facts(contact),
            # A dropped call's conversation, kept for a call back (minutes, not stored).
            "conversation_kept_for_call_back": kept.messages if kept else None,
            "first_seen_at": contact.first_seen_at.isoformat(),
            "last_seen_at": contact.last_seen_at.isoformat(), "call_count": contact.call_count,
            "do_not_remember": contact.do_not_remember, "do_not_call": contact.do_not_call,
            # Outbound campaigns they were in (the row's name and variables are in the calls'
            # export when a call was placed).
            "campaign_rows": [
                {"campaign": name, "state": state, "attempts": attempts}
                for name, state, attempts in contact.campaign_rows.values_list(
                    "campaign__name", "state", "attempts")]}


def erase(tenant, e164: str, calls) -> int:
    contact = _contact(tenant, e164)
    if contact is None:
        return 0
    working_memory_forget(tenant_id=tenant.pk, contact_id=contact.pk)
    if contact.do_not_call:
        # Keeping the number on the do-not-call list is what the person asked for (a
        # suppression list survives erasure): everything else about them goes.
        deleted, _ = contact.facts.all().delete()
        rows, _ = contact.campaign_rows.all().delete()
        contact.name_sealed = ""
        contact.call_count = 0
        contact.save(update_fields=["name_sealed", "call_count", "updated_at"])
        return deleted + rows
    deleted, _ = contact.delete()  # its facts and campaign rows go with it
    return deleted
