"""Transfers to a person. Warm: the caller waits on hold while the agent calls a person,
briefs them, and connects them. Cold (`transfer_cold_start`): Twilio dials the person from the
caller's call. Either way, when nobody answers, the caller goes back to the agent.

1. `transfer_warm_start` (the `transfer_call` tool, mode "warm"): the person's leg is placed
   (`calls.create`, its answer TwiML and status callbacks signed per transfer), then the caller's
   call is moved into a conference with hold music (`calls(sid).update(twiml=...)`), which ends
   our media stream. The session's conversation is kept, sealed, on the Transfer.
2. The stream's end parks the call (`call_park`): turns, metrics and the recording so far are
   saved, the call stays open.
3. The person answers: they hear the summary, then join the conference (webhook `brief`);
   Twilio's `join` event for their leg marks the transfer bridged and closes the call as
   `transferred` (`transfer_bridged`). The agent was never in the conference: it has left.
4. The person's leg ends without joining (busy, no answer, failed, or they hung up during the
   summary): the caller's call is given a new media stream whose token names the transfer
   (`transfer_person_leg_status`); the agent goes on with the same conversation, apologising
   (calls/realtime/loader.py). The caller hanging up on hold ends the call and cancels the
   person's leg (`transfer_caller_left`).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.core import signing
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse

from calls import twilio
from calls.models import Call, Outcome, Transfer, TransferState
from calls.realtime.call_control import TRANSFER_SUMMARY_MAX_CHARS
from calls.services import call_finish, call_results_keep, event_record
from compliance.crypto import (
    decrypt_for_tenant,
    decrypt_text_for_tenant,
    encrypt_for_tenant,
    encrypt_text_for_tenant,
)

logger = logging.getLogger(__name__)

_TOKEN_SALT = "aybiza.calls.transfer"
# Twilio fetches the brief when the person answers and posts their leg's callbacks until it ends.
TOKEN_MAX_AGE_S = 2 * 60 * 60
CONVERSATION_CONTEXT = "transfer.conversation"
BRIEF_CONTEXT = "transfer.brief"  # the summary's audio in the cache: what the caller said
DEFAULT_SUMMARY = "You have a caller transferred from the AYBIZA assistant."
# The person's leg ended with one of these before joining: the caller goes back to the agent.
PERSON_LEG_FINAL = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


class TransferNotStarted(Exception):
    """Twilio refused a step; nothing is left half-done (the message says what)."""


def transfer_token(transfer: Transfer) -> str:
    return signing.dumps(transfer.pk, salt=_TOKEN_SALT, compress=False)


def transfer_for_token(token: str) -> Transfer | None:
    try:
        transfer_id = int(signing.loads(token, salt=_TOKEN_SALT, max_age=TOKEN_MAX_AGE_S))
    except (signing.BadSignature, TypeError, ValueError):
        return None
    return Transfer.objects.select_related("call", "call__tenant").filter(pk=transfer_id).first()


def _url(transfer: Transfer, name: str) -> str:
    return twilio.public_url(reverse(name)) + f"?t={transfer_token(transfer)}"


def transfer_warm_start(*, call: Call, destination: str, target: str, caller_id: str,
                        summary: str, timeout_s: int, client: Any,
                        hold_music_url: str = "") -> Transfer:
    """Call the person and put the caller on hold. Raises TransferNotStarted (with Twilio's
    message) when either step is refused; the caller then stays with the agent."""
    from twilio.base.exceptions import TwilioException

    transfer = Transfer.objects.create(tenant=call.tenant, call=call, destination=destination,
                                       target=target)
    transfer.conference = f"aybiza-transfer-{transfer.pk}"
    brief = (summary or "").strip()[:TRANSFER_SUMMARY_MAX_CHARS] or DEFAULT_SUMMARY
    try:
        person = client.calls.create(
            to=target, from_=caller_id or (call.to_number if call.direction == "inbound"
                                           else call.from_number),
            url=_url(transfer, "twilio-transfer-brief") + "&" + _brief_query(brief),
            status_callback=_url(transfer, "twilio-transfer-status"),
            status_callback_event=["answered", "completed"], timeout=timeout_s)
    except TwilioException as exc:
        _fail(transfer, f"the person's line: {exc}")
        raise TransferNotStarted(_twilio_message(exc)) from exc
    transfer.person_call_sid = str(person.sid)
    transfer.save(update_fields=["conference", "person_call_sid", "updated_at"])
    try:
        client.calls(call.call_sid).update(twiml=twilio.twiml_hold_in_conference(
            conference=transfer.conference, hold_music_url=hold_music_url))
    except TwilioException as exc:
        _cancel_person(transfer, client)
        _fail(transfer, f"putting the caller on hold: {exc}")
        raise TransferNotStarted(_twilio_message(exc)) from exc
    event_record(call=call, type="transfer.dialing",
                 payload={"transfer_id": transfer.pk, "destination": destination})
    # While the person's phone rings: their brief in the agent's voice (here, in the tool's
    # worker, not in the webhook Twilio calls when they answer).
    _brief_audio_keep(transfer, brief)
    return transfer


def transfer_cold_start(*, call: Call, destination: str, target: str, caller_id: str,
                        timeout_s: int, client: Any) -> Transfer:
    """Twilio dials the person from the caller's call. If they are busy, do not answer or the
    call fails, Twilio asks `transfer_dial_result` what next: back to the agent."""
    from twilio.base.exceptions import TwilioException

    transfer = Transfer.objects.create(tenant=call.tenant, call=call, destination=destination,
                                       target=target, mode="cold")
    try:
        client.calls(call.call_sid).update(twiml=twilio.twiml_dial(
            target=target, caller_id=caller_id or None, timeout_s=timeout_s,
            action_url=_url(transfer, "twilio-transfer-dial-result")))
    except TwilioException as exc:
        _fail(transfer, f"dialling: {exc}")
        raise TransferNotStarted(_twilio_message(exc)) from exc
    event_record(call=call, type="transfer.dialing",
                 payload={"transfer_id": transfer.pk, "destination": destination,
                          "mode": "cold"})
    return transfer


def transfer_dial_result(transfer: Transfer, *, dial_status: str) -> str:
    """A cold transfer's <Dial> ended: the TwiML for what the caller's call does next."""
    if dial_status in ("completed", "answered"):  # they talked; the person's leg has ended
        _bridge(transfer)
        return twilio.twiml_hangup()
    if not _leave_dialing(transfer, TransferState.RETURNED, person_status=dial_status[:24]):
        return twilio.twiml_hangup()  # the caller hung up meanwhile, or Twilio asks again
    _returned(transfer, dial_status[:24])
    return _back_to_the_agent(transfer)


def _leave_dialing(transfer: Transfer, state: str, **fields: Any) -> bool:
    """The transfer's one way out of `dialing`: Twilio repeats callbacks and they race, and
    only the first one that moves it acts."""
    return bool(Transfer.objects.filter(pk=transfer.pk, state=TransferState.DIALING)
                .update(state=state, **fields))


def _bridge(transfer: Transfer) -> bool:
    if not _leave_dialing(transfer, TransferState.BRIDGED):
        return False
    event_record(call=transfer.call, type="transfer.bridged",
                 payload={"transfer_id": transfer.pk, "destination": transfer.destination})
    call_finish(call=transfer.call, outcome=Outcome.TRANSFERRED)
    return True


def _returned(transfer: Transfer, person_status: str) -> None:
    event_record(call=transfer.call, type="transfer.returned",
                 payload={"transfer_id": transfer.pk, "destination": transfer.destination,
                          "person_status": person_status})


def _back_to_the_agent(transfer: Transfer) -> str:
    """TwiML for the caller's call: a new media stream, its token naming the transfer."""
    call = transfer.call
    return twilio.twiml_connect_stream(call_id=call.pk, tenant_id=call.tenant_id,
                                       transfer_id=transfer.pk)


def _brief_query(summary: str) -> str:
    # The summary rides in the signed URL Twilio fetches (its signature covers the query), so
    # nothing personal is stored for it and nobody else can make our number say a thing.
    return "s=" + signing.dumps(summary, salt=_TOKEN_SALT + ".brief", compress=True)


def brief_twiml(transfer: Transfer, summary_token: str) -> str:
    """What the person hears on answering: the summary in the agent's own voice (synthesised
    when the transfer started, played from a signed link), or Twilio's voice reading it."""
    try:
        summary = str(signing.loads(summary_token, salt=_TOKEN_SALT + ".brief",
                                    max_age=TOKEN_MAX_AGE_S))
    except signing.BadSignature:
        summary = DEFAULT_SUMMARY
    audio_url = ""
    if cache.get(_brief_audio_key(transfer)) is not None:
        audio_url = _url(transfer, "twilio-transfer-brief-audio")
    return twilio.twiml_brief_and_join(summary=summary, audio_url=audio_url,
                                       conference=transfer.conference,
                                       events_url=_url(transfer, "twilio-transfer-conference"))


def _brief_audio_key(transfer: Transfer) -> str:
    return f"aybiza:transfer-brief:{transfer.pk}"


def _brief_audio_keep(transfer: Transfer, summary: str) -> bool:
    """Synthesise the summary with the agent's voice into the cache (a few seconds of audio,
    kept while the person may still be answering); False when the voice failed."""
    import asyncio

    from calls.realtime.agent_providers import tts_for_agent
    from calls.realtime.providers.tts.base import TTSOptions

    agent = transfer.call.agent
    if agent is None:
        return False

    async def speak(tts, options: TTSOptions) -> bytes:
        try:
            return b"".join([chunk async for chunk in tts.synthesize(summary, options)])
        finally:
            await tts.aclose()

    try:  # the provider is built here: it reads the tenant's credentials from the database
        audio = asyncio.run(speak(tts_for_agent(agent),
                                  TTSOptions(voice=agent.voice, language=agent.language)))
    except Exception:  # noqa: BLE001 - Twilio's own voice reads it instead
        logger.warning("Could not synthesise the brief of transfer %s", transfer.pk,
                       exc_info=True)
        return False
    if not audio:
        return False
    sealed = encrypt_for_tenant(transfer.call.tenant, audio, context=BRIEF_CONTEXT)
    cache.set(_brief_audio_key(transfer), sealed, TOKEN_MAX_AGE_S)
    return True


def brief_audio_wav(transfer: Transfer) -> bytes | None:
    """The agent's spoken summary as a WAV (16-bit, 8 kHz) for Twilio's <Play>, once."""
    import io
    import wave

    from calls.realtime.audio import ulaw_to_pcm16

    sealed = cache.get(_brief_audio_key(transfer))
    if sealed is None:
        return None
    ulaw = decrypt_for_tenant(transfer.call.tenant, sealed, context=BRIEF_CONTEXT)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(ulaw_to_pcm16(ulaw).tobytes())
    return buffer.getvalue()


def _twilio_message(exc: Exception) -> str:
    return str(getattr(exc, "msg", "") or exc)


def _fail(transfer: Transfer, why: str) -> None:
    logger.warning("Warm transfer %s could not start: %s", transfer.pk, why)
    transfer.state = TransferState.FAILED
    transfer.save(update_fields=["state", "updated_at"])


def _cancel_person(transfer: Transfer, client: Any) -> None:
    from twilio.base.exceptions import TwilioException

    if not transfer.person_call_sid:
        return
    try:  # still ringing: canceled; answered: completed
        client.calls(transfer.person_call_sid).update(status="canceled")
    except TwilioException:
        try:
            client.calls(transfer.person_call_sid).update(status="completed")
        except TwilioException:
            logger.warning("Could not end the person's leg of transfer %s", transfer.pk)


def transfer_waiting(call: Call) -> Transfer | None:
    return call.transfers.filter(state=TransferState.DIALING).order_by("-pk").first()


def transfer_conversation_keep(*, call: Call, messages: list[dict[str, Any]]) -> None:
    """The session's conversation, for the agent to go on with if the caller comes back."""
    transfer = transfer_waiting(call)
    if transfer is None or not messages:
        return
    transfer.conversation_sealed = encrypt_text_for_tenant(
        call.tenant, json.dumps(messages), context=CONVERSATION_CONTEXT)
    transfer.save(update_fields=["conversation_sealed", "updated_at"])


def transfer_conversation(transfer: Transfer) -> list[dict[str, Any]]:
    if not transfer.conversation_sealed:
        return []
    return json.loads(decrypt_text_for_tenant(transfer.call.tenant, transfer.conversation_sealed,
                                              context=CONVERSATION_CONTEXT))


@transaction.atomic
def call_park(*, call: Call, metrics: dict[str, Any] | None = None,
              recording_audio: bytes | None = None, cost: dict[str, Any] | None = None) -> None:
    """The stream ended because the caller went on hold: keep what the call has so far, and
    leave it open (the person's answer, or the caller's return, decides how it ends)."""
    call.refresh_from_db()
    fields = ["updated_at", *call_results_keep(call=call, metrics=metrics, cost=cost,
                                               audio=recording_audio,
                                               name=f"{call.call_sid}.wav")]
    call.save(update_fields=fields)
    event_record(call=call, type="transfer.on_hold", payload={})


def transfer_bridged(transfer: Transfer, *, joined_call_sid: str) -> bool:
    """Twilio's `join` for the conference: the person's leg joining bridges the transfer."""
    return joined_call_sid == transfer.person_call_sid and _bridge(transfer)


def transfer_person_leg_status(transfer: Transfer, *, status: str, client: Any) -> None:
    """The person's leg ended: before joining, the caller goes back to the agent."""
    if status not in PERSON_LEG_FINAL:
        return
    if not _leave_dialing(transfer, TransferState.RETURNED, person_status=status):
        return
    from twilio.base.exceptions import TwilioException

    try:
        client.calls(transfer.call.call_sid).update(twiml=_back_to_the_agent(transfer))
    except TwilioException as exc:  # the caller left meanwhile
        logger.info("Caller of transfer %s is gone: %s", transfer.pk, exc)
        Transfer.objects.filter(pk=transfer.pk).update(state=TransferState.ABANDONED)
        call_finish(call=transfer.call, outcome=Outcome.CALLER_HUNG_UP)
        return
    _returned(transfer, status)


def transfer_caller_left(call: Call, *, client: Any) -> None:
    """The caller hung up while on hold: the call ends, the person's phone stops ringing."""
    transfer = transfer_waiting(call)
    if transfer is None:
        return
    if _leave_dialing(transfer, TransferState.ABANDONED):
        _cancel_person(transfer, client)
        event_record(call=call, type="transfer.abandoned", payload={"transfer_id": transfer.pk})
        call_finish(call=call, outcome=Outcome.CALLER_HUNG_UP)


def transfer_resume_claim(*, call: Call, transfer_id: int, stream_sid: str) -> Transfer | None:
    """A stream taking the caller back: once per returned transfer of this call."""
    claimed = Transfer.objects.filter(
        pk=transfer_id, call=call, state=TransferState.RETURNED, resumed_stream_sid="",
    ).update(resumed_stream_sid=stream_sid)
    if not claimed:
        return None
    Call.objects.filter(pk=call.pk).update(stream_sid=stream_sid)
    call.stream_sid = stream_sid
    return Transfer.objects.select_related("call__tenant").get(pk=transfer_id)


def apology(transfer: Transfer) -> str:
    why = {"busy": "is on another call", "no-answer": "didn't pick up"}.get(
        transfer.person_status, "isn't available right now")
    return (f"I'm sorry, {transfer.destination} {why}, so I couldn't put you through. "
            "I'm still here: what else can I do for you?")
