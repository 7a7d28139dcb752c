"""Reads for agents, knowledge and phone numbers. A foreign object is a missing object."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from agents.models import Agent, KnowledgeEntry, PhoneNumber
from aybiza.core.errors import NotFound
from aybiza.core.models import Tenant
from aybiza.core.selectors import parse_pk


def agent_list(*, tenant: Tenant, name: str | None = None) -> QuerySet[Agent]:
    agents = Agent.objects.filter(tenant=tenant)
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
