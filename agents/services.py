"""Writes for agents, knowledge, phone numbers and provider credentials. Every service takes the
tenant."""

from __future__ import annotations

from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from agents.models import (
    PROVIDER_SECRET_NAMES,
    Agent,
    KnowledgeEntry,
    PhoneNumber,
    ProviderCredential,
)
from agents.selectors import agent_get, provider_credential_get
from agents.tasks import prepare_after_commit
from aybiza.core.errors import ApplicationError, NotFound
from aybiza.core.models import Tenant
from aybiza.core.tenancy import ensure_owned
from calls.realtime.providers.registry import fake_provider_refusal
from compliance.services import audit_record
from tools.secrets import merge_secrets, seal_secrets, unseal_secrets

NUMBER_TAKEN = "This number is already registered."
AGENT_FIELDS = (
    "name", "system_prompt", "greeting", "language", "voice", "stt_provider", "llm_provider",
    "tts_provider", "llm_model", "recognition_keywords", "status", "end_of_turn_silence_ms",
    "smart_end_of_turn",
    "barge_in_min_speech_ms", "reprompt_after_s", "hangup_after_s", "max_call_seconds",
    "timezone", "business_hours",
    "reprompt_text", "goodbye_text", "outbound_greeting", "voicemail_message",
    "keep_original_transcripts", "recording_mode", "recording_disclosure", "consent_prompt",
    "success_criteria", "extraction_schema", "remember_callers", "resume_window_minutes",
)


def normalize_e164(number: str, *, field: str = "e164") -> str:
    """`number` in E.164 form, or an ApplicationError naming `field`.

    Accepted: any number libphonenumber calls *possible* (right length for its country) that is
    also either *valid* (in an allocated range) or in the North American fictional ranges:
    area code 555, which NANPA never assigns and which the demo uses (+15550100000), and
    NXX-555-01XX, reserved for fiction. libphonenumber rejects the first, and demos, docs and
    tests need numbers that can never ring a real person. Spacing and punctuation are dropped:
    "+1 (555) 010-0000" is stored as "+15550100000". A leading "+" and country code are required.
    """
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException as exc:
        message = f"Not a phone number in E.164 form (+15551234567): {exc}"
        raise _field_error(field, message) from exc
    if not phonenumbers.is_possible_number(parsed) or not (
        phonenumbers.is_valid_number(parsed) or _is_fictional_nanp(parsed)
    ):
        raise _field_error(field, "Not a valid phone number.")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _is_fictional_nanp(parsed: phonenumbers.PhoneNumber) -> bool:
    national = str(parsed.national_number)
    if parsed.country_code != 1 or len(national) != 10:
        return False
    return national.startswith("555") or (national[3:6] == "555" and national[6:8] == "01")


def _field_error(field: str, message: str) -> ApplicationError:
    return ApplicationError(message, extra={"fields": {field: [message]}})


def _refuse_fake_providers(agent: Agent) -> None:
    """A 400 naming FAKE_PROVIDERS_ENABLED when the agent picks a test double where it is off."""
    fields = {}
    for kind in ("stt", "llm", "tts"):
        refusal = fake_provider_refusal(kind, getattr(agent, f"{kind}_provider"))
        if refusal:
            fields[f"{kind}_provider"] = [refusal]
    if fields:
        raise ApplicationError(next(iter(fields.values()))[0], extra={"fields": fields})


def _refuse_unknown_voice(agent: Agent) -> None:
    from calls.realtime.providers.tts.voices import voice_refusal

    refusal = voice_refusal(agent.tts_provider, agent.voice)
    if refusal:
        raise _field_error("voice", refusal)


def _full_clean(instance) -> None:
    try:
        instance.full_clean(exclude=["tenant"])
    except ValidationError as exc:
        raise ApplicationError("Invalid fields.", extra={"fields": exc.message_dict}) from exc


@transaction.atomic
def agent_create(
    *, tenant: Tenant, knowledge: list[dict[str, str]] | None = None, actor=None, **fields: Any
) -> Agent:
    """Create an agent of `tenant` from model fields, with its knowledge entries."""
    agent = Agent(tenant=tenant, **_only_agent_fields(fields))
    _full_clean(agent)
    _refuse_fake_providers(agent)
    _refuse_unknown_voice(agent)
    agent.save()
    if knowledge:
        knowledge_replace(tenant=tenant, agent=agent, entries=knowledge)
    audit_record(action="agent.created", tenant=tenant, target=agent, actor=actor)
    prepare_after_commit(agent)  # its greeting, synthesised for the calls to come
    return agent


@transaction.atomic
def agent_update(
    *, tenant: Tenant, agent: Agent, knowledge: list[dict[str, str]] | None = None,
    actor=None, **fields: Any,
) -> Agent:
    """Change the given fields. `knowledge`, when given, replaces all entries (None keeps them)."""
    ensure_owned(tenant, agent)
    changed = _only_agent_fields(fields)
    for name, value in changed.items():
        setattr(agent, name, value)
    _full_clean(agent)
    _refuse_fake_providers(agent)
    if {"voice", "tts_provider"} & changed.keys():
        _refuse_unknown_voice(agent)
    # Only the given fields: a stale copy must not undo a publish made meanwhile.
    agent.save(update_fields=[*changed, "updated_at"])
    if knowledge is not None:
        knowledge_replace(tenant=tenant, agent=agent, entries=knowledge)
    audit_record(action="agent.updated", tenant=tenant, target=agent, actor=actor)
    prepare_after_commit(agent)  # its greeting, synthesised for the calls to come
    return agent


@transaction.atomic
def agent_delete(*, tenant: Tenant, agent: Agent, actor=None) -> None:
    """Delete the agent; its numbers stay, unbound, and its calls keep their history."""
    ensure_owned(tenant, agent)
    audit_record(action="agent.deleted", tenant=tenant, target=agent, actor=actor)
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
    """Append one entry to the agent's knowledge."""
    entry = KnowledgeEntry(tenant=tenant, agent=agent, question=question, answer=answer)
    _full_clean(entry)
    entry.save()
    return entry


@transaction.atomic
def phone_number_create(
    *, tenant: Tenant, e164: str, label: str = "", agent_id: int | None = None, actor=None
) -> PhoneNumber:
    """Register `e164` (normalised, see `normalize_e164`) for `tenant`, bound to an agent.

    A number is unique across the platform: the dialled number is how a call finds its tenant.
    """
    e164 = normalize_e164(e164)
    if PhoneNumber.objects.filter(e164=e164).exists():
        raise _field_error("e164", NUMBER_TAKEN)
    number = PhoneNumber(tenant=tenant, e164=e164, label=label,
                         agent=_agent_for_binding(tenant=tenant, agent_id=agent_id))
    _save_number(number)
    audit_record(action="phone_number.created", tenant=tenant, target=number, actor=actor)
    return number


@transaction.atomic
def phone_number_update(
    *, tenant: Tenant, number: PhoneNumber, actor=None, **fields: Any
) -> PhoneNumber:
    """Change the number (`e164`), its `label` or its agent (`agent_id`, None unbinds)."""
    ensure_owned(tenant, number)
    unknown = set(fields) - {"e164", "label", "agent_id"}
    if unknown:
        raise ApplicationError(f"Unknown phone number fields: {', '.join(sorted(unknown))}.")
    if "e164" in fields:
        e164 = normalize_e164(fields["e164"])
        if PhoneNumber.objects.filter(e164=e164).exclude(pk=number.pk).exists():
            raise _field_error("e164", NUMBER_TAKEN)
        number.e164 = e164
    if "label" in fields:
        number.label = fields["label"]
    if "agent_id" in fields:
        number.agent = _agent_for_binding(tenant=tenant, agent_id=fields["agent_id"])
    _save_number(number)
    audit_record(action="phone_number.updated", tenant=tenant, target=number, actor=actor)
    return number


def _agent_for_binding(*, tenant: Tenant, agent_id: int | None) -> Agent | None:
    # A bad reference in the body is a field error; another tenant's agent looks just as missing.
    if agent_id is None:
        return None
    try:
        return agent_get(tenant=tenant, pk=agent_id)
    except NotFound:
        raise _field_error("agent_id", "Agent not found.") from None


def _save_number(number: PhoneNumber) -> None:
    try:
        with transaction.atomic():
            number.save()
    except IntegrityError:  # another request registered the same number in the meantime
        raise _field_error("e164", NUMBER_TAKEN) from None


@transaction.atomic
def phone_number_delete(*, tenant: Tenant, number: PhoneNumber, actor=None) -> None:
    """Remove the number; past calls keep their from/to numbers."""
    ensure_owned(tenant, number)
    audit_record(action="phone_number.deleted", tenant=tenant, target=number, actor=actor)
    number.delete()


@transaction.atomic
def provider_credentials_set(
    *, tenant: Tenant, provider: str, secrets: dict[str, str | None], actor=None
) -> ProviderCredential:
    """Merge `secrets` into the tenant's credentials for `provider`, creating them on first use.

    A name with a value sets it, with None or "" removes it; names not given are kept. Values
    are sealed with the tenant's data key; they are never returned, logged or audited (names are).
    """
    allowed = PROVIDER_SECRET_NAMES.get(provider)
    if allowed is None:
        raise _field_error("provider", f"Not a provider with credentials: {provider!r}.")
    unknown = sorted(set(secrets) - set(allowed))
    if unknown:
        raise _field_error("secrets", f"Unknown {provider} secrets: {', '.join(unknown)} "
                                      f"(allowed: {', '.join(allowed)}).")
    ProviderCredential.objects.get_or_create(tenant=tenant, provider=provider)
    row = ProviderCredential.objects.select_for_update().get(tenant=tenant, provider=provider)
    current = unseal_secrets(tenant, row.secrets_sealed, context=row.sealing_context)
    merged = merge_secrets(current, secrets)
    _check_aws_key_pair(provider, merged)
    row.secrets_sealed = seal_secrets(tenant, merged, context=row.sealing_context)
    row.secret_names = sorted(merged)
    row.save()
    audit_record(action="provider_credentials.updated", tenant=tenant, target=row, actor=actor,
                 payload={"provider": provider,
                          "set": sorted(name for name in secrets if name in merged),
                          "removed": sorted(set(current) - set(merged))})
    return row


def _check_aws_key_pair(provider: str, secrets: dict[str, str]) -> None:
    # Half a key pair (or a session token alone) would fail every call, so refuse it here.
    if provider != "bedrock" or not secrets:
        return
    if not {"aws_access_key_id", "aws_secret_access_key"} <= set(secrets):
        raise _field_error("secrets", "Bedrock needs aws_access_key_id and aws_secret_access_key "
                                      "together (aws_session_token is optional).")


@transaction.atomic
def provider_credentials_delete(*, tenant: Tenant, provider: str, actor=None) -> None:
    """Forget the tenant's credentials for `provider`; calls use the platform's again."""
    row = provider_credential_get(tenant=tenant, key=provider)
    audit_record(action="provider_credentials.deleted", tenant=tenant, target=row, actor=actor,
                 payload={"provider": provider, "removed": list(row.secret_names)})
    row.delete()


def _only_agent_fields(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(AGENT_FIELDS)
    if unknown:
        raise ApplicationError(f"Unknown agent fields: {', '.join(sorted(unknown))}.")
    if "extraction_schema" in fields and fields["extraction_schema"] is None:
        fields = {**fields, "extraction_schema": {}}  # an emptied form field: no extraction
    return fields
