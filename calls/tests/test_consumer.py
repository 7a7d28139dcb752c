"""The Media Streams consumer: Twilio's protocol end to end through Channels, with the database.

Providers are the deterministic doubles of `session_harness` (bound through the registry), so
these tests are about the protocol and persistence; real speech runs in the daphne end-to-end
test.
"""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer
from channels.testing import WebsocketCommunicator
from twilio.request_validator import RequestValidator

from aybiza.asgi import application
from aybiza.server.shapes import FAST_PATH_ENV, env_enabled
from calls import twilio
from calls.models import Call, Outcome
from calls.realtime.providers import registry
from calls.realtime.serializers.twilio import (
    twilio_dtmf,
    twilio_mark,
    twilio_media,
    twilio_start,
    twilio_stop,
)
from calls.services import call_start
from calls.tests.session_harness import SILENCE, SPEECH, EnergyVAD

PUBLIC = "https://voice.test"
TOKEN = "test-twilio-token"
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture(autouse=True)
def _wiring(settings, monkeypatch):
    settings.PUBLIC_BASE_URL = PUBLIC
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_ACCOUNT_SID = ""
    settings.MEDIA_STREAM_MAX_BAD_MESSAGES = 20
    monkeypatch.setitem(registry.STT_PROVIDERS, "scripted",
                        "calls.tests.session_harness.ScriptedSTT")
    monkeypatch.setitem(registry.TTS_PROVIDERS, "words", "calls.tests.session_harness.WordTTS")
    monkeypatch.setattr("calls.realtime.loader.build_vad", lambda **options: EnergyVAD())


@pytest.fixture
def call(agent, phone_number):
    agent.stt_provider = "scripted"
    agent.llm_provider = "instant"
    agent.tts_provider = "words"
    agent.greeting = "Hello, you are through to Acme."
    agent.recording_disclosure = ""  # recorded without a spoken notice (tested separately)
    agent.end_of_turn_silence_ms = 200
    agent.barge_in_min_speech_ms = 120
    agent.provider_options = {"stt": {"lines": ["what are your hours"]},
                              "llm": {"reply": "We open at nine and close at five."}}
    agent.save()
    return call_start(tenant=agent.tenant, phone_number=phone_number, call_sid="CA" + "1" * 32,
                      from_number="+15557654321", to_number=phone_number.e164)


def signed_headers() -> list[tuple[bytes, bytes]]:
    url = twilio.media_stream_url()
    signature = RequestValidator(TOKEN).compute_signature(url, {})
    return [(b"x-twilio-signature", signature.encode())]


class Twilio:
    """Twilio's side of one stream over a WebsocketCommunicator."""

    def __init__(self, communicator: WebsocketCommunicator, call: Call) -> None:
        self.ws = communicator
        self.call = call
        self.seq = 1
        self.chunk = 0
        self.received: list[dict] = []

    async def start(self, token: str | None = None) -> None:
        token = token or twilio.stream_token_issue(call_id=self.call.id,
                                                   tenant_id=self.call.tenant_id)
        await self.ws.send_to(text_data=json.dumps({"event": "connected", "protocol": "Call",
                                                    "version": "1.0.0"}))
        await self.ws.send_to(text_data=twilio_start(
            stream_sid="MZ1", call_sid=self.call.call_sid, account_sid="AC1",
            custom_parameters={"token": token}))

    async def send_audio(self, frame: bytes, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        next_t = loop.time()
        for _ in range(int(seconds / 0.02)):
            self.chunk += 1
            self.seq += 1
            await self.ws.send_to(text_data=twilio_media(
                stream_sid="MZ1", ulaw=frame, chunk=self.chunk, timestamp_ms=self.chunk * 20,
                sequence=self.seq))
            await self.drain()
            next_t += 0.02
            await asyncio.sleep(max(0.0, next_t - loop.time()))

    async def drain(self) -> None:
        """Read what the server sent; echo marks like Twilio (promptly: audio 'played')."""
        while not await self.ws.receive_nothing(timeout=0.001, interval=0.001):
            output = await self.ws.receive_output()
            if output["type"] != "websocket.send":
                self.received.append({"event": "__close__", "code": output.get("code")})
                return
            message = json.loads(output["text"])
            self.received.append(message)
            if message["event"] == "mark":
                self.seq += 1
                await self.ws.send_to(text_data=twilio_mark(
                    stream_sid="MZ1", name=message["mark"]["name"], sequence=self.seq))

    async def wait_closed(self, timeout: float = 3.0) -> int | None:
        """Read (and echo) until the server closes the socket; returns the close code."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            await self.drain()
            if self.received and self.received[-1]["event"] == "__close__":
                return self.received[-1]["code"]
            await asyncio.sleep(0.01)
        raise AssertionError("the server did not close the socket")

    async def stop(self) -> None:
        self.seq += 1
        await self.ws.send_to(text_data=twilio_stop(stream_sid="MZ1", call_sid=self.call.call_sid,
                                                    account_sid="AC1", sequence=self.seq))

    def events(self) -> list[str]:
        return [m["event"] for m in self.received]


async def connect(call: Call, headers=None) -> tuple[Twilio, bool]:
    communicator = WebsocketCommunicator(application, "/ws/twilio/media/",
                                         headers=signed_headers() if headers is None else headers)
    connected, _ = await communicator.connect()
    return Twilio(communicator, call), connected


async def update_agent(call: Call, **fields) -> None:
    """Change the agent as if before the call started: a call runs the version it recorded."""
    from agents.models import Agent
    from agents.versions import version_for_call

    def change() -> None:
        Agent.objects.filter(pk=call.agent_id).update(**fields)
        version = version_for_call(Agent.objects.get(pk=call.agent_id))
        Call.objects.filter(pk=call.pk).update(agent_version=version)

    await database_sync_to_async(change)()


async def refreshed(call: Call) -> Call:
    return await database_sync_to_async(
        lambda: Call.objects.prefetch_related("turns", "events").get(pk=call.pk))()


def turns_of(call: Call) -> list[tuple[str, str, bool]]:
    return [(t.role, t.text, t.interrupted) for t in call.turns.order_by("index")]


async def test_a_whole_call_follows_twilios_protocol_and_is_stored(call):
    phone, connected = await connect(call)
    assert connected
    await phone.start()

    await phone.send_audio(SILENCE, 1.2)  # the greeting plays
    await phone.send_audio(SPEECH, 0.4)
    await phone.send_audio(SILENCE, 1.6)  # the answer plays
    await phone.stop()
    await phone.ws.wait(timeout=3)

    media = [m for m in phone.received if m["event"] == "media"]
    assert media and all(m["streamSid"] == "MZ1" for m in media)
    assert all(len(base64.b64decode(m["media"]["payload"], validate=True)) == 160 for m in media)
    assert phone.events().count("mark") >= 2
    stored = await refreshed(call)
    assert stored.outcome == Outcome.CALLER_HUNG_UP
    assert stored.stream_sid == "MZ1" and stored.ended_at is not None
    assert await database_sync_to_async(turns_of)(stored) == [
        ("agent", "Hello, you are through to Acme.", False),
        ("caller", "what are your hours", False),
        ("agent", "We open at nine and close at five.", False),
    ]
    assert stored.recording.name.endswith(".wav.enc")
    assert stored.metrics["frames_in"] == 160


async def test_bad_handshake_signature_is_refused_before_accept(call):
    phone, connected = await connect(call, headers=[(b"x-twilio-signature", b"forged")])

    assert not connected


async def test_missing_signature_is_refused(call):
    phone, connected = await connect(call, headers=[])

    assert not connected


async def test_a_bad_stream_token_closes_the_socket(call):
    phone, connected = await connect(call)
    await phone.start(token="not-a-token")

    output = await phone.ws.receive_output(timeout=2)
    await phone.ws.disconnect()  # as Twilio does after a close: the consumer ends cleanly

    assert output["type"] == "websocket.close" and output["code"] == 4403


async def test_a_token_for_another_call_is_refused(call, other_tenant):
    phone, _ = await connect(call)
    await phone.start(token=twilio.stream_token_issue(call_id=call.id,
                                                      tenant_id=other_tenant.id))

    output = await phone.ws.receive_output(timeout=2)
    await phone.ws.disconnect()

    assert output["code"] == 4403


async def test_a_stream_token_is_single_use_even_while_the_call_is_live(call):
    # given the call's stream is live
    first, _ = await connect(call)
    await first.start()
    await first.send_audio(SILENCE, 0.2)

    # when a second socket presents the same (valid, signed) token
    second, _ = await connect(call)
    await second.start()
    output = await second.ws.receive_output(timeout=2)
    await second.ws.disconnect()

    # then it is refused, and the first call goes on untouched
    assert output["type"] == "websocket.close" and output["code"] == 4403
    await first.send_audio(SILENCE, 0.2)
    await first.stop()
    await first.ws.wait(timeout=5)
    stored = await refreshed(call)
    assert stored.stream_sid == "MZ1" and stored.outcome == Outcome.CALLER_HUNG_UP


async def test_malformed_messages_are_counted_and_never_fatal(call):
    phone, _ = await connect(call)
    await phone.ws.send_to(text_data=twilio_media(stream_sid="MZ1", ulaw=SILENCE, chunk=1,
                                                  timestamp_ms=20, sequence=1))  # before start
    await phone.start()
    for garbage in ["{not json", '{"event": "teleport"}',
                    '{"event": "media", "media": {"payload": "%%%"}}', "x" * 70_000]:
        await phone.ws.send_to(text_data=garbage)
    await phone.ws.send_to(bytes_data=b"\x00\x01")

    await phone.send_audio(SILENCE, 1.2)
    await phone.stop()
    await phone.ws.wait(timeout=3)

    stored = await refreshed(call)
    assert stored.outcome == Outcome.CALLER_HUNG_UP
    assert stored.metrics["malformed_messages"] == {
        "media_before_start": 1, "bad_json": 2, "unknown_event": 1, "bad_base64": 1,
        "oversized": 1,
    }
    assert (await database_sync_to_async(turns_of)(stored))[0][0] == "agent"


async def test_sustained_garbage_closes_the_socket_with_a_reason(call):
    phone, _ = await connect(call)
    await phone.start()
    await phone.send_audio(SILENCE, 0.2)

    for _ in range(25):
        await phone.ws.send_to(text_data="garbage")

    assert await phone.wait_closed() == 4400
    await phone.ws.disconnect()
    stored = await refreshed(call)
    assert stored.outcome == Outcome.PROTOCOL_VIOLATION
    assert await database_sync_to_async(
        lambda: stored.events.filter(type="protocol_violation").exists())()


async def test_an_abrupt_disconnect_keeps_the_transcript_so_far(call):
    phone, _ = await connect(call)
    await phone.start()
    await phone.send_audio(SILENCE, 1.2)
    await phone.send_audio(SPEECH, 0.4)
    await phone.send_audio(SILENCE, 0.45)  # the answer has started playing

    await phone.ws.disconnect(code=1006)

    stored = await refreshed(call)
    assert stored.outcome == Outcome.DISCONNECTED
    turns = await database_sync_to_async(turns_of)(stored)
    assert turns[0] == ("agent", "Hello, you are through to Acme.", False)
    assert turns[1] == ("caller", "what are your hours", False)
    assert turns[2][0] == "agent" and turns[2][2] is True  # cut off, only what was heard
    assert "We open at nine and close at five.".startswith(turns[2][1])


async def test_barge_in_sends_clear_and_truncates_the_agent_turn(call):
    phone, _ = await connect(call)
    await phone.start()
    await phone.send_audio(SILENCE, 0.3)  # mid-greeting

    await phone.send_audio(SPEECH, 0.3)
    await phone.send_audio(SILENCE, 0.5)
    await phone.stop()
    await phone.ws.wait(timeout=3)

    assert "clear" in phone.events()
    stored = await refreshed(call)
    greeting = await database_sync_to_async(lambda: stored.turns.get(index=0))()
    assert greeting.interrupted and greeting.text != "Hello, you are through to Acme."
    barge_ins = await database_sync_to_async(stored.events.filter(type="barge_in").count)()
    assert barge_ins == 1


async def test_dtmf_is_recorded_and_answered(call):
    phone, _ = await connect(call)
    await phone.start()
    await phone.send_audio(SILENCE, 1.2)

    for digit in "42#":
        phone.seq += 1
        await phone.ws.send_to(text_data=twilio_dtmf(stream_sid="MZ1", digit=digit,
                                                     sequence=phone.seq))
    await phone.send_audio(SILENCE, 1.0)
    await phone.stop()
    await phone.ws.wait(timeout=3)

    stored = await refreshed(call)
    turns = await database_sync_to_async(turns_of)(stored)
    assert ("caller", "[DTMF 42#]", False) in turns
    assert await database_sync_to_async(lambda: stored.events.filter(type="dtmf").count())() == 3


async def test_the_recording_is_stored_encrypted_and_served_decrypted(call, api):
    phone, _ = await connect(call)
    await phone.start()
    await phone.send_audio(SILENCE, 1.2)
    await phone.stop()
    await phone.ws.wait(timeout=3)
    stored = await refreshed(call)

    sealed = await database_sync_to_async(lambda: stored.recording.open("rb").read())()
    response = await database_sync_to_async(api.get)(f"/api/v1/calls/{call.id}/recording/")

    assert not sealed.startswith(b"RIFF")  # encrypted at rest
    assert response.status_code == 200 and response.content.startswith(b"RIFF")
    assert response["Content-Type"] == "audio/wav"


async def test_recording_waits_for_consent_and_the_answer_is_recorded(call):
    from compliance.models import ConsentRecord

    await update_agent(call, recording_mode="after_consent",
                       recording_disclosure="We record calls.", consent_prompt="Press 1 to agree.")
    phone, _ = await connect(call)
    await phone.start()
    # The keypress after the prompt has been sent (at 1.0 s a loaded CI machine had sent only
    # "We" of it, and the key cut it short)
    await phone.send_audio(SILENCE, 2.0)

    phone.seq += 1
    await phone.ws.send_to(text_data=twilio_dtmf(stream_sid="MZ1", digit="1", sequence=phone.seq))
    await phone.send_audio(SILENCE, 2.5)
    await phone.stop()
    await phone.ws.wait(timeout=3)

    stored = await refreshed(call)
    consents = await database_sync_to_async(
        lambda: list(ConsentRecord.objects.filter(call=stored).values_list("granted", "method")))()
    assert consents == [(True, "dtmf")]
    turns = await database_sync_to_async(turns_of)(stored)
    assert turns[0] == ("agent", "We record calls. Press 1 to agree.", False)
    assert turns[-1][1] == "Thank you. Hello, you are through to Acme."
    assert stored.recording


async def test_a_refusal_keeps_the_call_unrecorded(call):
    await update_agent(call, recording_mode="after_consent",
                       provider_options={"stt": {"lines": ["no thank you"]},
                                         "llm": {"reply": "unused"}})
    phone, _ = await connect(call)
    await phone.start()
    await phone.send_audio(SILENCE, 1.0)
    await phone.send_audio(SPEECH, 0.4)
    await phone.send_audio(SILENCE, 2.0)
    await phone.stop()
    await phone.ws.wait(timeout=3)

    stored = await refreshed(call)
    assert not stored.recording
    turns = await database_sync_to_async(turns_of)(stored)
    assert "will not be recorded" in turns[-1][1]


class StubbornLayer(InMemoryChannelLayer):
    """A channel layer whose receive finishes a cancellation late, as channels_redis does while
    its blocking read (BZPOPMIN, up to the socket timeout) is in flight."""

    async def receive(self, channel):
        try:
            return await super().receive(channel)
        except asyncio.CancelledError:
            await asyncio.sleep(5)
            raise


@pytest.mark.skipif(not env_enabled(FAST_PATH_ENV),
                    reason="the lean consumer loop's bound; Channels' own loop waits for the layer")
async def test_a_slow_channel_layer_does_not_hold_a_finished_call(call, settings):
    # given a channel layer that takes 5 s to give up a pending receive
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "calls.tests.test_consumer.StubbornLayer"}}
    phone, _ = await connect(call)
    await phone.start()
    await phone.send_audio(SILENCE, 0.3)
    # when Twilio ends the stream and the socket closes
    await phone.stop()
    await phone.wait_closed()
    started = asyncio.get_running_loop().time()
    await phone.ws.disconnect(timeout=4)
    # then the consumer is done well before the layer's receive gives up, with the call stored
    assert asyncio.get_running_loop().time() - started < 2.5
    assert (await refreshed(call)).outcome == Outcome.CALLER_HUNG_UP


async def test_outbound_messages_carry_the_configured_audio_length(call, settings):
    settings.MEDIA_OUTBOUND_MESSAGE_MS = 40
    phone, connected = await connect(call)
    assert connected
    await phone.start()
    await phone.send_audio(SILENCE, 1.2)  # the greeting plays
    await phone.stop()
    await phone.ws.wait(timeout=3)

    sizes = [len(base64.b64decode(m["media"]["payload"])) for m in phone.received
             if m["event"] == "media"]
    assert sizes and set(sizes) <= {160, 320} and sizes.count(320) >= len(sizes) - 3


async def test_server_shutdown_ends_live_calls_as_server_shutdown_with_the_transcript(call):
    from calls.consumers import CLOSE_SHUTTING_DOWN, end_live_calls

    # given a live call whose greeting is playing
    phone, _ = await connect(call)
    await phone.start()
    await phone.send_audio(SILENCE, 0.5)

    # when the server shuts down (the launcher's SIGTERM hook)
    assert await end_live_calls(timeout_s=5) == 1

    # then the caller's socket is closed as "shutting down", and the call is stored as ended by
    # the shutdown, with what was said so far
    assert await phone.wait_closed() == CLOSE_SHUTTING_DOWN
    await phone.ws.disconnect()
    stored = await refreshed(call)
    assert stored.outcome == Outcome.SERVER_SHUTDOWN and stored.ended_at is not None
    assert await database_sync_to_async(lambda: stored.turns.count())() >= 1
    assert await end_live_calls(timeout_s=1) == 0  # nothing live any more


async def test_the_server_runs_the_drain_on_sigterm():
    from aybiza.server.launcher import on_shutdown

    assert "_end_live_calls" in [hook.__name__ for hook in on_shutdown]


async def test_log_lines_of_a_call_name_its_tenant_sid_and_turn(call):
    import logging

    from aybiza.core.log_context import JsonFormatter
    from aybiza.core.tests.test_log_context import LineCollector

    # given the console handler's filter and production's JSON format
    handler = LineCollector(JsonFormatter())
    lines = handler.lines
    logging.getLogger("calls").addHandler(handler)
    logging.getLogger("calls").setLevel(logging.INFO)
    try:
        # when a call starts and talks a little
        phone, _ = await connect(call)
        await phone.start()
        await phone.send_audio(SILENCE, 0.3)
        await phone.stop()
        await phone.ws.wait(timeout=3)
    finally:
        logging.getLogger("calls").removeHandler(handler)
    # then its lines are JSON naming the call
    started = [json.loads(line) for line in lines if "Call started" in line]
    assert started and started[0]["call_sid"] == call.call_sid
    assert started[0]["tenant_id"] == call.tenant_id and started[0]["level"] == "INFO"


async def test_with_tracing_on_a_call_is_one_trace_of_its_turns(call):
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from aybiza.core import tracing

    exporter = InMemorySpanExporter()
    tracing.install(SimpleSpanProcessor(exporter))
    try:
        # when a call plays its greeting and the caller hangs up
        phone, _ = await connect(call)
        await phone.start()
        await phone.send_audio(SILENCE, 1.0)
        await phone.stop()
        await phone.ws.wait(timeout=3)
        stored = await refreshed(call)
    finally:
        tracing.uninstall()
    # then the call span holds the greeting's turn span, all in one trace
    finished = exporter.get_finished_spans()
    [call_span] = [span for span in finished if span.name == "call"]
    turns = [span for span in finished if span.name == "turn"]
    assert call_span.attributes["aybiza.call_sid"] == call.call_sid
    assert call_span.attributes["aybiza.outcome"] == stored.outcome
    assert turns and all(t.parent.span_id == call_span.context.span_id for t in turns)
    assert turns[0].attributes["aybiza.turn_index"] == 0
    assert {span.context.trace_id for span in finished} == {call_span.context.trace_id}


async def test_a_caller_who_says_forget_me_is_forgotten_and_an_erasure_request_filed(call):
    from agents.models import Agent
    from compliance.models import ErasureRequest, ErasureRequestStatus
    from memory.models import Contact, MemoryFact
    from memory.services import memory_remember

    # given a caller the agent remembers, calling an agent on the offline brain
    @database_sync_to_async
    def remembered() -> Call:
        agent = Agent.objects.get(pk=call.agent_id)  # as stored by the fixture
        agent.llm_provider = "offline"
        agent.provider_options = {"stt": {"lines": ["please forget me"]}}
        agent.save()
        memory_remember(tenant=call.tenant, contact=call.contact, key="last_booking",
                        value="Tuesday at ten")
        return call_start(tenant=call.tenant, phone_number=call.phone_number,
                          call_sid="CA" + "2" * 32, from_number=call.from_number,
                          to_number=call.to_number)

    call = await remembered()
    # when they ask to be forgotten
    phone, _ = await connect(call)
    await phone.start()
    await phone.send_audio(SILENCE, 1.2)
    await phone.send_audio(SPEECH, 0.4)
    await phone.send_audio(SILENCE, 2.0)
    await phone.stop()
    await phone.ws.wait(timeout=3)

    # then the agent says it is done, memory is off and cleared, and a request waits for a member
    @database_sync_to_async
    def state():
        contact = Contact.objects.get(pk=call.contact_id)
        request = ErasureRequest.objects.get(tenant=call.tenant)
        return (contact.do_not_remember, MemoryFact.objects.filter(contact=contact).count(),
                request.status, request.call_id,
                list(call.events.filter(type="forget_requested").values_list("type", flat=True)),
                [t.text for t in call.turns.filter(role="agent").order_by("index")])

    do_not_remember, facts, status, request_call, events, said = await state()
    assert do_not_remember is True and facts == 0
    assert status == ErasureRequestStatus.PENDING and request_call == call.pk
    assert events == ["forget_requested"]
    assert any("I won't remember anything about you" in text for text in said)
