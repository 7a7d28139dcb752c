"""Calls the agent places: queued as a row, dialled through Twilio's REST API, then the same
media path as an inbound call (PROTOCOLS §1.7).

A queued call gets a provisional sid until Twilio names it. Its webhooks carry a signed token
of our call id in their URL, so a status callback that arrives before `calls.create` returned
still finds its call. Dialling is claimed first (`dial_claimed_at`, a conditional UPDATE): two
dialers never both place the same call, and a dialer that died between its claim and Twilio is
detected by the missing `initiated` callback and released after a lease (calls/dialer.py).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone

from agents.models import Agent, AgentStatus, PhoneNumber
from agents.services import normalize_e164
from aybiza.core.errors import ApplicationError
from aybiza.core.models import Tenant
from aybiza.core.tenancy import ensure_owned
from calls import twilio
from calls.call_variables import variables_clean, variables_seal
from calls.campaigns import campaign_attempt_ended
from calls.models import TERMINAL_STATUSES, Call, CallStatus, Direction
from calls.opening import prepare_call_after_commit
from calls.realtime.voicemail import MACHINE_RESULTS
from calls.services import call_start, call_update_status, event_record
from memory.models import Contact

logger = logging.getLogger(__name__)

PROVISIONAL_SID_PREFIX = "pending-"
_TOKEN_SALT = "aybiza.calls.outbound"
# Twilio keeps calling our URLs for as long as the call lasts; a token older than this is void.
TOKEN_MAX_AGE_S = 2 * 24 * 3600
# Status callbacks we ask for: `initiated` proves the dial reached Twilio (see the module doc).
STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]
ANSWERED_BY_VALUES = MACHINE_RESULTS | {"human", "unknown"}


# --- tokens and URLs ------------------------------------------------------------------------------
def outbound_token(call_id: int) -> str:
    return signing.dumps(call_id, salt=_TOKEN_SALT, compress=False)


def call_for_outbound_token(token: str) -> Call | None:
    """The outbound call a webhook URL's token names (the token is signed; Twilio's signature
    over the whole URL was checked before)."""
    try:
        call_id = int(signing.loads(token, salt=_TOKEN_SALT, max_age=TOKEN_MAX_AGE_S))
    except (signing.BadSignature, TypeError, ValueError):
        return None
    return (Call.objects.select_related("tenant", "agent", "campaign_contact")
            .filter(pk=call_id, direction=Direction.OUTBOUND).first())


def webhook_url(call: Call, kind: str) -> str:
    """`voice`, `status` or `amd`: where Twilio tells us about this call."""
    return twilio.public_url(f"/twilio/outbound/{kind}/?call={outbound_token(call.id)}")


def is_provisional(call: Call) -> bool:
    return call.call_sid.startswith(PROVISIONAL_SID_PREFIX)


# --- queueing -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OutboundTarget:
    to: str
    from_number: PhoneNumber


def outbound_target(*, tenant: Tenant, agent: Agent, to: str,
                    from_number: PhoneNumber | None) -> OutboundTarget:
    """Check whom and from where `agent` may call: a live agent, a valid callee, and a number of
    the tenant's (by default one bound to the agent)."""
    ensure_owned(tenant, agent)
    if agent.status != AgentStatus.LIVE:
        raise ApplicationError("The agent is not live: publish it before it places calls.",
                               extra={"fields": {"agent": ["Not live."]}})
    callee = normalize_e164(to, field="to")
    if from_number is None:
        from_number = agent.phone_numbers.filter(tenant=tenant).order_by("id").first()
        if from_number is None:
            raise ApplicationError("Give a `from_number`: the agent has no number of its own.",
                                   extra={"fields": {"from_number": ["Required."]}})
    ensure_owned(tenant, from_number)
    if callee == from_number.e164:
        raise ApplicationError("An agent cannot call its own number.",
                               extra={"fields": {"to": ["The caller's own number."]}})
    return OutboundTarget(to=callee, from_number=from_number)


def outbound_call_queue(*, tenant: Tenant, agent: Agent, target: OutboundTarget,
                        variables: dict | None = None, campaign_contact=None,
                        actor=None) -> Call:
    """A queued outbound call (not dialled yet: the dialer places it, calls/dialer.py)."""
    cleaned = variables_clean(variables)
    with transaction.atomic():
        call = call_start(
            tenant=tenant, phone_number=target.from_number, agent=agent,
            call_sid=PROVISIONAL_SID_PREFIX + uuid.uuid4().hex, from_number=target.from_number.e164,
            to_number=target.to, direction=Direction.OUTBOUND, status=CallStatus.QUEUED)
        call.variables_sealed = variables_seal(tenant, cleaned)
        call.campaign_contact = campaign_contact
        call.save(update_fields=["variables_sealed", "campaign_contact", "updated_at"])
        if campaign_contact is None:  # a campaign row's attempts are audited with the campaign
            event_record(call=call, type="outbound.queued",
                         payload={"by": getattr(actor, "pk", None)})
        # The callee hears the opening the moment they answer: made while the call is dialled.
        prepare_call_after_commit(call)
    return call


# --- dialling -------------------------------------------------------------------------------------
def outbound_dial(call: Call, *, now: datetime | None = None) -> bool:
    """Place a queued call through Twilio. Returns whether this dialer placed it (False: another
    claimed it first, or it was refused). Blocking HTTP: a worker's job, never the event loop."""
    now = now or timezone.now()
    claimed = Call.objects.filter(pk=call.pk, status=CallStatus.QUEUED,
                                  dial_claimed_at__isnull=True).update(dial_claimed_at=now)
    if not claimed:
        return False
    call.dial_claimed_at = now
    refusal = _refusal_before_dialling(call)
    if refusal:
        _fail(call, refusal)
        return False
    try:
        created = twilio.rest_client().calls.create(
            to=call.to_number, from_=call.from_number,
            url=webhook_url(call, "voice"), method="POST",
            status_callback=webhook_url(call, "status"), status_callback_method="POST",
            status_callback_event=STATUS_EVENTS,
            machine_detection="DetectMessageEnd", async_amd="true",
            async_amd_status_callback=webhook_url(call, "amd"),
            async_amd_status_callback_method="POST",
            timeout=settings.OUTBOUND_RING_TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001 (every failure is sorted below, none escapes)
        _dial_failed(call, exc)
        return False
    outbound_bind_sid(call, str(created.sid))
    return True


def _refusal_before_dialling(call: Call) -> str:
    """Why this call must not go out now (checked at dial time: lists change), or ""."""
    if not settings.TWILIO_ACCOUNT_SID:
        return "Twilio is not configured (TWILIO_ACCOUNT_SID): outbound calls need it."
    if call.contact_id and Contact.objects.filter(pk=call.contact_id, do_not_call=True).exists():
        return "The number is on the do-not-call list."
    return ""


def _dial_failed(call: Call, exc: Exception) -> None:
    """Twilio refused (a 4xx: the request is wrong and will stay wrong) → the call failed.
    Throttled (429) → released, dialled again by the next tick. Anything else (a 5xx, a dropped
    connection) may or may not have created the call: the claim stays, and the lease decides."""
    from twilio.base.exceptions import TwilioRestException

    status = exc.status if isinstance(exc, TwilioRestException) else None
    if status == 429:
        Call.objects.filter(pk=call.pk).update(dial_claimed_at=None)
        return
    if status is not None and 400 <= status < 500:
        _fail(call, f"Twilio refused the call: {exc.msg} (code {exc.code}).",
              detail={"http_status": status, "code": exc.code})
        return
    logger.warning("Dialling %s: outcome unknown (%s); waiting for Twilio's callback",
                   call.pk, type(exc).__name__)
    event_record(call=call, type="outbound.dial_uncertain",
                 payload={"error": f"{type(exc).__name__}: {str(exc)[:200]}"})


def _fail(call: Call, reason: str, *, detail: dict | None = None) -> None:
    event_record(call=call, type="outbound.refused", payload={"reason": reason, **(detail or {})})
    call_update_status(call=call, status=CallStatus.FAILED)
    campaign_attempt_ended(call)


def outbound_bind_sid(call: Call, call_sid: str) -> None:
    """Twilio named the call (in `calls.create`'s answer or a callback, whichever comes first)."""
    if not call_sid or not is_provisional(call):
        return
    if Call.objects.filter(pk=call.pk, call_sid__startswith=PROVISIONAL_SID_PREFIX).update(
            call_sid=call_sid[:64]):
        call.call_sid = call_sid[:64]
    else:
        call.refresh_from_db(fields=["call_sid"])


def dial_claims_release(*, now: datetime | None = None) -> int:
    """Queued calls claimed longer ago than the lease without a word from Twilio (no sid, no
    `initiated`): the dialer died before its request, so dialling them again calls nobody twice.
    Returns how many were released."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.OUTBOUND_DIAL_LEASE_S)
    return Call.objects.filter(
        direction=Direction.OUTBOUND, status=CallStatus.QUEUED,
        call_sid__startswith=PROVISIONAL_SID_PREFIX, dial_claimed_at__lt=cutoff,
    ).update(dial_claimed_at=None)


# --- what Twilio tells us -------------------------------------------------------------------------
def outbound_status(call: Call, *, call_sid: str, status: str, duration_seconds: int | None,
                    at: datetime | None) -> Call:
    outbound_bind_sid(call, call_sid)
    call = call_update_status(call=call, status=status, duration_seconds=duration_seconds, at=at)
    if call.status in TERMINAL_STATUSES:  # settles the row once (the stream may have ended it)
        campaign_attempt_ended(call)
    return call


def outbound_answered_by(call: Call, *, call_sid: str, answered_by: str) -> bool:
    """Twilio's machine detection result. Returns True when the live call must leave a
    voicemail (or hang up on a machine); the caller of this tells the call's session."""
    outbound_bind_sid(call, call_sid)
    if answered_by not in ANSWERED_BY_VALUES or call.answered_by:
        return False
    Call.objects.filter(pk=call.pk, answered_by="").update(answered_by=answered_by)
    call.answered_by = answered_by
    event_record(call=call, type="outbound.answered_by", payload={"answered_by": answered_by})
    return answered_by in MACHINE_RESULTS

