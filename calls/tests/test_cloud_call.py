"""A whole call through the consumer on the cloud providers, each faked at the wire.

Deepgram (listen + speak WebSockets), Claude on Bedrock (binary event stream) and an
OpenAI-compatible server are local servers speaking the real protocols; the real SDKs (and boto3)
are the clients. The caller's audio is loud tone bursts, which the fake recogniser turns into
its scripted words.
"""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from calls.models import Call, Outcome
from calls.services import call_start
from calls.tests.session_harness import EnergyVAD
from calls.tests.test_consumer import PUBLIC, TOKEN, connect, refreshed, turns_of
from tests.fakes.bedrock import server_error, text_turn, tool_turn
from tests.fakes.deepgram import tone
from tests.fakes.openai import text_answer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]
SILENCE = b"\xff" * 160
SPEECH = tone(20, amplitude=8000)


@pytest.fixture(autouse=True)
def _wiring(settings, monkeypatch):
    settings.PUBLIC_BASE_URL = PUBLIC
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_ACCOUNT_SID = ""
    monkeypatch.setattr("calls.realtime.loader.build_vad", lambda **options: EnergyVAD())


def cloud_call(agent, phone_number, provider_options: dict) -> Call:
    agent.stt_provider = "deepgram"
    agent.llm_provider = "bedrock"
    agent.tts_provider = "deepgram"
    agent.greeting = "Hi, Acme here."
    agent.recording_disclosure = ""
    agent.end_of_turn_silence_ms = 300
    agent.provider_options = provider_options
    agent.save()
    return call_start(tenant=agent.tenant, phone_number=phone_number,
                      call_sid="CA" + "7" * 32, from_number="+15557654321",
                      to_number=phone_number.e164)


async def test_a_call_on_deepgram_and_claude(agent, phone_number, fake_deepgram, fake_bedrock):
    fake_deepgram.utterances.append("when are you open")
    fake_bedrock.queue(text_turn("We are open ", "nine to five.",
                                 usage={"inputTokens": 1200, "outputTokens": 9,
                                        "cacheReadInputTokens": 1024}))
    call = await database_sync_to_async(cloud_call)(agent, phone_number, {
        "stt": fake_deepgram.provider_options(), "tts": fake_deepgram.provider_options(),
        "llm": fake_bedrock.provider_options()})
    phone, _ = await connect(call)
    await phone.start()

    await phone.send_audio(SILENCE, 2.0)  # the greeting plays
    await phone.send_audio(SPEECH, 0.5)
    await phone.send_audio(SILENCE, 4.5)  # the answer plays
    await phone.stop()
    await phone.ws.wait(timeout=5)

    stored = await refreshed(call)
    assert stored.outcome == Outcome.CALLER_HUNG_UP
    assert await database_sync_to_async(turns_of)(stored) == [
        ("agent", "Hi, Acme here.", False),
        ("caller", "when are you open", False),
        ("agent", "We are open nine to five.", False),
    ]
    caller_turn = await database_sync_to_async(lambda: stored.turns.get(index=1))()
    assert caller_turn.confidence == pytest.approx(0.97)
    # Claude saw the caller's words and the system prompt (too short to cache: no cache point
    # is asked for below the model's minimum, see test_bedrock's cache tests).
    body = fake_bedrock.requests[-1].body
    assert body["messages"][-1] == {"role": "user", "content": [{"text": "when are you open"}]}
    assert "Acme" in body["system"][0]["text"]
    # Aura spoke both agent turns over its WebSocket, µ-law 8 kHz.
    spoken = [m["text"] for conn in fake_deepgram.speak_connections for m in conn.messages
              if m.get("type") == "Speak"]
    assert "Hi, Acme here." in spoken and "We are open nine to five." in spoken
    assert fake_deepgram.speak_connections[0].query["encoding"] == "mulaw"
    # What it cost, from the usage the providers reported.
    assert stored.cost["llm"]["bedrock"]["cache_read_tokens"] == 1024
    # STT is billed for the speech streamed (0.5 s, pre-roll and end-of-turn silence), not
    # for the 7 s of the call
    assert 0.5 <= stored.cost["stt"]["deepgram"]["seconds"] <= 1.5
    assert stored.cost["total_usd"] > 0
    agent_turn = await database_sync_to_async(lambda: stored.turns.get(index=2))()
    assert agent_turn.usage["input_tokens"] == 1200


async def test_claude_failing_hands_the_turn_to_the_backup_llm(agent, phone_number, fake_deepgram,
                                                                fake_bedrock, fake_openai):
    fake_deepgram.utterances.append("are you open today")
    fake_bedrock.queue(server_error(503), server_error(503), server_error(503))
    fake_openai.queue(text_answer("Yes, until five."))
    llm = {**fake_bedrock.provider_options(), "max_attempts": 1, "fallbacks": ["openai"],
           "openai": fake_openai.provider_options()}
    call = await database_sync_to_async(cloud_call)(agent, phone_number, {
        "stt": fake_deepgram.provider_options(), "tts": fake_deepgram.provider_options(),
        "llm": llm})
    phone, _ = await connect(call)
    await phone.start()

    await phone.send_audio(SILENCE, 2.0)  # the greeting plays
    await phone.send_audio(SPEECH, 0.5)
    await phone.send_audio(SILENCE, 4.5)  # the answer plays
    await phone.stop()
    await phone.ws.wait(timeout=5)

    stored = await refreshed(call)
    turns = await database_sync_to_async(turns_of)(stored)
    assert turns[-1][0] == "agent" and turns[-1][1].endswith("Yes, until five.")
    failovers = await database_sync_to_async(
        lambda: list(stored.events.filter(type="provider_failover").values_list("payload",
                                                                                flat=True)))()
    assert [(f["kind"], f["from"], f["to"]) for f in failovers] == [("llm", "bedrock", "openai")]
    assert stored.metrics["provider_failovers"] == 1


async def test_claude_hangs_up_with_the_built_in_end_call(agent, phone_number, fake_deepgram,
                                                          fake_bedrock):
    # given Claude answers a goodbye by saying it and calling the built-in end_call
    fake_deepgram.utterances.append("that is all thank you")
    fake_bedrock.queue(tool_turn("You're welcome, goodbye!", [("tu1", "end_call", {})]))
    call = await database_sync_to_async(cloud_call)(agent, phone_number, {
        "stt": fake_deepgram.provider_options(), "tts": fake_deepgram.provider_options(),
        "llm": fake_bedrock.provider_options()})
    phone, _ = await connect(call)
    await phone.start()

    # when the caller says goodbye and stays on the line
    await phone.send_audio(SILENCE, 2.0)
    await phone.send_audio(SPEECH, 0.5)
    await phone.send_audio(SILENCE, 0.5)
    await phone.wait_closed(timeout=8)  # the agent hangs up (no Twilio REST: closes the stream)
    await phone.ws.disconnect(timeout=4)

    # then Claude was offered end_call, and the call ended by the agent after the goodbye
    tools = fake_bedrock.requests[0].body["toolConfig"]["tools"]
    assert "end_call" in [tool["toolSpec"]["name"] for tool in tools if "toolSpec" in tool]
    stored = await refreshed(call)
    assert stored.outcome == Outcome.AGENT_ENDED
    assert (await database_sync_to_async(turns_of)(stored))[-1] == (
        "agent", "You're welcome, goodbye!", False)
    assert len(fake_bedrock.requests) == 1
