"""Reads for agents, knowledge, phone numbers and provider credentials. A foreign object is a
missing object."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Prefetch, QuerySet

from agents.models import (
    PROVIDER_SECRET_NAMES,
    Agent,
    KnowledgeDocument,
    KnowledgeEntry,
    PhoneNumber,
    ProviderCredential,
)
from aybiza.core.errors import NotFound
from aybiza.core.models import Tenant
from aybiza.core.selectors import parse_pk
from tools.secrets import unseal_secrets


def agent_list(*, tenant: Tenant, name: str | None = None) -> QuerySet[Agent]:
    agents = Agent.objects.filter(tenant=tenant).select_related("published_version")
    if name is not None:
        agents = agents.filter(name=name)
    return agents.prefetch_related(
        Prefetch("knowledge", queryset=KnowledgeEntry.objects.order_by("id"))
    )


def agent_get(*, tenant: Tenant, pk) -> Agent:
    pk = parse_pk(pk)
    agent = agent_list(tenant=tenant).filter(pk=pk).first() if pk is not None else None
    if agent is None:
        raise NotFound("Agent not found.")
    return agent


def knowledge_for_agent(*, tenant: Tenant, agent: Agent) -> list[tuple[str, str]]:
    rows = KnowledgeEntry.objects.filter(tenant=tenant, agent=agent).order_by("id")
    return [(row.question, row.answer) for row in rows]


def document_list(*, tenant: Tenant, agent: Agent | None = None) -> QuerySet[KnowledgeDocument]:
    rows = KnowledgeDocument.objects.filter(tenant=tenant).select_related("agent")
    return rows.filter(agent=agent) if agent is not None else rows


def document_get(*, tenant: Tenant, pk, agent: Agent | None = None) -> KnowledgeDocument:
    """One document of the tenant (of `agent`, when given); another's is Not Found."""
    pk = parse_pk(pk)
    rows = document_list(tenant=tenant, agent=agent)
    document = rows.filter(pk=pk).first() if pk is not None else None
    if document is None:
        raise NotFound("Document not found.")
    return document


def phone_number_list(*, tenant: Tenant) -> QuerySet[PhoneNumber]:
    return PhoneNumber.objects.filter(tenant=tenant).select_related("agent")


def phone_number_get(*, tenant: Tenant, pk) -> PhoneNumber:
    pk = parse_pk(pk)
    number = phone_number_list(tenant=tenant).filter(pk=pk).first() if pk is not None else None
    if number is None:
        raise NotFound("Phone number not found.")
    return number


def phone_number_route(*, e164: str) -> PhoneNumber | None:
    """The number an incoming call dialled, with its tenant and agent (webhooks only).

    This is the one lookup without a tenant: the dialled number is what tells us the tenant.
    """
    return PhoneNumber.objects.select_related("tenant", "agent").filter(e164=e164).first()


def provider_credential_list(*, tenant: Tenant) -> QuerySet[ProviderCredential]:
    return ProviderCredential.objects.filter(tenant=tenant)


def provider_credential_get(*, tenant: Tenant, key) -> ProviderCredential:
    """The tenant's credentials named by `key`: their id, or the provider's name ("deepgram")."""
    credentials = provider_credential_list(tenant=tenant)
    if key in PROVIDER_SECRET_NAMES:
        row = credentials.filter(provider=key).first()
    else:
        pk = parse_pk(key)
        row = credentials.filter(pk=pk).first() if pk is not None else None
    if row is None:
        raise NotFound("Provider credentials not found.")
    return row


def provider_credentials_for(
    *, tenant: Tenant, providers: Iterable[str] | None = None
) -> dict[str, dict[str, str]]:
    """The tenant's decrypted secrets by provider name (of `providers` only, when given).

    For building a call's providers (calls.realtime.loader) and nothing else: never log or return
    the values.
    """
    rows = provider_credential_list(tenant=tenant).exclude(secrets_sealed="")
    if providers is not None:
        rows = rows.filter(provider__in=list(providers))
    return {row.provider: unseal_secrets(tenant, row.secrets_sealed, context=row.sealing_context)
            for row in rows}
