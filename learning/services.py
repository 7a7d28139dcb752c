"""Post-call analysis: run once per call after it ends, stored, fed into the caller's memory,
and announced as `call.analyzed`. Idempotent: a call already analysed is returned as it is."""

from __future__ import annotations

import json
import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from aybiza.core.errors import ApplicationError
from aybiza.core.events import EventType, publish_event
from calls.models import TEST_DIRECTIONS, Call
from compliance.crypto import encrypt_text_for_tenant
from compliance.redaction import redact
from compliance.services import audit_record
from learning.analysers import analyse
from learning.models import AnalysisStatus, CallAnalysis
from learning.record import Analysis, CallRecord, call_record
from learning.selectors import EXTRACTED_CONTEXT
from memory.services import memory_remember

logger = logging.getLogger(__name__)



def call_analyze(*, call_id: int) -> CallAnalysis | None:
    """Analyse a finished call (None when it does not exist or has not ended)."""
    call = (Call.objects.select_related("tenant", "agent", "contact")
            .filter(pk=call_id).first())
    if call is None or not call.outcome:
        return None
    existing = CallAnalysis.objects.filter(call=call).first()
    if existing is not None:
        return existing
    record = call_record(call)
    analysis, error = analyse(call.agent, record)
    try:
        with transaction.atomic():
            row = CallAnalysis.objects.create(
                tenant=call.tenant, call=call, status=AnalysisStatus.DONE,
                analyzer=analysis.analyzer, summary=redact(analysis.summary).text,
                success=analysis.success, success_reason=redact(analysis.success_reason).text,
                extracted_sealed=(encrypt_text_for_tenant(
                    call.tenant, json.dumps(analysis.extracted), context=EXTRACTED_CONTEXT)
                    if analysis.extracted else ""),
                extraction_error=analysis.extraction_error, sentiment=analysis.sentiment,
                topics=analysis.topics, error=error[:500])
            _remember(call, record, analysis, row)
            publish_event(tenant=call.tenant, type=EventType.CALL_ANALYZED, payload={
                "call_id": call.pk, "analysis_id": row.pk, "success": row.success,
                "sentiment": row.sentiment, "analyzer": row.analyzer})
    except IntegrityError:  # a concurrent delivery of the same task stored it first
        return CallAnalysis.objects.get(call=call)
    return row


def _remember(call: Call, record: CallRecord, analysis: Analysis, row: CallAnalysis) -> None:
    """What the next call from this caller should know: their last actions and what this call
    was about — unless the agent or the caller turned memory off. (Their name is kept as they
    say it, during the call: calls.services.turns_save.)"""
    contact = call.contact
    if contact is None or contact.do_not_remember or not (call.agent and
                                                           call.agent.remember_callers):
        return
    day = timezone.localtime(call.started_at).strftime("%B %-d")
    for run in record.tools:
        if run.succeeded and run.arguments:
            details = ", ".join(f"{key.replace('_', ' ')} {value}"
                                for key, value in run.arguments.items() if value not in ("", None))
            memory_remember(tenant=call.tenant, contact=contact, key=f"last_{run.name}"[:64],
                            value=f"{details} (asked on {day})"[:500], source_call=call)
    if row.summary:
        memory_remember(tenant=call.tenant, contact=contact, key="last_call",
                        value=f"{day}: {row.summary}"[:500], source_call=call)


# --- evaluation suites ------------------------------------------------------------------------
MAX_SCENARIOS_PER_AGENT = 50


def scenario_create(*, tenant, agent, name: str, checks, caller_lines=(), persona: str = "",
                    goal: str = "", branches=(), actor=None):
    """Add a scenario to the agent's evaluation suite (validated: a clear 400 otherwise): fixed
    caller lines, or a simulated caller's persona and goal (with scripted branches for offline
    runs)."""
    from aybiza.core.tenancy import ensure_owned
    from learning.evaluation import checks_problem
    from learning.models import EvalScenario
    from learning.simulated_caller import simulated_problem

    ensure_owned(tenant, agent)
    caller_lines, branches = list(caller_lines or []), list(branches or [])
    simulated = not caller_lines and isinstance(goal, str) and bool(goal.strip())
    errors = {**checks_problem(caller_lines, checks, simulated=simulated),
              **simulated_problem(caller_lines, persona, goal, branches)}
    if not isinstance(name, str) or not 0 < len(name.strip()) <= 120:
        errors["name"] = ["1 to 120 characters."]
    if errors:
        raise ApplicationError("Invalid scenario.", extra={"fields": errors})
    if EvalScenario.objects.filter(tenant=tenant, agent=agent).count() >= \
            MAX_SCENARIOS_PER_AGENT:
        raise ApplicationError(f"At most {MAX_SCENARIOS_PER_AGENT} scenarios per agent.")
    scenario = EvalScenario.objects.create(
        tenant=tenant, agent=agent, name=name.strip(), caller_lines=caller_lines, checks=checks,
        persona=persona.strip() if simulated else "", goal=goal.strip() if simulated else "",
        branches=branches if simulated else [])
    audit_record(action="eval.scenario_created", tenant=tenant, target=scenario, actor=actor)
    return scenario


def scenario_delete(*, tenant, scenario, actor=None) -> None:
    from aybiza.core.tenancy import ensure_owned

    ensure_owned(tenant, scenario)
    audit_record(action="eval.scenario_deleted", tenant=tenant, target=scenario, actor=actor)
    scenario.delete()


def evaluation_run(*, tenant, agent, version_number: int | None = None, actor=None,
                   mode: str = "text", wait: bool = False):
    """Run the agent's suite against a published version (by number), or the draft as it is
    now (a draft snapshot, as a test call records). Stored, audited, returned. Text mode runs
    here; an audio run (its scenarios as calls, in real time) is returned `running` and played
    by a worker (`learning.run_evaluation`; a thread of this process in the embedded default),
    or here with `wait` (a command)."""
    from agents.versions import version_for_call, version_get
    from aybiza.core.tenancy import ensure_owned
    from learning.evaluation import suite_run
    from learning.models import EvalMode, EvalRun, EvalRunStatus

    ensure_owned(tenant, agent)
    if mode not in EvalMode.values:
        raise ApplicationError(f"Mode is one of {', '.join(EvalMode.values)}.",
                               extra={"fields": {"mode": ["Not a mode."]}})
    if not agent.eval_scenarios.exists():
        raise ApplicationError(f"{agent.name} has no evaluation scenarios yet.",
                               extra={"fields": {"scenarios": ["Add one first."]}})
    version = (version_get(tenant=tenant, agent=agent, number=version_number)
               if version_number is not None else version_for_call(agent, draft=True))
    if mode == EvalMode.AUDIO:
        run = EvalRun.objects.create(tenant=tenant, agent=agent, version=version,
                                     mode=EvalMode.AUDIO, status=EvalRunStatus.RUNNING)
        audit_record(action="eval.started", tenant=tenant, target=run, actor=actor,
                     payload={"version": version.number, "mode": EvalMode.AUDIO})
        if wait:
            return evaluation_play(run_id=run.pk)
        # learning.tasks hands it to a worker (or a thread of this process).
        publish_event(tenant=tenant, type=EventType.EVALUATION_STARTED, payload=_run_payload(run))
        return run
    outcome = suite_run(agent=agent, version=version)
    return _evaluation_store(EvalRun(tenant=tenant, agent=agent, version=version), outcome,
                             actor=actor)


def evaluation_play(*, run_id: int):
    """Play an audio run's scenarios as calls and store the verdicts (a worker's task; a run
    that already finished is left as it is, so a redelivered task does nothing)."""
    from learning.audio_eval import suite_run_audio
    from learning.models import EvalRun, EvalRunStatus

    run = EvalRun.objects.select_related("tenant", "agent", "version").filter(
        pk=run_id, status=EvalRunStatus.RUNNING).first()
    if run is None:
        return None
    try:
        if run.version is None:
            raise ApplicationError("The version under test was deleted.")
        outcome = suite_run_audio(agent=run.agent, version=run.version)
    except Exception as exc:
        logger.exception("Audio evaluation %s failed", run_id)
        run.status, run.error = EvalRunStatus.FAILED, str(exc)[:500]
        run.save(update_fields=["status", "error", "updated_at"])
        publish_event(tenant=run.tenant, type=EventType.EVALUATION_FINISHED,
                      payload=_run_payload(run))
        return run
    return _evaluation_store(run, outcome, actor=None)


def _evaluation_store(run, outcome: dict, *, actor):
    from learning.models import EvalRunStatus

    run.passed = sum(1 for r in outcome["results"] if r["passed"])
    run.failed = len(outcome["results"]) - run.passed
    run.results, run.duration_ms = outcome["results"], outcome["duration_ms"]
    run.status = EvalRunStatus.DONE
    run.save()
    audit_record(action="eval.run", tenant=run.tenant, target=run, actor=actor,
                 payload={"version": run.version.number if run.version else None,
                          "mode": run.mode, "passed": run.passed, "failed": run.failed})
    publish_event(tenant=run.tenant, type=EventType.EVALUATION_FINISHED,
                  payload=_run_payload(run))
    return run


def _run_payload(run) -> dict:
    return {"run_id": run.pk, "agent_id": run.agent_id,
            "version": run.version.number if run.version else None, "mode": run.mode,
            "status": run.status, "passed": run.passed, "failed": run.failed}


def replay_run(*, tenant, agent, call_ids: list[int] | None = None,
               version_number: int | None = None, actor=None, audio: bool = False) -> list:
    """Replay the agent's chosen calls (default: its RECENT_CALLS latest finished ones) against
    a version by number or the draft as it is now; audited, not stored. `audio`: recorded calls
    with their caller's own voice through the media pipeline (real time: a command's)."""
    from agents.versions import version_for_call, version_get
    from aybiza.core.tenancy import ensure_owned
    from learning.replay import MAX_CALLS, RECENT_CALLS, replay_calls

    ensure_owned(tenant, agent)
    version = (version_get(tenant=tenant, agent=agent, number=version_number)
               if version_number is not None else version_for_call(agent, draft=True))
    finished = Call.objects.filter(tenant=tenant, agent=agent).exclude(outcome="")
    if call_ids is None:
        calls = list(finished.exclude(direction__in=TEST_DIRECTIONS)
                     .order_by("-started_at", "-id")[:RECENT_CALLS])
    else:
        if len(call_ids) > MAX_CALLS:
            raise ApplicationError(f"Replay at most {MAX_CALLS} calls at a time.",
                                   extra={"field": "calls"})
        calls = list(finished.filter(pk__in=call_ids).order_by("started_at", "id"))
        missing = set(call_ids) - {call.pk for call in calls}
        if missing:
            raise ApplicationError("Calls not found among this agent's finished calls: "
                                   f"{', '.join(map(str, sorted(missing)))}.",
                                   extra={"field": "calls"})
    if audio:
        from learning.audio_replay import replay_calls_audio

        replays = replay_calls_audio(agent=agent, version=version, calls=calls, actor=actor)
    else:
        replays = replay_calls(agent=agent, version=version, calls=calls)
    audit_record(action="replay.run", tenant=tenant, target=agent, actor=actor,
                 payload={"version": version.number, "calls": [c.pk for c in calls],
                          "audio": [r.call_id for r in replays if r.mode == "audio"],
                          "differing": sum(1 for r in replays if r.differences)})
    return replays


def suggestion_accept(*, tenant, suggestion, answer: str | None = None, actor=None):
    """Accept a suggestion: a knowledge entry joins the agent's draft (with `answer`, or the
    proposed one); a prompt addition (`answer`, or the drafted one) is appended to the draft's
    instructions; a turn-taking change is applied to the draft; a failing tool or a slow stage
    without a change is acknowledged. Callers hear it once the draft is published (through its
    gates)."""
    from agents.services import agent_update, knowledge_add
    from learning.models import SuggestionKind, SuggestionStatus

    with transaction.atomic():
        suggestion = _still_open(tenant, suggestion)
        if suggestion.kind == SuggestionKind.KNOWLEDGE_ENTRY:
            text = (answer if answer is not None else suggestion.proposal.get("answer", ""))
            text = (text or "").strip()
            if not text:
                raise ApplicationError("Write the answer the agent should give.",
                                       extra={"field": "answer"})
            knowledge_add(tenant=tenant, agent=suggestion.agent,
                          question=suggestion.proposal["question"], answer=text)
            suggestion.proposal = {**suggestion.proposal, "answer": text}
        elif suggestion.kind == SuggestionKind.PROMPT_ADDITION:
            text = (answer if answer is not None
                    else suggestion.proposal.get("prompt_addition", "")).strip()
            if not text:
                raise ApplicationError("Write what to add to the agent's instructions.",
                                       extra={"field": "answer"})
            agent = suggestion.agent
            prompt = f"{agent.system_prompt.rstrip()}\n\n{text}".strip()
            agent_update(tenant=tenant, agent=agent, actor=actor, system_prompt=prompt)
            suggestion.proposal = {**suggestion.proposal, "prompt_addition": text}
        elif (suggestion.kind == SuggestionKind.TURN_TAKING
              and suggestion.proposal.get("end_of_turn_silence_ms")):
            agent_update(tenant=tenant, agent=suggestion.agent, actor=actor,
                         end_of_turn_silence_ms=suggestion.proposal["end_of_turn_silence_ms"])
        return _decide(tenant, suggestion, SuggestionStatus.ACCEPTED, actor)


def suggestion_dismiss(*, tenant, suggestion, actor=None):
    from learning.models import SuggestionStatus

    with transaction.atomic():
        return _decide(tenant, _still_open(tenant, suggestion), SuggestionStatus.DISMISSED,
                       actor)


def _still_open(tenant, suggestion):
    """The suggestion, locked for its decision; a 409 when it was already decided."""
    from aybiza.core.tenancy import ensure_owned
    from learning.models import Suggestion, SuggestionStatus

    ensure_owned(tenant, suggestion)
    suggestion = Suggestion.objects.select_for_update().select_related("agent").get(
        pk=suggestion.pk)
    if suggestion.status != SuggestionStatus.OPEN:
        raise ApplicationError(f"This suggestion was already {suggestion.status}.",
                               status_code=409, code="decided")
    return suggestion


def _decide(tenant, suggestion, status: str, actor):
    suggestion.status, suggestion.decided_at = status, timezone.now()
    suggestion.save(update_fields=["status", "decided_at", "proposal", "updated_at"])
    audit_record(action=f"suggestion.{status}", tenant=tenant, target=suggestion, actor=actor,
                 payload={"kind": suggestion.kind, "agent": suggestion.agent_id})
    return suggestion


def learning_run_now(*, tenant, agent, actor=None):
    """Run the learning job for one agent now (API, command); the nightly beat runs it for all."""
    from aybiza.core.tenancy import ensure_owned
    from learning.suggestions import learning_run

    ensure_owned(tenant, agent)
    run = learning_run(tenant=tenant, agent=agent)
    audit_record(action="learning.run", tenant=tenant, target=agent, actor=actor,
                 payload={"calls_read": run.calls_read, "suggestions": run.suggestions})
    return run
