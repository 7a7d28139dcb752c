"""Warm transfers against the Twilio REST fake (the twilio SDK as the client) and Twilio's signed
callbacks: the caller on hold in a conference, the person briefed then bridged, and the caller
back with the agent — the same call and conversation — when nobody answers."""

from __future__ import annotations

import io
import wave
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone
from twilio.request_validator import RequestValidator

from calls.models import Call, CallEvent, Outcome, Transfer, TransferState
from calls.realtime.persistence import _close_call
from calls.services import call_start, turn_save
from calls.tests.session_harness import SILENCE, SPEECH
from calls.tests.test_consumer import (  # noqa: F401 - the consumer tests' wiring fixture
    PUBLIC,
    _wiring,
    connect,
    refreshed,
    turns_of,
)
from calls.transfers import transfer_conversation_keep
from tools.executor import execute
from tools.models import ExecutionStatus
from tools.services import tool_create

PERSON = "+15550103333"
CALLER = "+15557654321"


@pytest.fixture
def twilio(fake_twilio_rest, settings):
    fake_twilio_rest.place_calls = False  # the tests play Twilio's callbacks themselves
    settings.PUBLIC_BASE_URL = PUBLIC
    settings.TWILIO_AUTH_TOKEN = fake_twilio_rest.auth_token
    return fake_twilio_rest


@pytest.fixture
def live(agent, phone_number, twilio) -> Call:
    agent.stt_provider, agent.llm_provider, agent.tts_provider = "scripted", "instant", "words"
    agent.recording_disclosure, agent.recording_mode = "", "on"
    agent.end_of_turn_silence_ms, agent.barge_in_min_speech_ms = 200, 120
    agent.provider_options = {"stt": {"lines": ["what are your hours"]},
                              "llm": {"reply": "We open at nine and close at five."}}
    agent.save()
    sid = twilio.add_call(status="in-progress", to=phone_number.e164, from_=CALLER)
    return call_start(tenant=agent.tenant, phone_number=phone_number, call_sid=sid,
                      from_number=CALLER, to_number=phone_number.e164)


def _warm_tool(tenant, **config):
    return tool_create(tenant=tenant, kind="builtin", builtin_name="transfer_call",
                       builtin_config={"destinations": {"billing": PERSON}, "mode": "warm",
                                       **config})


def _start(live) -> Transfer:
    outcome = execute(tool=_warm_tool(live.tenant), call=live,
                      arguments={"summary": "Ana Lima, a question about invoice 1042."})
    assert outcome.status == ExecutionStatus.SUCCEEDED, outcome
    return Transfer.objects.get(call=live)


def _post(client, url: str, params: dict[str, str]):
    """A webhook as Twilio sends it: form-encoded, signed over the public URL."""
    signature = RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(url, params)
    return client.post(url.removeprefix(PUBLIC), urlencode(params),
                       content_type="application/x-www-form-urlencoded",
                       headers={"X-Twilio-Signature": signature})


def _handshake() -> list[tuple[bytes, bytes]]:
    from calls import twilio as twilio_module

    signature = RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(
        twilio_module.media_stream_url(), {})
    return [(b"x-twilio-signature", signature.encode())]


def _wav(seconds: float) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as audio:
        audio.setnchannels(2)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(b"\1\0" * 2 * int(8000 * seconds))
    return buffer.getvalue()


@pytest.mark.django_db
def test_the_person_is_called_first_then_the_caller_waits_on_hold(live, twilio, client):
    transfer = _start(live)
    # then Twilio was asked, in this order, to call the person and to move the caller
    creates = [r for r in twilio.requests if r.resource in ("calls.create", "calls.update")]
    assert [r.resource for r in creates] == ["calls.create", "calls.update"]
    dial, hold = creates
    assert dial.value("To") == PERSON and dial.value("From") == live.to_number
    assert dial.value("Timeout") == "20"
    assert dial.value("Url").startswith(f"{PUBLIC}/twilio/transfer/brief/?t=")
    assert dial.value("StatusCallback").startswith(f"{PUBLIC}/twilio/transfer/status/?t=")
    assert dial.form["StatusCallbackEvent"] == ["answered", "completed"]
    assert hold.sid == live.call_sid
    conference = ET.fromstring(hold.value("Twiml")).find("./Dial/Conference")
    assert conference.text == transfer.conference == f"aybiza-transfer-{transfer.pk}"
    assert conference.get("startConferenceOnEnter") == "false"
    assert conference.get("endConferenceOnExit") == "true"
    assert transfer.state == TransferState.DIALING and transfer.person_call_sid
    assert CallEvent.objects.filter(call=live, type="transfer.dialing").exists()
    # when the person answers, Twilio fetches what they hear: the summary in the agent's own
    # voice (synthesised while their phone rang), then the caller
    brief = _post(client, dial.value("Url"), {"CallSid": transfer.person_call_sid})
    assert brief.status_code == 200 and brief["Content-Type"] == "text/xml"
    root = ET.fromstring(brief.content)
    play = root.find("./Play").text
    assert play.startswith(f"{PUBLIC}/twilio/transfer/brief/audio/?t=")
    audio = client.get(play.removeprefix(PUBLIC))
    assert audio.status_code == 200 and audio["Content-Type"] == "audio/wav"
    with wave.open(io.BytesIO(audio.content)) as spoken:
        assert spoken.getframerate() == 8000 and spoken.getnframes() > 0
    assert client.get("/twilio/transfer/brief/audio/?t=made-up").status_code == 404
    joined = root.find("./Dial/Conference")
    assert joined.text == transfer.conference
    assert joined.get("startConferenceOnEnter") == "true"
    assert joined.get("statusCallbackEvent") == "join"
    assert joined.get("statusCallback").startswith(f"{PUBLIC}/twilio/transfer/conference/?t=")


@pytest.mark.django_db
def test_without_the_agents_voice_twilio_reads_the_brief(live, twilio, client):
    from django.core.cache import cache

    transfer = _start(live)
    cache.clear()  # the agent's voice failed (or its audio is gone)
    url = twilio.last("calls.create").value("Url")
    root = ET.fromstring(_post(client, url, {"CallSid": transfer.person_call_sid}).content)
    assert root.find("./Play") is None
    assert root.find("./Say").text == "Ana Lima, a question about invoice 1042."
    # an unsigned request is refused; a changed summary token falls back to a neutral line
    assert client.post(url.removeprefix(PUBLIC), {}).status_code == 403
    altered = url[:-3] + "xyz"
    root = ET.fromstring(_post(client, altered, {"CallSid": transfer.person_call_sid}).content)
    assert "Ana" not in root.find("./Say").text


@pytest.mark.django_db
def test_the_person_joining_bridges_the_call_and_the_agent_leaves(live, twilio, client):
    transfer = _start(live)
    _close_call(live, Outcome.TRANSFERRED, {"turns": 2}, None, None)  # the stream ended
    live.refresh_from_db()
    assert not live.outcome and live.ended_at is None  # on hold: the call goes on
    brief = _post(client, twilio.last("calls.create").value("Url"), {})
    events_url = ET.fromstring(brief.content).find("./Dial/Conference").get("statusCallback")
    # the caller's own join does not bridge anything
    _post(client, events_url, {"StatusCallbackEvent": "participant-join",
                               "CallSid": live.call_sid})
    assert Transfer.objects.get(pk=transfer.pk).state == TransferState.DIALING
    # the person's join does, once
    for _ in range(2):
        response = _post(client, events_url, {"StatusCallbackEvent": "participant-join",
                                              "CallSid": transfer.person_call_sid})
        assert response.status_code == 204
    transfer.refresh_from_db()
    live.refresh_from_db()
    assert transfer.state == TransferState.BRIDGED
    assert live.outcome == Outcome.TRANSFERRED and live.ended_at is not None
    assert CallEvent.objects.filter(call=live, type="transfer.bridged").count() == 1
    # and the person's leg ending later changes nothing
    _post(client, twilio.last("calls.create").value("StatusCallback"),
          {"CallSid": transfer.person_call_sid, "CallStatus": "completed"})
    assert Transfer.objects.get(pk=transfer.pk).state == TransferState.BRIDGED


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["no-answer", "busy", "failed", "completed"])
def test_a_person_who_does_not_join_sends_the_caller_back_to_the_agent(live, twilio, client,
                                                                       status):
    transfer = _start(live)
    _close_call(live, Outcome.TRANSFERRED, {}, None, None)
    # when the person's leg ends without joining ("completed": hung up during the summary)
    _post(client, twilio.last("calls.create").value("StatusCallback"),
          {"CallSid": transfer.person_call_sid, "CallStatus": status})
    # then the caller's call gets a new media stream whose token names the transfer
    back = twilio.last("calls.update")
    assert back.sid == live.call_sid
    stream = ET.fromstring(back.value("Twiml")).find("./Connect/Stream")
    assert stream.get("url").endswith("/ws/twilio/media/")
    transfer.refresh_from_db()
    assert transfer.state == TransferState.RETURNED and transfer.person_status == status
    assert CallEvent.objects.filter(call=live, type="transfer.returned").exists()


@pytest.mark.django_db
def test_the_caller_hanging_up_on_hold_ends_the_call_and_stops_the_ringing(live, twilio,
                                                                           client):
    transfer = _start(live)
    _close_call(live, Outcome.TRANSFERRED, {}, None, None)
    # when Twilio reports the caller's call completed
    _post(client, f"{PUBLIC}/twilio/status/",
          {"CallSid": live.call_sid, "CallStatus": "completed", "CallDuration": "40"})
    # then the person's leg is cancelled and the call is closed
    cancel = twilio.last("calls.update")
    assert cancel.sid == transfer.person_call_sid and cancel.value("Status") == "canceled"
    live.refresh_from_db()
    assert live.outcome == Outcome.CALLER_HUNG_UP
    assert Transfer.objects.get(pk=transfer.pk).state == TransferState.ABANDONED
    # and a late "no-answer" from the person's leg does not try to bring the caller back
    updates = len([r for r in twilio.requests if r.resource == "calls.update"])
    _post(client, twilio.last("calls.create").value("StatusCallback"),
          {"CallSid": transfer.person_call_sid, "CallStatus": "no-answer"})
    assert len([r for r in twilio.requests if r.resource == "calls.update"]) == updates


@pytest.mark.django_db
def test_when_twilio_refuses_the_persons_leg_the_caller_stays_with_the_agent(live, twilio):
    twilio.fail_next(400, 13223, "The phone number you are attempting to call is not valid.")
    outcome = execute(tool=_warm_tool(live.tenant), call=live, arguments={})
    assert outcome.status == ExecutionStatus.FAILED
    assert "not valid" in outcome.error
    assert not [r for r in twilio.requests if r.resource == "calls.update"]  # never on hold
    assert Transfer.objects.get(call=live).state == TransferState.FAILED


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_back_from_a_transfer_the_agent_apologises_and_the_call_goes_on(live, twilio,
                                                                           client):
    # given a call that went on hold after two turns, its first part recorded (1 s)
    def first_part() -> None:
        turn_save(call=live, index=0, role="agent", text="Hello, you are through to Acme.")
        turn_save(call=live, index=1, role="caller", text="Can I speak to billing?")
        transfer = _start(live)
        # (the stream ended before the tool's result came back: a dangling tool call)
        transfer_conversation_keep(call=live, messages=[
            {"role": "assistant", "text": "Hello, you are through to Acme."},
            {"role": "user", "text": "Can I speak to billing?"},
            {"role": "assistant", "text": "Let me transfer you.", "tool_calls": [
                {"id": "tc1", "name": "transfer_call", "arguments": {"summary": "Billing."}}]}])
        from calls.transfers import call_park

        call_park(call=live, metrics={"turns": 2}, recording_audio=_wav(1.0), cost={
            "currency": "USD", "estimate": True, "tts": {},
            "stt": {"first-part-stt": {"seconds": 1.0, "usd": 0.01}},
            "llm": {"first-part-llm": {"input_tokens": 300, "output_tokens": 20,
                                       "cache_read_tokens": 0, "cache_write_tokens": 0,
                                       "usd": 0.002}},
            "total_usd": 0.012})
        # when nobody answers
        _post(client, twilio.last("calls.create").value("StatusCallback"),
              {"CallSid": transfer.person_call_sid, "CallStatus": "no-answer"})

    await database_sync_to_async(first_part)()
    began = live.stream_started_at or live.started_at
    back = twilio.last("calls.update").value("Twiml")
    token = ET.fromstring(back).find("./Connect/Stream/Parameter").get("value")
    # then the new stream opens on the same call
    reopened = timezone.now()
    phone, connected = await connect(live, headers=_handshake())
    assert connected
    await phone.start(token=token)
    await phone.send_audio(SILENCE, 1.5)  # the apology plays
    await phone.send_audio(SPEECH, 0.4)
    await phone.send_audio(SILENCE, 1.6)  # the answer plays
    await phone.stop()
    await phone.ws.wait(timeout=3)
    stored = await refreshed(live)
    turns = await database_sync_to_async(lambda: list(stored.turns.order_by("index")))()
    # the turns go on after the first part's, the agent apologising first
    assert [t.index for t in turns][:3] == [0, 1, 2]
    assert turns[2].role == "agent" and turns[2].text.startswith(
        "I'm sorry, billing didn't pick up")
    assert any(t.text == "We open at nine and close at five." for t in turns[3:])
    assert stored.outcome == Outcome.CALLER_HUNG_UP
    # on the call's timeline: this part's offsets start where the call had got to, not at 0
    assert turns[2].start_ms >= (reopened - began).total_seconds() * 1000 - 50
    assert [t.start_ms for t in turns[2:]] == sorted(t.start_ms for t in turns[2:])
    # the call's cost is both parts'
    assert stored.cost["stt"]["first-part-stt"] == {"seconds": 1.0, "usd": 0.01}
    assert stored.cost["llm"]["first-part-llm"]["input_tokens"] == 300
    assert set(stored.cost["tts"])  # the apology and the answer were spoken in this part
    assert stored.cost["total_usd"] >= 0.012
    # one recording: the first part, then this one
    from calls.recordings import recording_audio

    audio = await database_sync_to_async(lambda: recording_audio(call=stored))()
    with wave.open(io.BytesIO(audio)) as wav:
        seconds = wav.getnframes() / wav.getframerate()
    assert 4.0 < seconds < 6.5, seconds
    # the token cannot open a second stream
    again, connected = await connect(live, headers=_handshake())
    assert connected
    await again.start(token=token)
    assert await again.wait_closed() is not None


def test_the_summary_rides_in_the_signed_url_only():
    from calls.transfers import _brief_query

    query = parse_qs(urlsplit("https://x/?" + _brief_query("Ana Lima")).query)
    assert "Ana" not in query["s"][0]


def test_a_tool_call_cut_off_by_the_transfer_gets_its_result_before_the_brain_sees_it():
    from calls.realtime.loader import _tool_calls_answered
    from calls.realtime.providers.llm.base import Message, ToolCall, ToolResult

    answered = Message(role="assistant", tool_calls=[ToolCall("a", "lookup", {})])
    dangling = Message(role="assistant", tool_calls=[ToolCall("b", "transfer_call", {})])
    messages = _tool_calls_answered([
        answered, Message(role="tool", tool_results=[ToolResult("a", "lookup", "ok")]),
        dangling], "Nobody answered.")
    assert messages[-1].role == "tool"
    [result] = messages[-1].tool_results
    assert (result.call_id, result.is_error) == ("b", True)
    assert "did not connect" in result.content and "Nobody answered." in result.content


@pytest.mark.django_db
@pytest.mark.parametrize("dial_status", ["busy", "no-answer", "failed"])
def test_a_cold_transfer_nobody_answers_brings_the_caller_back(live, twilio, client,
                                                               dial_status):
    tool = tool_create(tenant=live.tenant, kind="builtin", builtin_name="transfer_call",
                       builtin_config={"destinations": {"billing": PERSON}})
    assert execute(tool=tool, call=live, arguments={}).status == ExecutionStatus.SUCCEEDED
    dial = ET.fromstring(twilio.last("calls.update").value("Twiml")).find("./Dial")
    assert dial.find("Number").text == PERSON
    _close_call(live, Outcome.TRANSFERRED, {}, None, None)  # the stream ended: parked
    live.refresh_from_db()
    assert not live.outcome
    # when Twilio asks what next after the <Dial>
    answer = _post(client, dial.get("action"), {"CallSid": live.call_sid,
                                                "DialCallStatus": dial_status})
    # then the answer is a new media stream back to the agent
    stream = ET.fromstring(answer.content).find("./Connect/Stream")
    assert stream is not None and stream.find("Parameter").get("value")
    transfer = Transfer.objects.get(call=live)
    assert (transfer.mode, transfer.state, transfer.person_status) == (
        "cold", TransferState.RETURNED, dial_status)


@pytest.mark.django_db
def test_a_cold_transfer_that_connected_closes_the_call_when_it_ends(live, twilio, client):
    tool = tool_create(tenant=live.tenant, kind="builtin", builtin_name="transfer_call",
                       builtin_config={"destinations": {"billing": PERSON}})
    execute(tool=tool, call=live, arguments={})
    action = ET.fromstring(twilio.last("calls.update").value("Twiml")).find("./Dial").get(
        "action")
    _close_call(live, Outcome.TRANSFERRED, {}, None, None)
    answer = _post(client, action, {"CallSid": live.call_sid, "DialCallStatus": "completed",
                                    "DialCallDuration": "95"})
    assert ET.fromstring(answer.content).find("./Hangup") is not None
    live.refresh_from_db()
    assert live.outcome == Outcome.TRANSFERRED
    assert Transfer.objects.get(call=live).state == TransferState.BRIDGED
    # a repeated callback changes nothing
    again = _post(client, action, {"CallSid": live.call_sid, "DialCallStatus": "completed"})
    assert ET.fromstring(again.content).find("./Hangup") is not None
