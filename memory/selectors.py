"""Reads of contacts and their memory, always within one tenant; sealed values come back clear."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import QuerySet

from aybiza.core.errors import NotFound
from aybiza.core.models import Tenant
from aybiza.core.selectors import parse_pk
from compliance.crypto import decrypt_text_for_tenant
from memory.models import Contact, MemoryFact

NAME_CONTEXT = "memory.contact-name"
PHONE_CONTEXT = "memory.contact-phone"
FACT_CONTEXT = "memory.fact"


@dataclass(frozen=True)
class Remembered:
    """What a call starts with about its caller."""

    name: str = ""
    facts: dict[str, str] = field(default_factory=dict)
    calls_before: int = 0

    @property
    def empty(self) -> bool:
        return not (self.name or self.facts)


def contact_list(*, tenant: Tenant) -> QuerySet[Contact]:
    return (Contact.objects.filter(tenant=tenant).select_related("tenant")
            .order_by("-last_seen_at", "-id"))


def contact_get(*, tenant: Tenant, pk) -> Contact:
    pk = parse_pk(pk)
    contact = contact_list(tenant=tenant).filter(pk=pk).first() if pk is not None else None
    if contact is None:
        raise NotFound("Contact not found.")
    return contact


def contact_name(contact: Contact) -> str:
    if not contact.name_sealed:
        return ""
    return decrypt_text_for_tenant(contact.tenant, contact.name_sealed, context=NAME_CONTEXT)


def contact_phone(contact: Contact) -> str:
    return decrypt_text_for_tenant(contact.tenant, contact.phone_sealed, context=PHONE_CONTEXT)


def contact_facts(contact: Contact) -> dict[str, str]:
    facts = MemoryFact.objects.filter(tenant_id=contact.tenant_id, contact=contact).order_by("key")
    return {fact.key: decrypt_text_for_tenant(contact.tenant, fact.value_sealed,
                                              context=FACT_CONTEXT) for fact in facts}


def remembered(contact: Contact | None) -> Remembered:
    """What the agent may know about this caller at the start of a call (nothing for a contact
    that asked not to be remembered)."""
    if contact is None or contact.do_not_remember:
        return Remembered()
    return Remembered(name=contact_name(contact), facts=contact_facts(contact),
                      calls_before=max(0, contact.call_count - 1))
