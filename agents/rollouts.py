"""Staged rollouts: a new version reaches 1 % → 10 % → 50 % → 100 % of new calls, and goes back
to the stable one automatically when it does worse (learning/rollouts.py decides; this module
holds the state and the assignment).

A call's side is fixed by a hash of its call sid: deterministic (a retried webhook gets the same
version) and evenly spread. Every step is audited and kept in the rollout's history.
"""

from __future__ import annotations

import hashlib

from django.db import IntegrityError, transaction
from django.utils import timezone

from agents.gates import gates_check
from agents.models import Agent, AgentVersion, Rollout, RolloutStatus, VersionOrigin
from aybiza.core.errors import ApplicationError
from aybiza.core.models import Tenant
from aybiza.core.tenancy import ensure_owned
from compliance.services import audit_record

STEPS = (1, 10, 50, 100)


def bucket(call_sid: str) -> int:
    """0..99, stable for a call sid."""
    return int.from_bytes(hashlib.sha256(call_sid.encode()).digest()[:4], "big") % 100


def rollout_active(agent: Agent) -> Rollout | None:
    return (Rollout.objects.select_related("candidate", "stable")
            .filter(agent=agent, status=RolloutStatus.ACTIVE).first())


def rollout_version_for(agent: Agent, call_sid: str) -> AgentVersion | None:
    """The version this call runs under an active rollout, or None (no rollout)."""
    rollout = rollout_active(agent)
    if rollout is None:
        return None
    if bucket(call_sid) < rollout.percent or rollout.stable is None:
        return rollout.candidate
    return rollout.stable


def rollout_start(*, tenant: Tenant, agent: Agent, version: AgentVersion, percent: int = 1,
                  actor=None, override_evaluation: bool = False,
                  gates_passed: bool = False) -> Rollout:
    """Send `percent` % of new calls to `version` (the rest keep the published one). The
    version must pass the gates a publish does (its agent's evaluation suite, replay of recent
    calls) unless an owner overrides them, which is audited; `gates_passed`: they just ran."""
    ensure_owned(tenant, agent)
    if version.agent_id != agent.id:
        raise ApplicationError("That version belongs to another agent.",
                               extra={"fields": {"version": ["Not this agent's version."]}})
    if percent not in STEPS[:-1]:
        raise ApplicationError("Invalid rollout.", extra={"fields": {"percent": [
            f"One of {', '.join(map(str, STEPS[:-1]))}: the steps before everyone."]}})
    running = rollout_active(agent)
    if running is not None and running.candidate_id == version.pk:
        return running  # asked again (a retried request): the same rollout
    stable = agent.published_version
    if stable is not None and stable.pk == version.pk:
        raise ApplicationError("Callers already hear that version.",
                               extra={"fields": {"version": ["Already published."]}})
    if not (gates_passed or override_evaluation):
        gates_check(agent, version.snapshot)  # before any lock or row: a suite takes seconds
    try:
        with transaction.atomic():
            rollout = Rollout.objects.create(
                tenant=tenant, agent=agent, candidate=version, stable=stable, percent=percent,
                history=[_entry(percent, "started")])
            audit_record(action="agent.rollout_started", tenant=tenant, target=agent,
                         actor=actor, payload={"version": version.number, "percent": percent})
            if override_evaluation:
                audit_record(action="agent.rollout_overrode_evaluation", tenant=tenant,
                             target=agent, actor=actor, payload={"version": version.number})
    except IntegrityError as exc:
        raise ApplicationError("A rollout of this agent is already running.",
                               status_code=409, code="rollout_running") from exc
    return rollout


def rollout_advance(*, rollout: Rollout, why: str) -> Rollout:
    """The next step; at 100 % the candidate is published and the rollout completed."""
    following = [step for step in STEPS if step > rollout.percent]
    with transaction.atomic():
        rollout.percent = following[0] if following else 100
        rollout.history = [*rollout.history, _entry(rollout.percent, why)]
        rollout.step_started_at = timezone.now()
        if rollout.percent == 100:
            rollout.status = RolloutStatus.COMPLETED
            agent = Agent.objects.select_for_update().get(pk=rollout.agent_id)
            if rollout.candidate.origin != VersionOrigin.PUBLISHED:
                AgentVersion.objects.filter(pk=rollout.candidate_id).update(
                    origin=VersionOrigin.PUBLISHED)
            agent.published_version, agent.status = rollout.candidate, "live"
            agent.save(update_fields=["published_version", "status", "updated_at"])
        rollout.save(update_fields=["percent", "history", "step_started_at", "status",
                                    "updated_at"])
        audit_record(action="agent.rollout_advanced", tenant=rollout.tenant,
                     target=rollout.agent, payload={"version": rollout.candidate.number,
                                                    "percent": rollout.percent, "why": why})
    return rollout


def rollout_roll_back(*, rollout: Rollout, why: str, actor=None,
                      status: str = RolloutStatus.ROLLED_BACK) -> Rollout:
    """Every new call back on the stable version."""
    with transaction.atomic():
        rollout.status = status
        rollout.history = [*rollout.history, _entry(0, why)]
        rollout.save(update_fields=["status", "history", "updated_at"])
        audit_record(action=f"agent.rollout_{status}", tenant=rollout.tenant,
                     target=rollout.agent, actor=actor,
                     payload={"version": rollout.candidate.number, "why": why})
    return rollout


def _entry(percent: int, why: str) -> dict:
    return {"at": timezone.now().isoformat(), "percent": percent, "why": why}
