"""Taking an answer back: a caller who goes on with their sentence moments after the words-aware
end of turn answered it gets one turn, the whole sentence, and an answer to all of it."""

import pytest

from calls.models import Outcome
from calls.realtime.providers.llm.base import ToolCall, ToolResult
from calls.realtime.providers.llm.instant import InstantLLM
from calls.tests.session_harness import SILENCE, SPEECH, feed, make_session
from calls.tests.test_session_turn_end import CoveringSTT


def _echo(conversation) -> str:
    """The reply names what the brain was asked: the last caller message."""
    last = [m.text for m in conversation.messages if m.role == "user"][-1]
    return f"You said {last}."


async def _call(*finals: str, smart: bool = True, **options):
    stt = CoveringSTT(list(finals))
    llm = options.pop("llm", None) or InstantLLM(_echo)
    session, wire, store, tts = await make_session(
        llm=llm, stt=stt, greeting="", end_of_turn_silence_ms=700, smart_end_of_turn=smart,
        **options)
    return session, store, stt.stream, tts


async def _say(session, stt, words: str, seconds: float = 0.6) -> None:
    """Caller speech whose interim words cover it."""
    await feed(session, SPEECH, seconds)
    stt.interim(words)


async def _two_parts(session, stt, first: str, gap_s: float, second: str) -> None:
    """The caller says `first`, is quiet for `gap_s`, says `second`; then the call ends."""
    await _say(session, stt, first)
    await feed(session, SILENCE, gap_s)
    await _say(session, stt, second)
    await feed(session, SILENCE, 1.2)
    await session.finish(Outcome.CALLER_HUNG_UP)


def _callers(store) -> list[str]:
    return [t["text"] for t in store.ordered_turns() if t["role"] == "caller"]


@pytest.mark.asyncio
async def test_going_on_after_a_pause_that_sounded_final_makes_one_turn_answered_whole():
    session, store, stt, tts = await _call("i want to book an appointment", "for my daughter")
    await _say(session, stt, "i want to book an appointment")
    await feed(session, SILENCE, 0.5)  # answered at 300 ms; its first words are playing
    assert tts.spoken[0].startswith("You said i want to book an appointment")

    await _say(session, stt, "for my daughter")
    await feed(session, SILENCE, 1.2)
    await session.finish(Outcome.CALLER_HUNG_UP)

    assert _callers(store) == ["i want to book an appointment for my daughter"]
    caller = [t for t in store.ordered_turns() if t["role"] == "caller"][0]
    assert caller["start_ms"] < 100 and caller["end_ms"] >= 1000  # spans both parts
    assert tts.spoken[-1] == "You said i want to book an appointment for my daughter."
    assert [m.role for m in session.conversation.messages] == ["user", "assistant"]
    assert session.metrics["turns_continued"] == 1
    continued = [payload for kind, payload in store.events if kind == "turn_continued"]
    assert len(continued) == 1 and continued[0]["heard_ms"] < 1000


@pytest.mark.asyncio
async def test_a_one_word_rest_of_the_sentence_is_not_taken_for_a_backchannel():
    # "locked" alone over the agent would be too short to interrupt it
    session, store, stt, tts = await _call("i think my account is locked out", "locked")
    await _say(session, stt, "i think my account is locked out")
    await feed(session, SILENCE, 0.4)
    await _say(session, stt, "locked", seconds=0.3)
    await feed(session, SILENCE, 1.2)
    await session.finish(Outcome.CALLER_HUNG_UP)

    assert _callers(store) == ["i think my account is locked out locked"]
    assert not [kind for kind, _ in store.events if kind == "backchannel"]


@pytest.mark.asyncio
async def test_speech_after_the_caller_heard_the_answer_is_a_turn_of_its_own():
    session, store, stt, tts = await _call("what time do you open", "and on sunday")
    # 1.6 s: past the window, they heard the answer
    await _two_parts(session, stt, "what time do you open", 1.6, "and on sunday")

    assert _callers(store) == ["what time do you open", "and on sunday"]
    assert session.metrics["turns_continued"] == 0


@pytest.mark.asyncio
async def test_with_the_fixed_silence_turns_end_where_they_always_did():
    session, store, stt, tts = await _call("i want to book an appointment", "for my daughter",
                                           smart=False)
    await _two_parts(session, stt, "i want to book an appointment", 0.75, "for my daughter")

    assert _callers(store) == ["i want to book an appointment", "for my daughter"]
    assert session.metrics["turns_continued"] == 0


@pytest.mark.asyncio
async def test_an_answer_that_ran_a_tool_is_not_taken_back():
    class Tools:
        def __init__(self) -> None:
            self.ran: list[str] = []

        async def run(self, calls: list[ToolCall]) -> list[ToolResult]:
            self.ran.extend(c.name for c in calls)
            return [ToolResult(c.id, c.name, {"ok": True}) for c in calls]

    tools = Tools()
    llm = InstantLLM("Booked.", tool_calls=[ToolCall("a", "book", {})])
    session, store, stt, tts = await _call("yes book it", "for tuesday", llm=llm, tools=tools)
    await _two_parts(session, stt, "yes book it", 0.45, "for tuesday")

    assert _callers(store) == ["yes book it", "for tuesday"]
    assert tools.ran == ["book", "book"]  # once per caller turn: the booking stands
    assert session.metrics["turns_continued"] == 0


@pytest.mark.asyncio
async def test_words_that_arrive_after_the_caller_went_on_begin_the_turn_still_spoken():
    # the recogniser's words for the first part come 400 ms after its turn ended, by when the
    # caller is speaking again: nothing was answered yet, so the two parts are one turn
    from calls.tests.test_session_turn_end import LateFinalSTT

    stt = LateFinalSTT(["my number is five five five", "two zero one nine"])
    session, _, store, tts = await make_session(
        llm=InstantLLM(_echo), stt=stt, greeting="", end_of_turn_silence_ms=700,
        smart_end_of_turn=True)
    await feed(session, SPEECH, 0.6)
    await feed(session, SILENCE, 0.8)  # the turn ends at 700 ms; its words are late
    await feed(session, SPEECH, 0.6)  # the caller goes on before they arrive
    await feed(session, SILENCE, 1.6)
    await session.finish(Outcome.CALLER_HUNG_UP)

    (caller,) = [t for t in store.ordered_turns() if t["role"] == "caller"]
    assert caller["text"] == "my number is five five five two zero one nine"
    assert caller["start_ms"] < 100 and caller["end_ms"] >= 1900
    assert tts.spoken == ["You said my number is five five five two zero one nine."]


@pytest.mark.asyncio
async def test_going_on_while_the_brain_still_thinks_makes_one_turn():
    # nothing of the answer is audible yet (the brain takes 600 ms): the caller heard nothing
    session, store, stt, tts = await _call(
        "i want to book an appointment", "for my daughter",
        llm=InstantLLM(_echo, first_token_ms=600))
    await _say(session, stt, "i want to book an appointment")
    await feed(session, SILENCE, 0.45)
    await _say(session, stt, "for my daughter")
    await feed(session, SILENCE, 2.0)
    await session.finish(Outcome.CALLER_HUNG_UP)

    assert _callers(store) == ["i want to book an appointment for my daughter"]
    assert tts.spoken[-1] == "You said i want to book an appointment for my daughter."
    continued = [payload for kind, payload in store.events if kind == "turn_continued"]
    assert continued == [{"turn": 0, "heard_ms": 0}]
