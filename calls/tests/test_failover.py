"""Provider chains with real vendor providers against the wire fakes: errors and slow first bytes
move the turn to the next provider, and the session hears about it through `on_failover`."""

from __future__ import annotations

import asyncio

import pytest

from calls.realtime.providers.failover import (
    FailoverLLM,
    FailoverSTT,
    FailoverTTS,
    ProviderError,
    build_chain,
    build_from_options,
)
from calls.realtime.providers.llm.base import Conversation, Message, TextDelta
from calls.realtime.providers.llm.bedrock import BedrockLLM
from calls.realtime.providers.llm.offline import OfflineBrain
from calls.realtime.providers.llm.openai_compat import OpenAICompatLLM
from calls.realtime.providers.stt.base import STTOptions
from calls.realtime.providers.stt.deepgram import DeepgramSTT
from calls.realtime.providers.tts.base import TTSOptions
from calls.realtime.providers.tts.deepgram import DeepgramTTS
from tests.fakes.bedrock import mid_stream_error, server_error
from tests.fakes.deepgram import FakeDeepgram, frames, silence, tone
from tests.fakes.openai import text_answer

pytest_plugins = ["tests.fakes.fixtures"]
pytestmark = pytest.mark.integration

CONVERSATION = Conversation(system_prompt="Be brief.",
                            messages=[Message(role="user", text="Hello?")])


class Recorder:
    """An `on_failover` callback that remembers its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, BaseException]] = []

    def __call__(self, kind: str, from_name: str, to_name: str, error: BaseException) -> None:
        self.calls.append((kind, from_name, to_name, error))

    @property
    def summary(self) -> list[tuple[str, str, str]]:
        return [(kind, a, b) for kind, a, b, _ in self.calls]


@pytest.fixture
def backup_deepgram():
    with FakeDeepgram() as fake:
        yield fake


# -- LLM ---------------------------------------------------------------------------------------
def llm_chain(fake_bedrock, fake_openai, recorder, **kwargs) -> FailoverLLM:
    return FailoverLLM([BedrockLLM(**fake_bedrock.provider_options()),
                        OpenAICompatLLM(**fake_openai.provider_options())],
                       on_failover=recorder, **kwargs)


@pytest.mark.asyncio
async def test_llm_server_error_moves_the_turn_to_the_next_provider(fake_bedrock, fake_openai):
    # given Bedrock answers 503 and the backup answers
    fake_bedrock.queue(server_error(503))
    fake_openai.queue(text_answer("Backup here."))
    recorder = Recorder()
    chain = llm_chain(fake_bedrock, fake_openai, recorder)

    # when the brain responds
    events = [e async for e in chain.respond(CONVERSATION)]
    await chain.aclose()

    # then the backup's answer is the turn, and the session was told
    assert events[0] == TextDelta("Backup here.")
    assert recorder.summary == [("llm", "bedrock", "openai")]
    assert isinstance(recorder.calls[0][3], ProviderError)


@pytest.mark.asyncio
async def test_llm_missing_its_ttfb_budget_moves_to_the_next_provider_and_sticks(
        fake_bedrock, fake_openai):
    # given Bedrock takes two seconds before its first byte, over a 500 ms budget
    fake_bedrock.queue(server_error(503, delay_before_s=2.0))
    fake_openai.queue(text_answer("Fast answer."), text_answer("Second turn."))
    recorder = Recorder()
    chain = llm_chain(fake_bedrock, fake_openai, recorder, ttfb_budget_ms=500)
    loop = asyncio.get_running_loop()

    # when two turns are answered (SDKs loaded first, as at process start)
    await chain.warm_up()
    started = loop.time()
    first = [e async for e in chain.respond(CONVERSATION)]
    elapsed = loop.time() - started
    second = [e async for e in chain.respond(CONVERSATION)]
    await chain.aclose()

    # then the first turn did not wait for Bedrock, and the next turn went straight to the backup
    assert first[0] == TextDelta("Fast answer.") and second[0] == TextDelta("Second turn.")
    assert chain.active_name == "openai"
    assert elapsed < 1.5
    assert isinstance(recorder.calls[0][3], TimeoutError)
    assert len(fake_bedrock.requests) == 1


@pytest.mark.asyncio
async def test_llm_does_not_fail_over_once_words_were_yielded(fake_bedrock, fake_openai):
    # given Bedrock fails after its first words
    fake_bedrock.queue(mid_stream_error("Sure, "))
    recorder = Recorder()
    chain = llm_chain(fake_bedrock, fake_openai, recorder)

    # when the brain responds
    seen = []
    with pytest.raises(ProviderError):
        async for event in chain.respond(CONVERSATION):
            seen.append(event)
    await chain.aclose()

    # then the backup never spoke over them
    assert seen == [TextDelta("Sure, ")]
    assert fake_openai.requests == [] and recorder.calls == []


@pytest.mark.asyncio
async def test_llm_chain_with_every_provider_down_raises(fake_bedrock, fake_openai):
    # given both providers fail
    fake_bedrock.queue(server_error(500, "InternalServerException"))
    fake_openai.queue(text_answer("unused"))
    chain = FailoverLLM([BedrockLLM(**fake_bedrock.provider_options()),
                         OpenAICompatLLM(**{**fake_openai.provider_options(),
                                            "base_url": "http://127.0.0.1:9/v1"})])

    # when the brain responds, then the error reaches the session
    with pytest.raises(ProviderError, match="every llm provider failed"):
        [e async for e in chain.respond(CONVERSATION)]
    await chain.aclose()


# -- TTS ---------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_tts_outage_moves_the_clause_to_the_next_provider(fake_deepgram, backup_deepgram):
    # given the primary's websocket and REST are both down
    fake_deepgram.speak_ws_status = 503
    fake_deepgram.speak_rest_status = 503
    recorder = Recorder()
    chain = FailoverTTS([DeepgramTTS(**fake_deepgram.provider_options()),
                         DeepgramTTS(**backup_deepgram.provider_options())],
                        on_failover=recorder)

    # when a clause is spoken
    audio = b"".join([c async for c in chain.synthesize("Still here.", TTSOptions())])
    await chain.aclose()

    # then the backup voiced it and the session was told
    assert audio == backup_deepgram.expected_audio("Still here.")
    assert recorder.summary == [("tts", "deepgram", "deepgram")]


@pytest.mark.asyncio
async def test_tts_slow_first_audio_is_cancelled_and_the_backup_speaks(fake_deepgram,
                                                                       backup_deepgram):
    # given the primary needs two seconds before its first audio, over a 500 ms budget
    fake_deepgram.speak_first_byte_delay_s = 2.0
    recorder = Recorder()
    chain = FailoverTTS([DeepgramTTS(**fake_deepgram.provider_options()),
                         DeepgramTTS(**backup_deepgram.provider_options())],
                        on_failover=recorder, ttfb_budget_ms=500)

    # when a clause is spoken
    audio = b"".join([c async for c in chain.synthesize("Quick.", TTSOptions())])

    # then the backup spoke, and the primary was told to drop the late utterance
    assert audio == backup_deepgram.expected_audio("Quick.")
    assert isinstance(recorder.calls[0][3], TimeoutError)
    primary = fake_deepgram.speak_connections[0]
    await fake_deepgram.wait_until(lambda: {"type": "Clear"} in primary.messages)
    await chain.aclose()


# -- STT ---------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_stt_refused_connection_opens_the_next_providers_stream(fake_deepgram,
                                                                      backup_deepgram):
    # given the primary refuses websockets
    fake_deepgram.listen_status = 503
    backup_deepgram.say("hello backup")
    recorder = Recorder()
    chain = FailoverSTT([DeepgramSTT(**fake_deepgram.provider_options()),
                         DeepgramSTT(**backup_deepgram.provider_options())], on_failover=recorder)

    # when the call's stream opens and the caller speaks
    stream = await chain.open_stream(STTOptions())
    for frame in frames(tone(400) + silence(400)):
        stream.feed(frame)
    stream.finalize()
    results = []

    async def read() -> None:
        async for transcript in stream.transcripts():
            results.append(transcript)

    reader = asyncio.create_task(read())
    await backup_deepgram.wait_until(lambda: any(t.text for t in results))
    await stream.aclose()
    await reader

    # then the backup transcribed it, and the session was told
    assert [t.text for t in results if t.is_final and t.text] == ["hello backup"]
    assert recorder.summary == [("stt", "deepgram", "deepgram")]


@pytest.mark.asyncio
async def test_stt_slow_connect_misses_the_budget(fake_deepgram, backup_deepgram):
    # given the primary's handshake takes two seconds, over a 500 ms budget
    fake_deepgram.listen_connect_delay_s = 2.0
    recorder = Recorder()
    chain = FailoverSTT([DeepgramSTT(**fake_deepgram.provider_options()),
                         DeepgramSTT(**backup_deepgram.provider_options())],
                        on_failover=recorder, ttfb_budget_ms=500)

    # when the stream opens, then the backup's stream is the one in use
    stream = await chain.open_stream(STTOptions())
    assert stream.provider_index == 1 and len(backup_deepgram.listen_connections) == 1
    assert isinstance(recorder.calls[0][3], TimeoutError)
    await stream.aclose()


@pytest.mark.asyncio
async def test_stt_stream_dying_mid_call_is_replaced_and_audio_of_the_switch_is_kept(
        fake_deepgram, backup_deepgram):
    # given the primary drops the socket and then refuses to reconnect
    backup_deepgram.say("after the switch")
    speech = tone(600) + silence(600)
    stream = None

    def on_failover(kind, from_name, to_name, error):
        # the caller keeps talking while the backup connects
        for frame in frames(speech):
            stream.feed(frame)

    chain = FailoverSTT([DeepgramSTT(**fake_deepgram.provider_options(), max_reconnects=1,
                                     reconnect_backoff_s=0.01),
                         DeepgramSTT(**backup_deepgram.provider_options())],
                        on_failover=on_failover)
    stream = await chain.open_stream(STTOptions())
    results = []

    async def read() -> None:
        async for transcript in stream.transcripts():
            results.append(transcript)

    reader = asyncio.create_task(read())
    fake_deepgram.listen_status = 503
    fake_deepgram.drop_listen_after_bytes = 1600

    # when the outage happens
    for frame in frames(silence(400)):
        stream.feed(frame)
    await backup_deepgram.wait_until(lambda: any(t.is_final and t.text for t in results))
    await stream.aclose()
    await reader

    # then the backup received exactly the audio fed during the switch, and transcribed it
    assert stream.provider_index == 1
    assert bytes(backup_deepgram.listen_connections[0].audio) == speech
    assert [t.text for t in results if t.is_final and t.text] == ["after the switch"]


# -- build_chain -------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_build_chain_builds_named_providers_with_their_own_options(fake_bedrock,
                                                                         fake_openai):
    # given per-provider options and an async callback
    fake_bedrock.queue(server_error(503))
    fake_openai.queue(text_answer("From the chain."))
    seen: list[str] = []

    async def on_failover(kind, from_name, to_name, error):
        seen.append(f"{kind}:{from_name}->{to_name}")

    # when a chain is built from registry names and answers
    chain = build_chain("llm", ["bedrock", "openai"], on_failover=on_failover,
                        bedrock=fake_bedrock.provider_options(),
                        openai=fake_openai.provider_options())
    events = [e async for e in chain.respond(CONVERSATION)]
    await chain.aclose()

    # then it is a failover chain over both, and the async callback ran
    assert isinstance(chain, FailoverLLM) and chain.name == "bedrock>openai"
    assert events[0] == TextDelta("From the chain.")
    assert seen == ["llm:bedrock->openai"]


def test_a_lone_vendor_keeps_its_budget_a_lone_local_provider_is_bare(fake_openai):
    # when a single cloud provider is named, then it is still under the first-byte budget
    single = build_chain("llm", ["openai"], openai=fake_openai.provider_options())
    assert isinstance(single, FailoverLLM) and single.name == "openai"
    assert isinstance(single.providers[0], OpenAICompatLLM)
    # and a single local one is the provider itself
    assert isinstance(build_chain("llm", ["offline"]), OfflineBrain)

    # when options name a provider outside the chain, then it is a configuration error
    with pytest.raises(ValueError, match="bedrok"):
        build_chain("llm", ["bedrock", "openai"], bedrok={})


def test_agent_provider_options_name_the_fallbacks_and_their_options(fake_deepgram,
                                                                     backup_deepgram):
    # given an agent whose STT options list a backup with its own endpoint
    options = {"fallbacks": ["deepgram"], "keepalive_interval_s": 3.0, "ttfb_budget_ms": 900,
               **fake_deepgram.provider_options()}
    options["deepgram"] = backup_deepgram.provider_options()

    # when the loader builds the chain
    chain = build_from_options("stt", "deepgram", options)

    # then the primary got the top-level options and the backup its own
    primary, backup = chain.providers
    assert isinstance(chain, FailoverSTT) and chain._chain.budget_s == 0.9
    assert (primary.ws_url, primary.keepalive_interval_s) == (fake_deepgram.ws_url, 3.0)
    assert (backup.ws_url, backup.keepalive_interval_s) == (backup_deepgram.ws_url, 4.0)


@pytest.mark.asyncio
async def test_a_lone_vendor_that_hangs_is_a_provider_error_within_its_budget(fake_openai):
    # given the only LLM answers after 5 s, and a 300 ms first-byte budget
    fake_openai.queue(text_answer("Too late.", delay_before_s=5))
    llm = build_from_options("llm", "openai", {"ttfb_budget_ms": 300,
                                               **fake_openai.provider_options()})

    # when it is asked, then the session gets an error it can answer out loud, in time
    started = asyncio.get_running_loop().time()
    with pytest.raises(ProviderError):
        [event async for event in llm.respond(CONVERSATION)]
    assert asyncio.get_running_loop().time() - started < 2
    await llm.aclose()


@pytest.mark.asyncio
async def test_stt_backup_stream_is_told_what_the_agent_expects_to_hear():
    from calls.tests.session_harness import ScriptedSTT, ScriptedSTTStream

    class CutStream(ScriptedSTTStream):
        async def transcripts(self):
            await self.queue.get()
            raise OSError("connection reset")  # the socket dies: a failover error
            yield  # an async generator

    primary, backup = ScriptedSTT([]), ScriptedSTT(["no"])
    primary.stream = CutStream([])
    stream = await FailoverSTT([primary, backup]).open_stream(STTOptions())

    # given the agent asked a yes-or-no question on the primary
    stream.expect(("yes", "no"))
    # when the primary dies and the backup takes over
    async def first_words() -> str:
        async for transcript in stream.transcripts():
            return transcript.text
        return ""

    reader = asyncio.create_task(first_words())
    stream.finalize()
    for _ in range(100):
        if stream.provider_index == 1:
            break
        await asyncio.sleep(0.01)
    stream.finalize()
    assert await asyncio.wait_for(reader, 5) == "no"
    await stream.aclose()

    # then the backup heard the same expectation before any audio
    assert primary.stream.expected == [("yes", "no")]
    assert stream.provider_index == 1 and backup.stream.expected == [("yes", "no")]
