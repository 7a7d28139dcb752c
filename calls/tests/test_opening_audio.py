"""The opening of a call, prepared before anyone calls (calls/realtime/opening_audio.py): audio
kept per clause, played at once without the voice, kept by a call that had to make it (never a
caller's name), made when an agent is saved (agents/opening.py)."""

from __future__ import annotations

import asyncio

import pytest
from django.core.cache import cache

from calls.models import Outcome
from calls.realtime.opening_audio import (
    audio_key,
    cached_opening,
    clauses_of,
    keep_clause,
    prepare_opening,
)
from calls.realtime.providers.llm.instant import InstantLLM
from calls.tests.session_harness import SILENCE, WordTTS, feed, make_session

GREETING = "Hello there, how can I help?"
KEY = {"provider": "base", "voice": "", "language": "en-US"}  # WordTTS is named "base"


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def test_clauses_are_split_as_the_call_speaks_them():
    assert clauses_of([GREETING, "This call may be recorded."]) == [
        "Hello there,", "how can I help?", "This call may be recorded."]


@pytest.mark.asyncio
async def test_a_prepared_opening_plays_without_the_voice_and_is_not_billed_again():
    prepared = {"Hello there,": b"\x11" * 3200, "how can I help?": b"\x12" * 3200}
    session, wire, store, tts = await make_session(
        llm=InstantLLM("unused"), opening_audio=prepared)
    await feed(session, SILENCE, 1.2)
    await session.finish(Outcome.CALLER_HUNG_UP)

    assert tts.spoken == []  # nothing synthesised
    audio = b"".join(wire.media_frames())
    assert audio.startswith(b"\x11" * 3200) and b"\x12" * 3200 in audio
    assert store.ordered_turns()[0]["text"] == GREETING
    assert not store.closed["cost"] or not store.closed["cost"].get("tts")


@pytest.mark.asyncio
async def test_a_call_keeps_the_agents_opening_it_had_to_make_but_never_a_callers_name():
    session, _, _, tts = await make_session(
        llm=InstantLLM("unused"), greeting=f"Welcome back, Sam! {GREETING}",
        greeting_lines=["Welcome back, Sam!", GREETING], opening_audio_key=("base", "", "en-US"),
        opening_to_keep=frozenset(clauses_of([GREETING])))
    await feed(session, SILENCE, 1.6)
    await session.finish(Outcome.CALLER_HUNG_UP)
    await asyncio.sleep(0.1)

    assert tts.spoken == ["Welcome back,", "Sam!", "Hello there,", "how can I help?"]
    kept = cached_opening(**KEY, lines=["Welcome back, Sam!", GREETING])
    assert set(kept) == {"Hello there,", "how can I help?"}


@pytest.mark.asyncio
async def test_preparing_makes_only_what_is_missing():
    keep_clause(**KEY, clause="Hello there,", audio=b"\x01" * 800)
    tts = WordTTS()
    made = await prepare_opening(tts, **KEY, lines=[GREETING])
    assert made == 1 and tts.spoken == ["how can I help?"]
    assert await prepare_opening(tts, **KEY, lines=[GREETING]) == 0
    assert cache.get(audio_key("base", "", "en-US", "how can I help?"))


@pytest.mark.django_db(transaction=True)
def test_saving_an_agent_prepares_its_opening_with_its_voice(settings, tenant):
    from agents.services import agent_create, agent_update

    settings.OPENING_AUDIO_PREPARE = True
    agent = agent_create(tenant=tenant, name="Front desk", tts_provider="hibari",
                         greeting="Thanks for calling, how can I help?",
                         recording_disclosure="This call may be recorded.")
    key = {"provider": "hibari", "voice": "", "language": agent.language}
    lines = ["Thanks for calling, how can I help?", "This call may be recorded."]
    assert set(cached_opening(**key, lines=lines)) == set(clauses_of(lines))
    agent_update(tenant=tenant, agent=agent, greeting="Good morning!")
    assert cached_opening(**key, lines=["Good morning!"])
