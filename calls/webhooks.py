"""Twilio webhooks: the voice URL (answer with a media stream), call and stream status."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from email.utils import parsedate_to_datetime

from django.http import HttpRequest, HttpResponse

from agents.models import AgentStatus
from agents.selectors import phone_number_route
from calls import twilio
from calls.consumers import draining
from calls.models import TERMINAL_STATUSES, CallStatus, Direction
from calls.selectors import call_for_twilio_callback
from calls.services import call_start, call_update_status, event_record_once

logger = logging.getLogger(__name__)
TWIML = "text/xml"
UNKNOWN_NUMBER_MESSAGE = "Sorry, this number is not in service. Goodbye."
NOT_LIVE_MESSAGE = "Sorry, this line is not taking calls yet. Goodbye."
DRAINING_MESSAGE = "Sorry, all our lines are busy for a moment. Please call again shortly."
DRAINING_REDIRECTS = 3


@twilio.signed_webhook
def voice(request: HttpRequest) -> HttpResponse:
    """A call arrived: bind it to the dialled number's agent and open a media stream."""
    if draining.is_set():  # shutting down: this server takes no new call
        return _elsewhere(request)
    call_sid = request.POST.get("CallSid", "")
    to_number = request.POST.get("To", "")
    number = phone_number_route(e164=to_number)
    if not call_sid or number is None or number.agent is None:
        logger.info("Call %s to unconfigured number %s", call_sid, to_number)
        return HttpResponse(twilio.twiml_say_and_hangup(UNKNOWN_NUMBER_MESSAGE), content_type=TWIML)
    if number.agent.status != AgentStatus.LIVE:  # a draft is edited, not yet answering callers
        logger.info("Call %s to %s: agent %s is not live", call_sid, to_number, number.agent_id)
        return HttpResponse(twilio.twiml_say_and_hangup(NOT_LIVE_MESSAGE), content_type=TWIML)
    # Twilio says "outbound-api" / "outbound-dial" for calls we place.
    direction = (Direction.INBOUND if request.POST.get("Direction", "inbound") == "inbound"
                 else Direction.OUTBOUND)
    call = call_start(
        tenant=number.tenant, phone_number=number, call_sid=call_sid,
        from_number=request.POST.get("From", "")[:32], to_number=to_number, direction=direction,
        status=request.POST.get("CallStatus", "") or CallStatus.RINGING,
    )
    twiml = twilio.twiml_connect_stream(call_id=call.id, tenant_id=call.tenant_id)
    return HttpResponse(twiml, content_type=TWIML)


def _elsewhere(request: HttpRequest) -> HttpResponse:
    """A call reached a server that is shutting down (SIGTERM; /readyz already fails, but the
    load balancer may not have noticed yet). The caller hears a second of silence while Twilio
    asks again through the load balancer, where a server that is up answers; after a few tries
    (a single server restarting) they hear that the line is busy instead of a dead line."""
    attempt = parse_duration(request.GET.get("attempt", "0")) or 0
    if attempt >= DRAINING_REDIRECTS:
        logger.warning("Call %s refused: shutting down and no other server answered",
                       request.POST.get("CallSid", ""))
        return HttpResponse(twilio.twiml_say_and_hangup(DRAINING_MESSAGE), content_type=TWIML)
    path = f"{request.path}?attempt={attempt + 1}"
    return HttpResponse(twilio.twiml_redirect(path=path), content_type=TWIML)


def parse_duration(value: str) -> int | None:
    """Twilio's CallDuration: whole seconds in ASCII digits. Anything else ("²", 5,000 digits)
    is ignored: the duration is then measured from the call's own timestamps."""
    return int(value) if re.fullmatch(r"[0-9]{1,9}", value) else None


@twilio.signed_webhook
def status(request: HttpRequest) -> HttpResponse:
    """Call status callback: status, duration and end time (idempotent)."""
    call = call_for_twilio_callback(call_sid=request.POST.get("CallSid", ""))
    if call is not None:
        call = call_update_status(
            call=call, status=request.POST.get("CallStatus", ""),
            duration_seconds=parse_duration(request.POST.get("CallDuration", "")),
            at=parse_timestamp(request.POST.get("Timestamp", "")),
        )
        caller_left_hold(call)
    return HttpResponse(status=204)


def caller_left_hold(call) -> None:
    """A call that ended while its caller waited for a warm transfer (calls/transfers.py)."""
    if call.status in TERMINAL_STATUSES and not call.outcome and call.transfers.exists():
        from calls.transfers import transfer_caller_left

        transfer_caller_left(call, client=twilio.rest_client())


@twilio.signed_webhook
def stream_status(request: HttpRequest) -> HttpResponse:
    """Media stream status callback: recorded as a call event (errors matter for debugging)."""
    call = call_for_twilio_callback(call_sid=request.POST.get("CallSid", ""))
    if call is not None:
        # "stream-started" / "stream-stopped" / "stream-error"; the column holds 40 characters.
        stream_event = request.POST.get("StreamEvent", "") or "unknown"
        event_record_once(
            call=call, type=f"stream.{stream_event}"[:40],
            payload={"stream_sid": request.POST.get("StreamSid", ""),
                     "error": request.POST.get("StreamError", "")},
        )
    return HttpResponse(status=204)


def parse_timestamp(value: str) -> datetime | None:
    """Twilio's RFC 2822 `Timestamp` ("Tue, 25 Nov 2025 12:00:00 +0000"), or None."""
    try:
        return parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        return None
