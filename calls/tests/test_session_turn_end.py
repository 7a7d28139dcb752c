"""Words-aware end of turn: interim words that cover the caller's last sound set how much quiet
ends the turn — a finished sentence is answered after 300 ms, an unfinished one waits twice the
agent's silence, and without such words the agent's silence decides as before."""

import asyncio

import pytest

from calls.models import Outcome
from calls.realtime.providers.llm.instant import InstantLLM
from calls.realtime.providers.stt.base import STTOptions, STTProvider, STTStream, Transcript
from calls.realtime.turn_words import sounds_finished
from calls.tests.session_harness import (
    FAINT_SPEECH,
    SILENCE,
    SPEECH,
    ScriptedSTTStream,
    feed,
    make_session,
)


class CoveringSTTStream(ScriptedSTTStream):
    """The scripted recogniser, with interim words covering the audio fed so far (or less)."""

    hears_words_while_speaking = True

    def interim(self, text: str, *, behind_ms: int = 0) -> None:
        covered = self.frames * 20 - behind_ms
        self.queue.put_nowait(Transcript(text=text, is_final=False, end_ms=covered))


class CoveringSTT(STTProvider):
    def __init__(self, lines: list[str]) -> None:
        self.stream = CoveringSTTStream(list(lines))

    async def open_stream(self, options: STTOptions) -> STTStream:
        return self.stream


async def _listening(*finals: str, smart: bool = True):
    stt = CoveringSTT(list(finals))
    session, wire, store, _ = await make_session(
        llm=InstantLLM("Sure."), stt=stt, greeting="", end_of_turn_silence_ms=700,
        smart_end_of_turn=smart)
    return session, store, stt.stream


async def _quiet_until_turn_ends(session, limit_s: float = 2.0) -> int:
    """Milliseconds of silence fed until the caller's turn ended (the recogniser finalised)."""
    for step in range(int(limit_s / 0.02)):
        if not session._caller_speaking:
            return step * 20
        await feed(session, SILENCE, 0.02)
    return -1


@pytest.mark.asyncio
async def test_finished_words_are_answered_after_a_short_pause():
    session, store, stt = await _listening("book me for tuesday please")
    await feed(session, SPEECH, 0.6)
    stt.interim("book me for tuesday please")

    waited = await _quiet_until_turn_ends(session)

    assert 280 <= waited <= 360  # not the agent's 700 ms
    await feed(session, SILENCE, 0.3)
    assert [t["text"] for t in store.ordered_turns() if t["role"] == "caller"] == [
        "book me for tuesday please"]
    assert session.metrics["turn_ends_finished_words"] == 1
    await session.finish(Outcome.CALLER_HUNG_UP)


@pytest.mark.asyncio
@pytest.mark.parametrize("smart", [True, False])
async def test_the_quiet_counts_from_the_voice_not_its_faint_tail(smart):
    # given a caller whose last word fades out: 200 ms the detector still calls speech, faint
    session, store, stt = await _listening("book me for tuesday please", smart=smart)
    await feed(session, SPEECH, 0.6)
    stt.interim("book me for tuesday please")
    voice_end_t = session._last_voice_t
    await feed(session, FAINT_SPEECH, 0.2)
    assert session._caller_speaking

    waited = await _quiet_until_turn_ends(session)

    # then the turn ends the usual quiet after the voice (300 ms for finished words, else the
    # agent's 700), 200 ms of it spent in the fading tail
    expected = 300 if smart else 700
    assert expected - 220 <= waited <= expected - 140
    assert session._caller_end_t == voice_end_t
    await session.finish(Outcome.CALLER_HUNG_UP)


@pytest.mark.asyncio
async def test_faint_speech_alone_does_not_start_a_turn():
    session, store, stt = await _listening("hello")
    await feed(session, FAINT_SPEECH, 0.5)
    assert not session._caller_speaking
    await feed(session, SPEECH, 0.1)  # the voice starts the turn at once
    assert session._caller_speaking
    await session.finish(Outcome.CALLER_HUNG_UP)


@pytest.mark.asyncio
async def test_a_turn_that_ends_in_faint_speech_leaves_the_next_its_own_start():
    # given a finished sentence followed by half a second the detector calls faint speech
    session, store, stt = await _listening("book me for tuesday please", "and my name is sam")
    await feed(session, SPEECH, 0.6)
    stt.interim("book me for tuesday please")
    await feed(session, FAINT_SPEECH, 0.5)
    assert not session._caller_speaking  # the faint run ended the turn, as quiet does
    ended_t = session._caller_end_t
    # when the caller's voice comes back with no silence between
    await feed(session, SPEECH, 0.1)
    # then a new turn has begun after the first one's end, not at the first one's start
    assert session._caller_speaking
    assert session._caller_start_t > ended_t + 0.2
    await session.finish(Outcome.CALLER_HUNG_UP)


@pytest.mark.asyncio
async def test_an_unfinished_number_waits_past_the_agents_silence_for_the_rest():
    session, store, stt = await _listening("my number is five five five zero one two three")
    await feed(session, SPEECH, 0.8)
    stt.interim("my number is five five five")
    await feed(session, SILENCE, 1.1)  # a pause the fixed 700 ms would have cut
    assert session._caller_speaking
    await feed(session, SPEECH, 0.8)
    stt.interim("my number is five five five zero one two three")

    waited = await _quiet_until_turn_ends(session)

    assert 280 <= waited <= 360
    await feed(session, SILENCE, 0.3)
    callers = [t["text"] for t in store.ordered_turns() if t["role"] == "caller"]
    assert callers == ["my number is five five five zero one two three"]  # one turn, whole
    await session.finish(Outcome.CALLER_HUNG_UP)


@pytest.mark.asyncio
async def test_unfinished_words_still_end_the_turn_after_twice_the_silence():
    session, _, stt = await _listening("i would like to")
    await feed(session, SPEECH, 0.6)
    stt.interim("i would like to")

    waited = await _quiet_until_turn_ends(session, limit_s=3.0)

    assert 1380 <= waited <= 1460
    assert session.metrics["turn_ends_unfinished_words"] == 1
    await session.finish(Outcome.CALLER_HUNG_UP)


@pytest.mark.asyncio
async def test_words_that_do_not_cover_the_last_sound_are_not_judged():
    session, _, stt = await _listening("yes")
    await feed(session, SPEECH, 0.6)
    stt.interim("yes", behind_ms=200)  # the recogniser has not decoded the end yet

    assert 680 <= await _quiet_until_turn_ends(session) <= 760
    await session.finish(Outcome.CALLER_HUNG_UP)


@pytest.mark.asyncio
async def test_speech_after_the_verdict_needs_new_words():
    session, _, stt = await _listening("yes and also tuesday")
    await feed(session, SPEECH, 0.5)
    stt.interim("yes")
    await feed(session, SILENCE, 0.2)
    await feed(session, SPEECH, 0.4)  # they went on before the 300 ms: "yes" no longer judges

    assert 680 <= await _quiet_until_turn_ends(session) <= 760
    await session.finish(Outcome.CALLER_HUNG_UP)


@pytest.mark.asyncio
async def test_off_the_agents_silence_alone_ends_turns():
    session, _, stt = await _listening("book me for tuesday please", smart=False)
    await feed(session, SPEECH, 0.6)
    stt.interim("book me for tuesday please")

    assert 680 <= await _quiet_until_turn_ends(session) <= 760
    await session.finish(Outcome.CALLER_HUNG_UP)


@pytest.mark.parametrize("text, finished", [
    ("book me for tuesday please", True),
    ("yes", True),
    ("table for two", True),
    ("five five five zero one two three", True),
    ("i'd like to book an appointment", True),
    ("my number is", False),
    ("i'd like to book an appointment for", False),
    ("um", False),
    ("it's for next", False),
    ("my number is five five five", False),
    ("five five five one two three", False),
    ("", None),
])
def test_what_sounds_finished(text, finished):
    assert sounds_finished(text) is finished


@pytest.mark.asyncio
async def test_words_read_two_ways_leave_the_end_to_the_agents_silence():
    # the recogniser's two decoders disagree about the last word before the pause: "it" or
    # "is"; one reading plainly goes on, so the words are not sure: not answered at 300 ms,
    # and not kept waiting past the agent's silence either
    session, _, stt = await _listening("my name is maria")
    await feed(session, SPEECH, 0.6)
    stt.queue.put_nowait(Transcript(text="my name it", is_final=False,
                                    end_ms=stt.frames * 20, alternatives=("my name is",)))

    assert 680 <= await _quiet_until_turn_ends(session) <= 760
    await session.finish(Outcome.CALLER_HUNG_UP)


class LateFinalSTT(STTProvider):
    """A recogniser whose final words arrive 400 ms after the turn ended."""

    def __init__(self, lines: list[str]) -> None:
        self.stream = ScriptedSTTStream(list(lines))
        finalize = self.stream.finalize

        def late() -> None:
            asyncio.get_running_loop().call_later(0.4, finalize)

        self.stream.finalize = late

    async def open_stream(self, options: STTOptions) -> STTStream:
        return self.stream


@pytest.mark.asyncio
async def test_a_turn_keeps_its_own_times_when_its_words_come_after_the_caller_goes_on():
    session, _, store, _ = await make_session(
        llm=InstantLLM("Sure."), stt=LateFinalSTT(["do you have any", "vegetarian dishes"]),
        greeting="", end_of_turn_silence_ms=700)
    await feed(session, SPEECH, 0.6)
    await feed(session, SILENCE, 0.8)  # the turn ends at 700 ms; its words are late
    await feed(session, SPEECH, 0.6)  # the caller goes on before they arrive
    await feed(session, SILENCE, 1.5)
    await session.finish(Outcome.CALLER_HUNG_UP)

    first, second = [t for t in store.ordered_turns() if t["role"] == "caller"]
    assert first["text"] == "do you have any"
    assert first["start_ms"] < 100 and 550 <= first["end_ms"] <= 700  # not the second's times
    assert 1300 <= second["start_ms"] <= 1500 and second["end_ms"] > second["start_ms"]
