"""Provider failures the caller hears about: never silence, never a dropped call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from calls.models import Outcome
from calls.realtime.call_control import GOODBYE_LINE, with_call_control
from calls.realtime.providers.failover import FailoverSTT, ProviderError
from calls.realtime.providers.llm.base import (
    BrainEvent,
    Conversation,
    Done,
    LLMProvider,
    TextDelta,
    ToolCall,
    ToolResult,
    ToolSpec,
    Usage,
)
from calls.realtime.providers.stt.base import STTOptions, STTProvider, STTStream
from calls.realtime.recovery import (
    CALL_BACK,
    CANNOT_ANSWER,
    CANNOT_HEAR,
    HANDING_OVER,
    SORRY_REPEAT,
)
from calls.tests.session_harness import SILENCE, SPEECH, ScriptedSTT, feed, make_session

FORBIDDEN = ProviderError("bedrock (us-east-1): AccessDeniedException", provider="bedrock",
                          status=403, failover=True)


class ScriptedLLM(LLMProvider):
    """Answers from a script: a string is said, an exception is raised before any text."""

    name = "scripted"

    def __init__(self, *script: str | BaseException) -> None:
        self.script = list(script)
        self.calls = 0

    async def respond(self, conversation: Conversation) -> AsyncIterator[BrainEvent]:
        self.calls += 1
        step = self.script.pop(0) if self.script else "Fine."
        if isinstance(step, BaseException):
            raise step
        yield TextDelta(step)
        yield Done()


class RefusingSTT(STTProvider):
    """A recogniser whose every connection is refused with `status` (a revoked key)."""

    def __init__(self, status: int = 401) -> None:
        self.name = "deepgram"
        self.status = status

    async def open_stream(self, options: STTOptions) -> STTStream:
        raise ProviderError(f"deepgram: HTTP {self.status} Invalid credentials",
                            provider="deepgram", status=self.status, failover=True)


async def speak_once(session, seconds: float = 2.0) -> None:
    await feed(session, SPEECH, 0.3)
    await feed(session, SILENCE, seconds)


@pytest.mark.asyncio
async def test_a_failed_reply_is_an_apology_and_the_repeated_question_is_answered():
    # given an LLM that refuses once (403), then answers
    llm = ScriptedLLM(FORBIDDEN, "We open at nine.")
    session, wire, store, tts = await make_session(
        llm=llm, stt_lines=["when do you open", "when do you open"], greeting="")

    # when the caller asks, hears the apology, and asks again
    await speak_once(session, 2.5)
    await speak_once(session, 1.5)
    await session.finish(Outcome.CALLER_HUNG_UP)

    # then the first turn is an apology out loud (not 8 s of silence), the second the answer
    agent_turns = [t["text"] for t in store.ordered_turns() if t["role"] == "agent"]
    assert agent_turns == [SORRY_REPEAT, "We open at nine."]
    assert store.closed["outcome"] == Outcome.CALLER_HUNG_UP
    # and the refused credentials raised their own event once
    assert ("provider_auth_failed", {"kind": "llm_or_tts", "provider": "bedrock",
                                     "status": 403}) in store.events


@pytest.mark.asyncio
async def test_two_failed_replies_in_a_row_end_the_call_politely():
    llm = ScriptedLLM(FORBIDDEN, FORBIDDEN)
    session, wire, store, tts = await make_session(
        llm=llm, stt_lines=["hello", "hello?"], greeting="")

    await speak_once(session, 2.5)
    await speak_once(session, 0.2)
    await asyncio.wait_for(session.wait_closed(), 10)

    agent_turns = [t["text"] for t in store.ordered_turns() if t["role"] == "agent"]
    assert agent_turns == [SORRY_REPEAT, f"{CANNOT_ANSWER} {CALL_BACK}"]
    assert store.closed["outcome"] == Outcome.ERROR
    # one alert per vendor and call, not one per failed turn
    assert [kind for kind, _ in store.events].count("provider_auth_failed") == 1


@pytest.mark.asyncio
async def test_a_recogniser_refused_at_call_start_still_greets_and_says_why():
    # given the only recogniser refuses our key when the call starts, on a recorded agent
    class Recorder:
        paused = False

        def add_inbound(self, ulaw: bytes) -> None: ...
        def add_outbound(self, ulaw: bytes) -> None: ...

        async def finish(self) -> None:
            return None

    recorder = Recorder()
    session, wire, store, tts = await make_session(
        llm=ScriptedLLM(), stt=RefusingSTT(401), greeting="Thanks for calling Acme.",
        recording_mode="on", recording_disclosure="This call is recorded.",
        before_start=lambda session: setattr(session, "_recorder", recorder))

    # when the call runs
    await feed(session, SILENCE, 0.2)
    await asyncio.wait_for(session.wait_closed(), 10)

    # then the caller heard the opening (it plays while the recogniser connects) and then an
    # apology before the call ended, and nothing was recorded
    assert recorder.paused
    opening, apology = [t for t in store.ordered_turns() if t["role"] == "agent"]
    assert opening["text"] == "This call is recorded. Thanks for calling Acme."
    assert not opening["interrupted"]
    assert apology["text"] == f"{CANNOT_HEAR} {CALL_BACK}"
    assert store.closed["outcome"] == Outcome.ERROR
    assert ("provider_auth_failed", {"kind": "stt", "provider": "deepgram",
                                     "status": 401}) in store.events


@pytest.mark.asyncio
async def test_a_refused_recogniser_with_a_backup_fails_over_and_alerts():
    # given Deepgram refuses our key and the agent names a backup recogniser
    chain = FailoverSTT([RefusingSTT(403), ScriptedSTT(["hello"])], ttfb_budget_ms=1000)
    session, wire, store, tts = await make_session(
        llm=ScriptedLLM("Hi!"), stt=chain, greeting="",
        before_start=lambda session: setattr(chain._chain, "on_failover",
                                             session.on_provider_failover))

    # when the caller speaks
    await speak_once(session, 1.5)
    await session.finish(Outcome.CALLER_HUNG_UP)

    # then the backup heard it, the agent answered, and the refusal raised an alert
    assert [t["text"] for t in store.ordered_turns()] == ["hello", "Hi!"]
    assert ("provider_auth_failed", {"kind": "stt", "provider": "deepgram",
                                     "status": 403}) in store.events


@pytest.mark.asyncio
async def test_a_recogniser_refused_at_start_hands_over_when_the_agent_can_transfer():
    class Tools:
        def __init__(self) -> None:
            self.ran: list[ToolCall] = []

        async def run(self, calls: list[ToolCall]) -> list[ToolResult]:
            self.ran.extend(calls)
            return [ToolResult(c.id, c.name, {"transferred": True, "destination": "front desk"})
                    for c in calls]

    tools = Tools()
    transfer = ToolSpec(name="transfer_call", description="Transfer", parameters={})
    session, wire, store, tts = await make_session(
        llm=ScriptedLLM(), stt=RefusingSTT(401), greeting="", tools=tools,
        tool_specs=[transfer])

    await feed(session, SILENCE, 0.2)
    await asyncio.wait_for(session.wait_closed(), 10)

    assert [c.name for c in tools.ran] == ["transfer_call"]
    [agent] = [t for t in store.ordered_turns() if t["role"] == "agent"]
    assert agent["text"] == f"{CANNOT_HEAR} {HANDING_OVER}"
    assert store.closed["outcome"] == Outcome.TRANSFERRED


# -- what the call is billed for -----------------------------------------------------------------
@pytest.mark.asyncio
async def test_stt_is_billed_for_the_streamed_speech_only_to_the_provider_that_got_it():
    # given a 5 s call in which the caller speaks for 0.3 s, on a failover chain that switches
    # from a recogniser dying mid-call to its backup
    class DyingStream(STTStream):
        def __init__(self) -> None:
            self.failed = asyncio.Event()

        def feed(self, ulaw: bytes) -> None:
            pass

        def finalize(self) -> None:
            self.failed.set()

        async def transcripts(self):
            await self.failed.wait()
            raise ProviderError("deepgram: stream cut", provider="deepgram")
            yield  # pragma: no cover - makes this an async generator

        async def aclose(self) -> None:
            pass

    class Dying(STTProvider):
        name = "deepgram"

        async def open_stream(self, options: STTOptions) -> STTStream:
            return DyingStream()

    backup = ScriptedSTT(["second try"])
    backup.name = "pocketsphinx"
    chain = FailoverSTT([Dying(), backup], ttfb_budget_ms=1000)
    session, wire, store, tts = await make_session(
        llm=ScriptedLLM("Hello."), stt=chain, greeting="",
        before_start=lambda session: setattr(chain._chain, "on_failover",
                                             session.on_provider_failover))

    await feed(session, SILENCE, 2.0)
    await speak_once(session, 0.6)   # streamed to the first one, which then dies
    await speak_once(session, 2.0)   # streamed to the backup
    await session.finish(Outcome.CALLER_HUNG_UP)

    # then each recogniser is billed for the speech it was sent (0.3 s of speech plus up to
    # 0.4 s of pre-roll and the end-of-turn silence), not for the whole call
    stt = store.closed["cost"]["stt"]
    assert set(stt) == {"deepgram", "pocketsphinx"}
    assert 0.3 <= stt["deepgram"]["seconds"] <= 1.0
    assert 0.3 <= stt["pocketsphinx"]["seconds"] <= 1.0
    assert session.metrics["frames_in"] * 0.02 > 5


@pytest.mark.asyncio
async def test_the_vendors_own_latency_is_kept_on_the_turn():
    class TimedLLM(ScriptedLLM):
        async def respond(self, conversation):
            yield TextDelta("Sure.")
            yield Done(usage=Usage(input_tokens=10, output_tokens=2, latency_ms=412))

    session, wire, store, tts = await make_session(llm=TimedLLM(), stt_lines=["hi"],
                                                   greeting="")
    await speak_once(session, 1.5)
    await session.finish(Outcome.CALLER_HUNG_UP)

    agent = store.ordered_turns()[-1]
    assert agent["usage"]["provider_latency_ms"] == 412


# -- an LLM agent can hang up ------------------------------------------------------------------
class HangingUpLLM(LLMProvider):
    """Says goodbye and calls `end_call`, as Claude does with the built-in tool."""

    name = "scripted"

    def __init__(self, text: str = "Thanks for calling, goodbye!") -> None:
        self.text = text
        self.rounds = 0
        self.offered: list[str] = []

    async def respond(self, conversation: Conversation) -> AsyncIterator[BrainEvent]:
        self.rounds += 1
        self.offered = [tool.name for tool in conversation.tools]
        if self.text:
            yield TextDelta(self.text)
        yield ToolCall("t1", "end_call", {})
        yield Done(stop_reason="tool_use")


@pytest.mark.asyncio
@pytest.mark.parametrize(("said", "heard"), [("Thanks for calling, goodbye!",
                                              "Thanks for calling, goodbye!"),
                                             ("", GOODBYE_LINE)])
async def test_an_llm_agent_hangs_up_after_its_goodbye_is_heard(said, heard):
    llm = HangingUpLLM(said)
    session, wire, store, tts = await make_session(
        llm=llm, stt_lines=["that's all, bye"], greeting="",
        tool_specs=with_call_control([], llm_provider="bedrock"))

    await speak_once(session, 0.5)
    await asyncio.wait_for(session.wait_closed(), 10)

    # the model was offered end_call, said (or we said) goodbye, and the call ended after it
    # played, in one round (no second LLM request) and without any tool dispatch
    assert llm.offered == ["end_call", "forget_caller"] and llm.rounds == 1
    assert store.ordered_turns()[-1]["text"] == heard
    assert store.ordered_turns()[-1]["interrupted"] is False
    assert store.closed["outcome"] == Outcome.AGENT_ENDED
    assert ("call_ended_by_agent", {"reason": "agent_ended"}) in store.events


def test_call_control_is_offered_to_language_models_not_the_offline_brain():
    booking = ToolSpec(name="book", description="Book", parameters={})
    assert [t.name for t in with_call_control([booking], llm_provider="bedrock")] == [
        "book", "end_call", "forget_caller"]
    assert with_call_control([booking], llm_provider="offline") == [booking]


# -- a voice that does not exist ----------------------------------------------------------------
@pytest.mark.asyncio
async def test_an_unknown_voice_falls_back_to_the_providers_default_not_to_silence():
    from calls.realtime.providers.tts.base import TTSOptions, TTSProvider

    class PickyTTS(TTSProvider):
        """Knows only its default voice, like hibari with one installed voice."""

        name = "hibari"

        def __init__(self) -> None:
            self.voices: list[str] = []

        async def synthesize(self, text: str, options: TTSOptions):
            self.voices.append(options.voice)
            if options.voice:
                raise ValueError(f"unknown hibari voice {options.voice!r}")
            yield b"\x22" * 800

    session, wire, store, _ = await make_session(
        llm=ScriptedLLM("We open at nine.", "Yes, Saturdays too."),
        stt_lines=["when do you open", "saturdays?"], greeting="",
        tts_options=TTSOptions(voice="bella"), tts=(tts := PickyTTS()))

    await speak_once(session, 1.5)
    await speak_once(session, 1.5)
    await session.finish(Outcome.CALLER_HUNG_UP)

    # the caller heard both answers in the default voice; the switch was recorded once
    agent_turns = [t["text"] for t in store.ordered_turns() if t["role"] == "agent"]
    assert agent_turns == ["We open at nine.", "Yes, Saturdays too."]
    assert tts.voices == ["bella", "", ""]
    assert [p for kind, p in store.events if kind == "voice_fallback"] == [
        {"voice": "bella", "error": "unknown hibari voice 'bella'"}]
