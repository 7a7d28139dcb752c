"""An outbound call answered by a machine: the agent stops, leaves its message, hangs up."""

from __future__ import annotations

import asyncio

import pytest

from calls.models import Outcome
from calls.realtime.providers.llm.instant import InstantLLM
from calls.tests.session_harness import SILENCE, SPEECH, feed, make_session

MESSAGE = "Hi Ana, this is Acme Dental. Please call us back."


async def _hung_up_session(**config):
    hung_up = asyncio.Event()

    async def hangup() -> None:
        hung_up.set()

    session, wire, store, tts = await make_session(
        llm=InstantLLM("Sure, what day suits you?"), stt_lines=["leave a message"],
        greeting="Hi Ana, this is Acme Dental calling about your appointment tomorrow.",
        hangup=hangup, **config)
    return session, wire, store, tts, hung_up


@pytest.mark.asyncio
async def test_at_the_beep_the_agent_leaves_its_message_and_hangs_up():
    # given an outbound call greeting a machine (its greeting talks over ours)
    session, wire, store, tts, hung_up = await _hung_up_session(voicemail_message=MESSAGE)
    await feed(session, SPEECH, 0.4)
    # when machine detection reports the end of the machine's greeting
    session.on_answered_by("machine_end_beep")
    # and the machine's tail is heard while the message plays
    await feed(session, SPEECH, 0.5)
    await feed(session, SILENCE, 1.0)
    await asyncio.wait_for(session.wait_closed(), 3)
    # then what was playing was cleared, the message was spoken whole, and the call hung up
    assert "clear" in wire.events()
    agent_turns = [turn for turn in store.ordered_turns() if turn["role"] == "agent"]
    assert agent_turns[-1]["text"] == MESSAGE and agent_turns[-1]["interrupted"] is False
    assert "Sure, what day suits you?" not in tts.spoken  # the machine's words got no answer
    assert hung_up.is_set()
    assert store.closed["outcome"] == Outcome.VOICEMAIL
    assert ("answering_machine", {"answered_by": "machine_end_beep"}) in store.events


@pytest.mark.asyncio
async def test_a_message_made_while_the_call_rang_plays_without_the_voice():
    from calls.realtime.opening_audio import clauses_of

    prepared = {clause: bytes([0x20 + i]) * 1600 for i, clause in enumerate(clauses_of([MESSAGE]))}
    session, wire, store, tts, hung_up = await _hung_up_session(
        voicemail_message=MESSAGE, answered_by="machine_end_silence", opening_audio=prepared)
    await feed(session, SILENCE, 0.6)
    await asyncio.wait_for(session.wait_closed(), 3)
    assert tts.spoken == []
    assert b"".join(prepared.values()) in b"".join(wire.media_frames())
    assert store.closed["outcome"] == Outcome.VOICEMAIL


@pytest.mark.asyncio
async def test_a_machine_known_before_the_stream_gets_only_the_message():
    session, wire, store, tts, hung_up = await _hung_up_session(
        voicemail_message=MESSAGE, answered_by="machine_end_silence")
    await feed(session, SILENCE, 0.6)
    await asyncio.wait_for(session.wait_closed(), 3)
    assert " ".join(tts.spoken) == MESSAGE  # spoken clause by clause, nothing else
    assert store.closed["outcome"] == Outcome.VOICEMAIL


@pytest.mark.asyncio
@pytest.mark.parametrize(("answered_by", "message"), [("fax", MESSAGE), ("machine_end_beep", "")])
async def test_a_fax_or_an_agent_without_a_message_hangs_up(answered_by, message):
    session, wire, store, tts, hung_up = await _hung_up_session(voicemail_message=message)
    session.on_answered_by(answered_by)
    await asyncio.wait_for(session.wait_closed(), 3)
    assert hung_up.is_set()
    assert store.closed["outcome"] == Outcome.MACHINE


@pytest.mark.asyncio
async def test_a_person_is_talked_to_as_usual():
    session, wire, store, tts, hung_up = await _hung_up_session(voicemail_message=MESSAGE)
    session.on_answered_by("human")
    await feed(session, SILENCE, 2.5)  # the greeting plays out
    await feed(session, SPEECH, 0.3)
    await feed(session, SILENCE, 1.0)
    assert "Sure, what day suits you?" in tts.spoken
    assert MESSAGE not in tts.spoken
    assert not session.finished
    await session.finish(Outcome.CALLER_HUNG_UP)


REPLY = "Sure, what day suits you?"


@pytest.mark.asyncio
async def test_a_machine_greeting_that_pauses_is_not_answered_while_detection_listens():
    # given an outbound call whose verdict is still to come, answered by a box whose greeting
    # pauses between its sentences like a person ending a turn
    session, wire, store, tts, hung_up = await _hung_up_session(
        voicemail_message=MESSAGE, awaiting_machine_verdict=True)
    await feed(session, SPEECH, 0.4)  # "Hi, you have reached Sam."
    await feed(session, SILENCE, 0.6)  # the turn ended and its words came: the reply waits
    assert REPLY not in tts.spoken
    await feed(session, SPEECH, 0.4)  # "Please leave a message after the tone."
    # when detection reports the beep
    session.on_answered_by("machine_end_beep")
    await feed(session, SILENCE, 1.0)
    await asyncio.wait_for(session.wait_closed(), 3)
    # then the box was never answered, only given the message
    assert REPLY not in tts.spoken
    assert store.closed["outcome"] == Outcome.VOICEMAIL
    assert [t["text"] for t in store.ordered_turns() if t["role"] == "agent"][-1] == MESSAGE


@pytest.mark.asyncio
async def test_a_person_is_answered_as_soon_as_detection_says_human():
    session, wire, store, tts, hung_up = await _hung_up_session(
        voicemail_message=MESSAGE, awaiting_machine_verdict=True)
    await feed(session, SILENCE, 1.5)  # the greeting plays
    await feed(session, SPEECH, 0.3)  # "Hello?"
    await feed(session, SILENCE, 0.5)
    assert REPLY not in tts.spoken
    session.on_answered_by("human")
    await feed(session, SILENCE, 0.3)
    assert REPLY in tts.spoken and MESSAGE not in tts.spoken
    assert 300 <= session.metrics["machine_verdict_wait_ms"] <= 600
    await session.finish(Outcome.CALLER_HUNG_UP)


@pytest.mark.asyncio
async def test_without_a_verdict_the_caller_waits_once_and_not_again():
    # given detection that never reports (lost callback)
    session, wire, store, tts = await make_session(
        llm=InstantLLM(REPLY), stt_lines=["hello", "is anyone there"],
        voicemail_message=MESSAGE, awaiting_machine_verdict=True)
    await feed(session, SILENCE, 1.5)
    await feed(session, SPEECH, 0.3)
    await feed(session, SILENCE, 0.8)
    assert tts.spoken.count(REPLY) == 0  # still waiting for the verdict
    await feed(session, SILENCE, 0.8)  # VERDICT_WAIT_S after the words: answered
    assert tts.spoken.count(REPLY) == 1
    await feed(session, SILENCE, 1.0)
    # then the next turn is answered at once
    await feed(session, SPEECH, 0.3)
    await feed(session, SILENCE, 0.4)
    assert tts.spoken.count(REPLY) == 2
    await session.finish(Outcome.CALLER_HUNG_UP)


@pytest.mark.asyncio
async def test_a_greeting_that_goes_on_after_its_pause_keeps_the_reply_waiting():
    # given a box whose second sentence runs past VERDICT_WAIT_S after the first one ended
    session, wire, store, tts, hung_up = await _hung_up_session(
        voicemail_message=MESSAGE, awaiting_machine_verdict=True)
    await feed(session, SPEECH, 0.4)
    await feed(session, SILENCE, 0.5)  # the first sentence's turn ended: its reply waits
    await feed(session, SPEECH, 1.6)  # the greeting goes on longer than the wait
    assert REPLY not in tts.spoken
    # when detection reports the beep
    session.on_answered_by("machine_end_beep")
    await feed(session, SILENCE, 1.0)
    await asyncio.wait_for(session.wait_closed(), 3)
    # then the box was still never answered
    assert REPLY not in tts.spoken
    assert store.closed["outcome"] == Outcome.VOICEMAIL
