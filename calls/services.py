"""Writes for calls: created by the webhook, fed by the live session per turn, closed at the end.

The live session calls these through `database_sync_to_async`, at turn boundaries only.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.core.files.base import File
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from agents.models import Agent, PhoneNumber
from agents.versions import version_for_call
from aybiza.core import metrics as platform_metrics
from aybiza.core.events import EventType, publish_event
from aybiza.core.models import Tenant
from aybiza.core.tenancy import ensure_owned
from aybiza.core.text import storable
from calls.models import (
    TERMINAL_STATUSES,
    Call,
    CallEvent,
    CallStatus,
    Direction,
    Outcome,
    Role,
    Turn,
)
from compliance.services import audit_record
from memory.services import contact_for_caller, contact_name_heard

logger = logging.getLogger(__name__)


def call_start(
    *, tenant: Tenant, phone_number: PhoneNumber | None, call_sid: str, from_number: str,
    to_number: str, direction: str = Direction.INBOUND, status: str = CallStatus.RINGING,
    agent: Agent | None = None,
) -> Call:
    """Create the call for a webhook, or return the existing one: Twilio retries webhooks.

    `agent`: who talks (an outbound call's agent); by default the one the number answers with.
    """
    if status not in CallStatus.values:  # the row must hold one of the statuses we know
        status = CallStatus.RINGING
    existing = Call.objects.filter(call_sid=call_sid).first()
    if existing is not None:
        return existing
    agent = agent or (phone_number.agent if phone_number else None)
    version = version_for_call(agent, call_sid=call_sid) if agent is not None else None
    try:
        with transaction.atomic():
            contact = contact_for_caller(
                tenant=tenant,
                number=to_number if direction == Direction.OUTBOUND else from_number)
            call = Call.objects.create(
                tenant=tenant, phone_number=phone_number, agent=agent, agent_version=version,
                call_sid=call_sid, from_number=from_number, to_number=to_number,
                direction=direction, status=status, contact=contact,
            )
            audit_record(action="call.started", tenant=tenant, target=call)
            publish_event(tenant=tenant, type=EventType.CALL_STARTED, payload=_call_payload(call))
        platform_metrics.CALLS_STARTED.labels(direction=direction).inc()
        return call
    except IntegrityError:  # a concurrent retry won the race
        return Call.objects.get(call_sid=call_sid)


BROWSER_CALL_PREFIX = "BR"  # call_sid of a browser test call: never a Twilio CallSid (CA...)


def call_start_browser(*, tenant: Tenant, agent: Agent, actor=None) -> Call:
    """A browser test call of `agent`: it runs the agent's current draft (what the member is
    editing), is stored like a phone call and marked `direction=browser`."""
    ensure_owned(tenant, agent)
    version = version_for_call(agent, draft=True)
    call = Call.objects.create(
        tenant=tenant, agent=agent, agent_version=version, phone_number=None,
        call_sid=BROWSER_CALL_PREFIX + uuid.uuid4().hex, from_number="", to_number="",
        direction=Direction.BROWSER, status=CallStatus.RINGING)
    audit_record(action="call.started", tenant=tenant, target=call, actor=actor)
    publish_event(tenant=tenant, type=EventType.CALL_STARTED, payload=_call_payload(call))
    platform_metrics.CALLS_STARTED.labels(direction=Direction.BROWSER).inc()
    return call


EVAL_CALL_PREFIX = "EV"  # call_sid of an evaluation call: never a Twilio CallSid (CA...)


def call_start_eval(*, tenant: Tenant, agent: Agent, version) -> Call:
    """A call playing one evaluation scenario in audio mode against `version`: stored like a
    phone call (its transcript can be read), marked `direction=eval`."""
    ensure_owned(tenant, agent)
    call = Call.objects.create(
        tenant=tenant, agent=agent, agent_version=version, phone_number=None,
        call_sid=EVAL_CALL_PREFIX + uuid.uuid4().hex, from_number="", to_number="",
        direction=Direction.EVAL, status=CallStatus.RINGING)
    publish_event(tenant=tenant, type=EventType.CALL_STARTED, payload=_call_payload(call))
    return call


# Where each status sits in a call's life; callbacks may arrive out of order or twice.
_STATUS_RANK = {CallStatus.QUEUED: 0, CallStatus.RINGING: 1, CallStatus.IN_PROGRESS: 2,
                **{terminal: 3 for terminal in TERMINAL_STATUSES}}


def call_update_status(
    *, call: Call, status: str, duration_seconds: int | None = None,
    at: datetime | None = None,
) -> Call:
    """Apply a Twilio status callback. Idempotent and monotonic.

    A status never moves back (ringing after in-progress is ignored) and the first terminal status
    wins, so a late or repeated callback cannot un-terminate a call. Twilio's `CallDuration`, when
    given with a terminal status, replaces the stream-based estimate `call_finish` may have made.
    """
    if status not in CallStatus.values:
        return call
    fields: list[str] = []
    if _STATUS_RANK[status] > _STATUS_RANK[CallStatus(call.status)]:
        call.status = status
        fields.append("status")
    if status in TERMINAL_STATUSES and call.status in TERMINAL_STATUSES:
        if call.ended_at is None:
            call.ended_at = at or timezone.now()
            fields.append("ended_at")
        if duration_seconds is not None and call.duration_seconds != duration_seconds:
            call.duration_seconds = duration_seconds
            fields.append("duration_seconds")
    if fields:
        call.save(update_fields=[*fields, "updated_at"])
    return call


def call_stream_started(*, call: Call, stream_sid: str) -> bool:
    """The media stream opened: bind it to the call, once. Returns False when the call already
    has a stream: its token is single-use, so a second socket presenting it (a replay while the
    call is live, or after it ended) gets nothing. One conditional UPDATE: two sockets racing
    for the same call cannot both win."""
    now = timezone.now()
    status = (CallStatus.IN_PROGRESS if call.status in (CallStatus.QUEUED, CallStatus.RINGING)
              else call.status)
    claimed = Call.objects.filter(pk=call.pk, stream_sid="").update(
        stream_sid=stream_sid, stream_started_at=now, status=status, updated_at=now)
    if claimed:
        call.stream_sid, call.stream_started_at, call.status = stream_sid, now, status
    return bool(claimed)


def turn_save(*, call: Call, index: int, role: str, text: str, **fields: Any) -> Turn:
    """Persist one finished turn (idempotent on (call, index): a retry overwrites).

    The stored text is redacted (cards, SSNs, phone numbers, emails, dates of birth, names,
    street addresses); the original is kept only when the agent's policy says so, and then
    encrypted with the tenant's data key.
    Fields not given keep their stored values when the turn already exists.
    """
    return turns_save([{"call": call, "index": index, "role": role, "text": text, **fields}])[0]


def turns_save(turns: list[dict[str, Any]]) -> list[Turn]:
    """`turn_save` for many turns (of any calls) in as few statements as their fields allow.

    Each dict holds `turn_save`'s arguments. Turns giving the same fields share one
    INSERT … ON CONFLICT DO UPDATE statement (PostgreSQL and SQLite): the live calls of a process
    save their turns in batches this way, in the thread that holds the GIL against the event
    loop. A (call, index) given twice keeps the later values, as two saves in a row would.
    """
    merged: dict[tuple[int, int], dict[str, Any]] = {}
    for turn in turns:
        key = (turn["call"].pk, turn["index"])
        merged[key] = {**merged.get(key, {}), **turn}
    groups: dict[tuple[str, ...], list[Turn]] = {}
    saved: list[Turn] = []
    introductions: list[tuple[Call, str]] = []
    for arguments in merged.values():
        row, update_fields, introduced = _turn_row(**arguments)
        if row.role == Role.AGENT:
            platform_metrics.observe_turn_latencies(arguments)
        groups.setdefault(update_fields, []).append(row)
        saved.append(row)
        if introduced:
            introductions.append((arguments["call"], introduced))
    for update_fields, rows in groups.items():
        Turn.objects.bulk_create(rows, update_conflicts=True, unique_fields=["call", "index"],
                                 update_fields=[*update_fields, "updated_at"])
    for call, name in introductions:  # rare: a caller saying who they are
        contact_name_heard(call=call, name=name)
    # Live pages re-read the transcripts of these calls (ids only, never the text). One event
    # per tenant and batch, not per turn: the live calls' writer saves turns in batches, and an
    # event per turn cost every call a few Redis commands on the event loop (the bench saw it).
    calls_by_tenant: dict[int, set[int]] = {}
    for row in saved:
        calls_by_tenant.setdefault(row.tenant_id, set()).add(row.call_id)
    for tenant_id, call_ids in calls_by_tenant.items():
        publish_event(tenant=tenant_id, type=EventType.TURN_COMPLETED,
                      payload={"call_ids": sorted(call_ids)})
    return saved


# "my name is Ana", "this is Ana Lima", "I'm Ana": the words before a name the redactor found.
INTRODUCTION = re.compile(r"\b(?:my name is|my name's|this is|i am|i'm|call me|it's)\s*$",
                          re.IGNORECASE)


def _turn_row(*, call: Call, index: int, role: str, text: str,
              **fields: Any) -> tuple[Turn, tuple[str, ...], str]:
    """The redacted (and, by policy, encrypted) Turn, the fields its save sets, and the name a
    caller introduced themselves with ("" if none): the transcript keeps only [NAME], the
    caller's memory may keep the name itself (memory.services.contact_name_heard)."""
    from compliance.crypto import encrypt_text_for_tenant
    from compliance.redaction import redact

    text = storable(text)  # a recogniser's odd character must not make the call unreadable
    redacted = redact(text, public_names=_public_names(call, role))
    original = ""
    if redacted.findings and call.agent is not None and call.agent.keep_original_transcripts:
        original = encrypt_text_for_tenant(call.tenant, text, context=turn_context(call, index))
    values = {"role": role, "text": redacted.text,
              "redactions": sorted({finding.kind for finding in redacted.findings}),
              "text_encrypted": original, **fields}
    introduced = ""
    if role == Role.CALLER and call.contact_id is not None:
        introduced = next((text[f.start:f.end] for f in redacted.findings
                           if f.kind == "name" and INTRODUCTION.search(text[:f.start])), "")
    return (Turn(tenant_id=call.tenant_id, call=call, index=index, **values),
            tuple(sorted(values)), introduced)


def _public_names(call: Call, role: str) -> tuple[str, ...]:
    """The business's and its agent's names; in the agent's own turns also the words of the
    lines it was given to say (its greetings, its voicemail message: "this is Demo Dental
    calling"), without their `{{variables}}` — those are the callee's data. Not personal data
    where the agent says them; a caller who shares a name with the agent's persona still has it
    redacted. All cached on the call the live session holds, so no query per turn."""
    names = [call.tenant.name]
    agent = call.agent
    if agent is not None:
        names.append(agent.name)
        if role == Role.AGENT:
            names += [_TEMPLATE_VARIABLE.sub(" ", line) for line in (
                agent.greeting, agent.outbound_greeting, agent.voicemail_message) if line]
    return tuple(names)


_TEMPLATE_VARIABLE = re.compile(r"\{\{.*?\}\}")


def turn_context(call: Call, index: int) -> str:
    """Encryption context (authenticated data) of a turn's original text."""
    return f"turn:{call.call_sid}:{index}"


def event_record(
    *, call: Call, type: str, payload: dict[str, Any] | None = None, offset_ms: int | None = None
) -> CallEvent:
    """Append an event (barge-in, DTMF, stream status, error...) to the call's timeline."""
    platform_metrics.CALL_EVENTS.labels(type=type).inc()
    return CallEvent.objects.create(tenant_id=call.tenant_id, call=call, type=type,
                                    payload=payload or {}, offset_ms=offset_ms)


def events_record(events: list[dict[str, Any]]) -> list[CallEvent]:
    """`event_record` for many events (of any calls) in one INSERT."""
    rows = CallEvent.objects.bulk_create([
        CallEvent(tenant_id=event["call"].tenant_id, call=event["call"], type=event["type"],
                  payload=event.get("payload") or {}, offset_ms=event.get("offset_ms"))
        for event in events])
    for row in rows:
        platform_metrics.CALL_EVENTS.labels(type=row.type).inc()
        if row.type == PROVIDER_AUTH_FAILED:
            publish_event(tenant=row.tenant_id, type=EventType.PROVIDER_AUTH_FAILED,
                          payload={"call_id": row.call_id, **row.payload})
    return rows


# The call event a live call records when a vendor refuses our credentials.
PROVIDER_AUTH_FAILED = "provider_auth_failed"


def calls_reconcile(*, now: datetime | None = None, stale_after_s: int | None = None,
                    fetch_status=None) -> int:
    """Close calls still open in the database though they cannot be live any more: an outcome
    already recorded (the stream ended), or started longer ago than any call may last (a lost
    stream and a lost status callback). `fetch_status(call_sid)` asks Twilio for the truth
    when it is configured; otherwise the call is closed as `disconnected`. Returns calls closed.
    """
    from django.conf import settings

    now = now or timezone.now()
    stale_after_s = stale_after_s or settings.CALL_STALE_AFTER_S
    cutoff = now - timedelta(seconds=stale_after_s)
    open_calls = Call.objects.exclude(status__in=TERMINAL_STATUSES).filter(
        Q(outcome__gt="") | Q(started_at__lt=cutoff)).select_related("tenant")
    closed = 0
    for call in open_calls.iterator(chunk_size=200):
        twilio_status = None
        if fetch_status is not None and not call.outcome:
            try:
                twilio_status = fetch_status(call.call_sid)
            except Exception:  # Twilio unreachable: close it from our side
                logger.warning("Could not fetch the status of %s from Twilio", call.call_sid)
        if twilio_status is not None and twilio_status not in TERMINAL_STATUSES:
            continue  # Twilio says it is still going: a very long call, leave it
        if twilio_status is not None:
            call_update_status(call=call, status=twilio_status)
        call_finish(call=call, outcome=call.outcome or Outcome.DISCONNECTED)
        closed += 1
    return closed


def event_record_once(*, call: Call, type: str, payload: dict[str, Any]) -> CallEvent:
    """`event_record` unless the same event is already there (Twilio retries its callbacks)."""
    existing = CallEvent.objects.filter(call=call, type=type, payload=payload).first()
    return existing or event_record(call=call, type=type, payload=payload)


@transaction.atomic
def call_finish(
    *, call: Call, outcome: str, metrics: dict[str, Any] | None = None,
    recording: File | None = None, recording_name: str = "", cost: dict[str, Any] | None = None,
    append_recording: bool = False, later_part: bool = False,
) -> Call:
    """Close the call row with how it ended. Safe to call more than once (first outcome wins).
    `later_part`: this stream followed an earlier one of the call (a warm transfer came back):
    its cost adds to the earlier part's.

    The row and its `call.ended` audit event are written in one transaction: an auditor never
    sees a call that ended without the event, nor the event of a call still open.
    """
    call.refresh_from_db()
    fields = ["updated_at"]
    first_finish = not call.outcome
    if first_finish:
        call.outcome = outcome
        fields.append("outcome")
    now = timezone.now()
    if call.ended_at is None:
        call.ended_at = now
        fields.append("ended_at")
    if call.status not in TERMINAL_STATUSES:
        # Our side of the call is over: it must not stay "in progress" (an active call on every
        # dashboard) waiting for a status callback that may never come. A callback that does
        # come still sets Twilio's own duration (call_update_status).
        call.status = CallStatus.COMPLETED
        fields.append("status")
    if call.duration_seconds is None:
        start = call.stream_started_at or call.started_at
        call.duration_seconds = max(0, round((call.ended_at - start).total_seconds()))
        fields.append("duration_seconds")
    keep_audio = recording is not None and (not call.recording or append_recording)
    fields += call_results_keep(call=call, metrics=metrics, cost=cost,
                                audio=recording.read() if keep_audio else None,
                                name=recording_name or f"{call.call_sid}.wav",
                                add_cost=later_part)
    call.save(update_fields=fields)
    audit_record(action="call.ended", tenant=call.tenant, target=call)
    if first_finish:  # one call.completed per call, however many exit paths close it
        platform_metrics.CALLS_ENDED.labels(outcome=call.outcome, direction=call.direction).inc()
        platform_metrics.CALL_DURATION.observe(call.duration_seconds or 0)
        publish_event(tenant=call.tenant_id, type=EventType.CALL_COMPLETED,
                      payload={**_call_payload(call), "outcome": call.outcome,
                               "duration_seconds": call.duration_seconds})
        if call.campaign_contact_id is not None:  # its outcome decides the campaign row
            from calls.campaigns import campaign_attempt_ended

            transaction.on_commit(lambda: campaign_attempt_ended(call))
    return call


def call_results_keep(*, call: Call, metrics: dict[str, Any] | None, cost: dict[str, Any] | None,
                      audio: bytes | None, name: str, add_cost: bool = False) -> list[str]:
    """What a media stream produced — metrics, cost, its recording (after any earlier part's) —
    set on `call`, unsaved; the fields changed. A recording that cannot be stored is an event,
    never an error: the call's record matters more."""
    fields = []
    if metrics:
        call.metrics = {**call.metrics, **metrics}
        fields.append("metrics")
    if cost:
        if add_cost and call.cost:
            from calls.realtime.costs import combined_estimates

            cost = combined_estimates(call.cost, cost)
        call.cost = cost
        fields.append("cost")
    if audio:
        from calls.recordings import recording_attach

        try:
            recording_attach(call=call, audio=audio, name=name)
        except Exception:  # noqa: BLE001
            logger.exception("Could not store the recording of call %s", call.pk)
            event_record(call=call, type="recording.failed", payload={})
        else:
            fields.append("recording")
    return fields


def _call_payload(call: Call) -> dict[str, Any]:
    return {"call_id": call.pk, "call_sid": call.call_sid, "agent_id": call.agent_id,
            "direction": call.direction}


def call_transcript_accessed(*, call: Call, actor=None) -> None:
    """Record in the audit log that someone read this call's transcript."""
    audit_record(action="call.transcript_accessed", tenant=call.tenant, target=call,
                 actor=actor)
