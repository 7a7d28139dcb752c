"""Retention: a tenant's policy says how long each kind of data lives; enforce deletes the rest."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.db import models, transaction
from django.db.models import Max

from aybiza.core.errors import ApplicationError
from aybiza.core.models import Tenant
from calls.models import Call, CallEvent, Turn
from compliance.models import AuditEvent, RetentionPolicy, chain_for
from compliance.selectors import PRUNE_ACTION, retention_policy_get
from compliance.services.audit import audit_record, chain_head_lock
from compliance.services.storage import delete_files_on_commit

POLICY_FIELDS = ("recordings_days", "transcripts_days", "call_events_days", "calls_days",
                 "tool_logs_days", "audit_events_days", "memory_days",
                 "campaign_rows_days")
# Longest accepted retention: 100 years (longer is "keep", i.e. empty).
MAX_DAYS = 36_500


def retention_policy_set(*, tenant: Tenant, actor: Any = None, **days: int | None
                         ) -> RetentionPolicy:
    """Set some of the tenant's retention periods (days; None keeps that data forever)."""
    unknown = sorted(set(days) - set(POLICY_FIELDS))
    invalid = {name: ["Whole days between 1 and 36500, or empty."]
               for name, value in days.items()
               if value is not None and (not isinstance(value, int) or not 0 < value <= MAX_DAYS)}
    if unknown or invalid:
        invalid.update({name: ["Unknown field."] for name in unknown})
        raise ApplicationError("Invalid retention policy.", extra={"fields": invalid})
    with transaction.atomic():
        policy, _ = RetentionPolicy.objects.select_for_update().get_or_create(tenant=tenant)
        for name, value in days.items():
            setattr(policy, name, value)
        policy.save()
        audit_record(tenant=tenant, action="retention.policy_set", target=policy, actor=actor,
                     payload={name: getattr(policy, name) for name in POLICY_FIELDS})
    return policy


def retention_enforce(*, tenant: Tenant, now: datetime) -> dict[str, int]:
    """Delete the tenant's data older than its policy allows; returns counts per kind.

    Age is the call's start for everything a call produced (recording, turns, events), the
    row's creation for tool logs, and the event time for audit events. Every kind deleted is
    audited with its count and cutoff. Recording files go after the transaction commits.
    """
    policy = retention_policy_get(tenant=tenant)
    if policy is None:
        return {}
    counts: dict[str, int] = {}
    for name, enforce in _ENFORCERS:
        days = getattr(policy, f"{name}_days")
        if days is None:
            continue
        cutoff = now - timedelta(days=days)
        with transaction.atomic():
            count = enforce(tenant, cutoff)
            if count:
                audit_record(tenant=tenant, action="retention.deleted",
                             payload={"kind": name, "count": count, "days": days,
                                      "cutoff": cutoff.isoformat()})
        counts[name] = count
    return counts


def _calls_before(tenant: Tenant, cutoff: datetime) -> models.QuerySet[Call]:
    return Call.objects.filter(tenant=tenant, started_at__lt=cutoff)


def _delete_calls(tenant: Tenant, cutoff: datetime) -> int:
    calls = _calls_before(tenant, cutoff)
    delete_files_on_commit(Call._meta.get_field("recording").storage,
                           calls.exclude(recording="").values_list("recording", flat=True))
    _, per_model = calls.delete()
    return per_model.get(Call._meta.label, 0)


def _delete_recordings(tenant: Tenant, cutoff: datetime) -> int:
    calls = _calls_before(tenant, cutoff).exclude(recording="")
    names = list(calls.values_list("recording", flat=True))
    delete_files_on_commit(Call._meta.get_field("recording").storage, names)
    calls.update(recording="")
    return len(names)


def _delete_transcripts(tenant: Tenant, cutoff: datetime) -> int:
    deleted, _ = Turn.objects.filter(tenant=tenant, call__started_at__lt=cutoff).delete()
    return deleted


def _delete_call_events(tenant: Tenant, cutoff: datetime) -> int:
    deleted, _ = CallEvent.objects.filter(tenant=tenant, call__started_at__lt=cutoff).delete()
    return deleted


def tool_execution_model() -> type[models.Model] | None:
    """`tools.ToolExecution` when the tools app defines it (it arrives with another issue)."""
    try:
        return apps.get_model("tools", "ToolExecution")
    except LookupError:
        return None


def _delete_tool_logs(tenant: Tenant, cutoff: datetime) -> int:
    model = tool_execution_model()
    names = {f.name for f in model._meta.get_fields()} if model else set()
    if "tenant" not in names or "created_at" not in names:
        return 0
    deleted, _ = model.objects.filter(tenant=tenant, created_at__lt=cutoff).delete()
    return deleted


def _prune_audit_events(tenant: Tenant, cutoff: datetime) -> int:
    """Drop the chain's oldest rows; the head's base keeps the last pruned hash as anchor."""
    chain = chain_for(tenant.pk)
    head = chain_head_lock(chain, tenant.pk)
    events = AuditEvent.objects.filter(chain=chain)
    through = events.filter(at__lt=cutoff).aggregate(seq=Max("seq"))["seq"]
    if through is None:
        return 0
    anchor = events.filter(seq=through).values_list("hash", flat=True).get()
    count = events.filter(seq__lte=through)._prune()
    head.base_seq, head.base_hash = through, anchor
    head.save(update_fields=["base_seq", "base_hash", "updated_at"])
    audit_record(tenant=tenant, action=PRUNE_ACTION,
                 payload={"through_seq": through, "count": count})
    return count


# Order matters: whole calls first, so the finer kinds do not count rows about to go anyway.
# Apps that hold personal data of their own add a kind with `register_retention_enforcer`.
_ENFORCERS: list[tuple[str, Callable[[Tenant, datetime], int]]] = [
    ("calls", _delete_calls),
    ("recordings", _delete_recordings),
    ("transcripts", _delete_transcripts),
    ("call_events", _delete_call_events),
    ("tool_logs", _delete_tool_logs),
    ("audit_events", _prune_audit_events),
]


def register_retention_enforcer(name: str, enforce: Callable[[Tenant, datetime], int]) -> None:
    """Enforce `<name>_days` of the policy with `enforce(tenant, cutoff) -> rows deleted`
    (memory registers its contacts and facts); idempotent per name."""
    if all(existing != name for existing, _ in _ENFORCERS):
        _ENFORCERS.append((name, enforce))
