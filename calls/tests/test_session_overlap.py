"""Caller speech over the agent, with a recogniser that reports words while the caller speaks:
backchannels and noise hold the agent briefly and it resumes where it paused; real words or
long speech are a barge-in."""

import asyncio

import pytest

from calls.models import Outcome
from calls.realtime.backchannel import interrupts, is_backchannel
from calls.realtime.providers.llm.instant import InstantLLM
from calls.realtime.providers.stt.base import STTOptions, STTProvider, STTStream, Transcript
from calls.realtime.turn_taking import HOLD_COMMIT_SPEECH_MS
from calls.tests.session_harness import SILENCE, SPEECH, ScriptedSTTStream, feed, make_session

LONG_REPLY = " ".join(["Our full price list is long."] * 6)


class InterimSTTStream(ScriptedSTTStream):
    """The scripted recogniser, with interim words the test hands it while the caller speaks."""

    hears_words_while_speaking = True

    def interim(self, text: str) -> None:
        self.queue.put_nowait(Transcript(text=text, is_final=False))


class InterimSTT(STTProvider):
    def __init__(self, lines: list[str]) -> None:
        self.stream = InterimSTTStream(list(lines))

    async def open_stream(self, options: STTOptions) -> STTStream:
        return self.stream


async def _talking_agent(*finals: str):
    """A session whose agent is 0.8 s into a 6 s reply to "prices please"."""
    stt = InterimSTT(["prices please", *finals])
    llm = InstantLLM(LONG_REPLY)
    session, wire, store, _ = await make_session(llm=llm, stt=stt, greeting="",
                                                 end_of_turn_silence_ms=700)
    await feed(session, SPEECH, 0.3)
    await feed(session, SILENCE, 1.5)  # 0.7 s to end the turn, then the reply plays
    assert wire.media_frames()
    return session, wire, store, stt.stream, llm


def _reply_audio_bytes(wire) -> int:
    return sum(len(frame) for frame in wire.media_frames())


@pytest.mark.asyncio
async def test_a_backchannel_pauses_the_agent_briefly_and_it_resumes_without_a_clear():
    session, wire, store, stt, llm = await _talking_agent("uh huh")
    await feed(session, SPEECH, 0.3)  # "uh-huh": the agent is held at 120 ms of speech
    assert session._outbound.paused
    held_frames = len(wire.media_frames())
    stt.interim("uh huh")
    await feed(session, SILENCE, 0.2)
    assert len(wire.media_frames()) == held_frames  # nothing plays while it is held
    await feed(session, SILENCE, 1.0)  # resumed at 360 ms; the turn's final comes at 700 ms
    assert len(wire.media_frames()) > held_frames
    await feed(session, SILENCE, 6.0)
    await session.finish(Outcome.CALLER_HUNG_UP)

    assert "clear" not in wire.events()
    turns = store.ordered_turns()
    assert [t["role"] for t in turns] == ["caller", "agent"]  # "uh huh" is no turn
    assert turns[1]["text"] == LONG_REPLY and turns[1]["interrupted"] is False
    assert llm.rounds == 1  # and nothing answered it
    kinds = [kind for kind, _ in store.events]
    assert "agent_resumed" in kinds and "backchannel" in kinds and "barge_in" not in kinds
    assert session.metrics["holds"] == 1 and session.metrics["resumes"] == 1
    assert session.metrics["backchannels"] == 1
    # Nothing was dropped: every byte of the reply went out (the pause only delayed it).
    assert _reply_audio_bytes(wire) == session._outbound.total_enqueued


@pytest.mark.asyncio
async def test_a_cough_with_no_words_resumes_the_agent_where_it_paused():
    session, wire, store, stt, llm = await _talking_agent("")
    await feed(session, SPEECH, 0.2)
    await feed(session, SILENCE, 7.0)
    await session.finish(Outcome.CALLER_HUNG_UP)

    assert "clear" not in wire.events()
    agent = store.ordered_turns()[-1]
    assert agent["text"] == LONG_REPLY and agent["interrupted"] is False
    resumed = [payload for kind, payload in store.events if kind == "agent_resumed"]
    assert resumed and 300 <= resumed[0]["paused_ms"] < 1000 and resumed[0]["heard"] == ""
    assert _reply_audio_bytes(wire) == session._outbound.total_enqueued


@pytest.mark.asyncio
async def test_real_words_over_the_agent_are_a_barge_in_as_soon_as_they_are_heard():
    session, wire, store, stt, llm = await _talking_agent("wait how much is a cleaning")
    await feed(session, SPEECH, 0.3)
    assert "clear" not in wire.events()  # held, not yet cut
    stt.interim("wait how")
    await asyncio.sleep(0.01)
    assert wire.events()[-1] == "clear"
    await feed(session, SPEECH, 0.4)
    await feed(session, SILENCE, 1.5)
    await session.finish(Outcome.CALLER_HUNG_UP)

    turns = store.ordered_turns()
    assert turns[1]["interrupted"] is True and len(turns[1]["text"]) < len(LONG_REPLY)
    assert turns[2] == {**turns[2], "role": "caller", "text": "wait how much is a cleaning"}
    assert llm.rounds == 2  # the interruption is answered
    assert session.metrics["barge_ins"] == 1 and session.metrics["resumes"] == 0
    # The reaction is when the agent fell silent (the hold), not when the words came.
    assert session.metrics["barge_in_reaction_ms"][0] < 250


@pytest.mark.asyncio
async def test_long_speech_over_the_agent_interrupts_even_before_any_words():
    session, wire, store, stt, llm = await _talking_agent("let me explain what happened")
    await feed(session, SPEECH, HOLD_COMMIT_SPEECH_MS / 1000 - 0.1)
    assert "clear" not in wire.events()
    await feed(session, SPEECH, 0.3)
    assert "clear" in wire.events()
    await feed(session, SILENCE, 1.5)
    await session.finish(Outcome.CALLER_HUNG_UP)
    assert store.ordered_turns()[1]["interrupted"] is True
    assert store.ordered_turns()[2]["text"] == "let me explain what happened"


@pytest.mark.asyncio
async def test_yes_after_the_agent_finished_is_an_answer_not_a_backchannel():
    session, wire, store, stt, llm = await _talking_agent("yes")
    await feed(session, SILENCE, 6.0)  # the reply plays out
    await feed(session, SPEECH, 0.3)
    await feed(session, SILENCE, 1.5)
    await session.finish(Outcome.CALLER_HUNG_UP)
    assert [t["text"] for t in store.ordered_turns() if t["role"] == "caller"][-1] == "yes"
    assert llm.rounds == 2


@pytest.mark.asyncio
async def test_a_stray_word_over_the_agent_is_no_turn_and_it_carries_on():
    # A door, as the recogniser heard it.
    session, wire, store, stt, llm = await _talking_agent("at")
    await feed(session, SPEECH, 0.2)
    stt.interim("at")
    await feed(session, SILENCE, 7.0)
    await session.finish(Outcome.CALLER_HUNG_UP)
    assert "clear" not in wire.events() and llm.rounds == 1
    assert [t["role"] for t in store.ordered_turns()] == ["caller", "agent"]
    assert ("overlap_ignored", {"text": "at"}) in store.events


@pytest.mark.parametrize("text, expected", [
    ("uh-huh", True), ("uh huh", True), ("okay", True), ("yeah yeah", True), ("right", True),
    ("mhm", True), ("hmm", True), ("oh i see", True), ("okay great", True),
    ("", False), ("wait", False), ("no", False), ("yes please book it", False),
    ("okay but what about saturday", False), ("the", False),
])
def test_backchannel_words(text, expected):
    assert is_backchannel(text) is expected


@pytest.mark.parametrize("text, expected", [
    ("uh huh", False), ("okay", False), ("", False), ("at", False), ("i'm", False),
    ("can i", False), ("wait", True), ("no", True), ("sorry can i", True),
    ("i have a question", True), ("okay but what about saturday", True), ("hold on", True),
])
def test_which_words_take_the_floor(text, expected):
    assert interrupts(text) is expected


@pytest.mark.asyncio
async def test_a_short_no_over_the_agent_interrupts_it_by_its_word():
    session, wire, store, stt, llm = await _talking_agent("no")
    await feed(session, SPEECH, 0.1)  # under the barge-in minimum: never held
    stt.interim("no")
    await asyncio.sleep(0.01)
    assert wire.events()[-1] == "clear"
    await feed(session, SILENCE, 1.5)
    await session.finish(Outcome.CALLER_HUNG_UP)
    assert store.ordered_turns()[1]["interrupted"] is True
    assert 0 <= session.metrics["barge_in_reaction_ms"][0] < 500
