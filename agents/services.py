"""Writes for agents, knowledge and phone numbers. Every service takes the tenant."""

from __future__ import annotations

from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.db import transaction

from aybiza.core.errors import ApplicationError
from aybiza.core.models import Tenant
from agents.models import Agent, KnowledgeEntry, PhoneNumber
from agents.selectors import agent_get

AGENT_FIELDS = (
    "name", "system_prompt", "greeting", "language", "voice", "stt_provider", "llm_provider",
    "tts_provider", "llm_model", "status", "end_of_turn_silence_ms", "barge_in_min_speech_ms",
    "reprompt_after_s", "hangup_after_s", "max_call_seconds", "reprompt_text", "goodbye_text",
)


def normalize_e164(number: str) -> str:
    """`number` in E.164 form, or an ApplicationError naming the field."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException as exc:
        raise _field_error("e164", f"Not a phone number in E.164 form (+15551234567): {exc}")
    if not phonenumbers.is_possible_number(parsed) or not phonenumbers.is_valid_number(parsed):
        raise _field_error("e164", "Not a valid phone number.")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _field_error(field: str, message: str) -> ApplicationError:
    return ApplicationError(message, extra={"fields": {field: [message]}})


def _full_clean(instance) -> None:
    try:
        instance.full_clean(exclude=["tenant"])
    except ValidationError as exc:
        raise ApplicationError("Invalid fields.", extra={"fields": exc.message_dict}) from exc


@transaction.atomic
def agent_create(
    *, tenant: Tenant, knowledge: list[dict[str, str]] | None = None, actor=None, **fields: Any
) -> Agent:
    agent = Agent(tenant=tenant, **_only_agent_fields(fields))
    _full_clean(agent)
    agent.save()
    if knowledge:
        knowledge_replace(tenant=tenant, agent=agent, entries=knowledge)
    _audit("agent.created", tenant=tenant, target=agent, actor=actor)
    return agent


@transaction.atomic
def agent_update(
    *, tenant: Tenant, agent: Agent, knowledge: list[dict[str, str]] | None = None,
    actor=None, **fields: Any,
) -> Agent:
    if agent.tenant_id != tenant.id:
        raise ApplicationError("Agent not found.", status_code=404, code="not_found")
    for name, value in _only_agent_fields(fields).items():
        setattr(agent, name, value)
    _full_clean(agent)
    agent.save()
    if knowledge is not None:
        knowledge_replace(tenant=tenant, agent=agent, entries=knowledge)
    _audit("agent.updated", tenant=tenant, target=agent, actor=actor)
    return agent


@transaction.atomic
def agent_delete(*, tenant: Tenant, agent: Agent, actor=None) -> None:
    if agent.tenant_id != tenant.id:
        raise ApplicationError("Agent not found.", status_code=404, code="not_found")
    _audit("agent.deleted", tenant=tenant, target=agent, actor=actor)
    agent.delete()


def knowledge_replace(*, tenant: Tenant, agent: Agent, entries: list[dict[str, str]]) -> None:
    """Replace the agent's knowledge with `entries` ({question, answer} dicts)."""
    KnowledgeEntry.objects.filter(tenant=tenant, agent=agent).delete()
    rows = []
    for entry in entries:
        row = KnowledgeEntry(tenant=tenant, agent=agent, question=entry["question"],
                             answer=entry["answer"])
        _full_clean(row)
        rows.append(row)
    KnowledgeEntry.objects.bulk_create(rows)


def knowledge_add(*, tenant: Tenant, agent: Agent, question: str, answer: str) -> KnowledgeEntry:
    entry = KnowledgeEntry(tenant=tenant, agent=agent, question=question, answer=answer)
    _full_clean(entry)
    entry.save()
    return entry


@transaction.atomic
def phone_number_create(
    *, tenant: Tenant, e164: str, label: str = "", agent_id: int | None = None, actor=None
) -> PhoneNumber:
    e164 = normalize_e164(e164)
    if PhoneNumber.objects.filter(e164=e164).exists():
        raise _field_error("e164", "This number is already registered.")
    agent = agent_get(tenant=tenant, pk=agent_id) if agent_id is not None else None
    number = PhoneNumber.objects.create(tenant=tenant, e164=e164, label=label, agent=agent)
    _audit("phone_number.created", tenant=tenant, target=number, actor=actor)
    return number


@transaction.atomic
def phone_number_update(
    *, tenant: Tenant, number: PhoneNumber, actor=None, **fields: Any
) -> PhoneNumber:
    if "e164" in fields:
        e164 = normalize_e164(fields["e164"])
        if PhoneNumber.objects.filter(e164=e164).exclude(pk=number.pk).exists():
            raise _field_error("e164", "This number is already registered.")
        number.e164 = e164
    if "label" in fields:
        number.label = fields["label"]
    if "agent_id" in fields:
        agent_id = fields["agent_id"]
        number.agent = agent_get(tenant=tenant, pk=agent_id) if agent_id is not None else None
    number.save()
    _audit("phone_number.updated", tenant=tenant, target=number, actor=actor)
    return number


@transaction.atomic
def phone_number_delete(*, tenant: Tenant, number: PhoneNumber, actor=None) -> None:
    _audit("phone_number.deleted", tenant=tenant, target=number, actor=actor)
    number.delete()


def _only_agent_fields(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(AGENT_FIELDS)
    if unknown:
        raise ApplicationError(f"Unknown agent fields: {', '.join(sorted(unknown))}.")
    return fields


def _audit(action: str, *, tenant: Tenant, target, actor=None) -> None:
    from aybiza.core.services import _audit as core_audit

    core_audit(action, tenant=tenant, target=target, actor=actor)
