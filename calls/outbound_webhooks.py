"""Twilio's webhooks for calls the agent places: the answer (a media stream, like an inbound
call), status callbacks, and the asynchronous answering-machine result.

Each URL carries a signed token of our call id (calls/outbound.py): Twilio's signature covers
it, so a callback can only name the call it was issued for.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.http import HttpRequest, HttpResponse

from calls import twilio
from calls.models import TERMINAL_STATUSES
from calls.outbound import (
    call_for_outbound_token,
    outbound_answered_by,
    outbound_bind_sid,
    outbound_status,
)
from calls.tasks import dialer_kick
from calls.webhooks import TWIML, caller_left_hold, parse_duration, parse_timestamp

logger = logging.getLogger(__name__)
ENDED_MESSAGE = "Goodbye."


@twilio.signed_webhook
def voice(request: HttpRequest) -> HttpResponse:
    """The callee answered: open the media stream to the call's agent."""
    call = call_for_outbound_token(request.GET.get("call", ""))
    if call is None or call.agent is None or call.status in TERMINAL_STATUSES:
        return HttpResponse(twilio.twiml_say_and_hangup(ENDED_MESSAGE), content_type=TWIML)
    outbound_bind_sid(call, request.POST.get("CallSid", ""))
    return HttpResponse(twilio.twiml_connect_stream(call_id=call.id, tenant_id=call.tenant_id),
                        content_type=TWIML)


@twilio.signed_webhook
def status(request: HttpRequest) -> HttpResponse:
    call = call_for_outbound_token(request.GET.get("call", ""))
    if call is not None:
        call = outbound_status(
            call, call_sid=request.POST.get("CallSid", ""),
            status=request.POST.get("CallStatus", ""),
            duration_seconds=parse_duration(request.POST.get("CallDuration", "")),
            at=parse_timestamp(request.POST.get("Timestamp", "")))
        caller_left_hold(call)
        if call.status in TERMINAL_STATUSES:
            dialer_kick()  # a line is free: the next row may be called
    return HttpResponse(status=204)


@twilio.signed_webhook
def answering_machine(request: HttpRequest) -> HttpResponse:
    """Async AMD's result. A machine: the live call leaves its voicemail (or hangs up)."""
    call = call_for_outbound_token(request.GET.get("call", ""))
    if call is not None and outbound_answered_by(
            call, call_sid=request.POST.get("CallSid", ""),
            answered_by=request.POST.get("AnsweredBy", "")):
        # The call's consumer joined this group when its stream started; if the stream has not
        # started yet, the loader reads `answered_by` from the row instead.
        async_to_sync(get_channel_layer().group_send)(
            twilio.live_call_group(call.id),
            {"type": "call.answered_by", "answered_by": call.answered_by})
    return HttpResponse(status=204)
