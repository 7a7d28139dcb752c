"""Twilio's webhooks of a warm transfer (calls/transfers.py): the person's answer, their leg's
status, and the conference's `join` events. Each URL carries a signed token of the transfer,
covered by Twilio's signature like every webhook."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.views.decorators.http import require_GET

from calls import twilio
from calls.transfers import (
    brief_audio_wav,
    brief_twiml,
    transfer_bridged,
    transfer_dial_result,
    transfer_for_token,
    transfer_person_leg_status,
)
from calls.webhooks import TWIML

GONE_MESSAGE = "Sorry, the caller is no longer waiting. Goodbye."


@twilio.signed_webhook
def brief(request: HttpRequest) -> HttpResponse:
    """The person answered: the agent's summary, then the caller."""
    transfer = transfer_for_token(request.GET.get("t", ""))
    if transfer is None or transfer.state != "dialing":
        return HttpResponse(twilio.twiml_say_and_hangup(GONE_MESSAGE), content_type=TWIML)
    return HttpResponse(brief_twiml(transfer, request.GET.get("s", "")), content_type=TWIML)


@require_GET
def brief_audio(request: HttpRequest) -> HttpResponse:
    """The agent's spoken summary, fetched by Twilio's <Play>: the URL's signed token of the
    transfer is the credential (media fetches carry no webhook signature)."""
    transfer = transfer_for_token(request.GET.get("t", ""))
    audio = brief_audio_wav(transfer) if transfer is not None else None
    if audio is None:
        return HttpResponseNotFound("No such brief.")
    response = HttpResponse(audio, content_type="audio/wav")
    response["Cache-Control"] = "no-store"
    return response


@twilio.signed_webhook
def status(request: HttpRequest) -> HttpResponse:
    transfer = transfer_for_token(request.GET.get("t", ""))
    if transfer is not None and request.POST.get("CallSid") == transfer.person_call_sid:
        transfer_person_leg_status(transfer, status=request.POST.get("CallStatus", ""),
                                   client=twilio.rest_client())
    return HttpResponse(status=204)


@twilio.signed_webhook
def conference(request: HttpRequest) -> HttpResponse:
    transfer = transfer_for_token(request.GET.get("t", ""))
    if transfer is not None and request.POST.get("StatusCallbackEvent") == "participant-join":
        transfer_bridged(transfer, joined_call_sid=request.POST.get("CallSid", ""))
    return HttpResponse(status=204)


@twilio.signed_webhook
def dial_result(request: HttpRequest) -> HttpResponse:
    """A cold transfer's <Dial> ended (DialCallStatus): hang up, or back to the agent."""
    transfer = transfer_for_token(request.GET.get("t", ""))
    if transfer is None:
        return HttpResponse(twilio.twiml_hangup(), content_type=TWIML)
    return HttpResponse(transfer_dial_result(
        transfer, dial_status=request.POST.get("DialCallStatus", "")), content_type=TWIML)
