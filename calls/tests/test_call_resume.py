"""A call cut off mid-conversation continues when the caller rings back within the agent's
window: through the consumer, the database and the cache, with the offline brain's booking."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from agents.demo import demo_seed
from agents.models import Agent, PhoneNumber
from calls import consumers
from calls.models import CallEvent
from calls.services import call_start
from calls.tests.session_harness import SILENCE, SPEECH
from calls.tests.test_consumer import _wiring, connect, refreshed, turns_of  # noqa: F401
from memory.working import working_memory_peek

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]
CALLER = "+15557654321"
_sids = iter(range(1, 100))


def place(*, lines: list[str], from_number: str = CALLER, resume_window_minutes: int = 30):
    """A new call to the demo agent, whose scripted caller says `lines`."""
    seed = demo_seed(number="+15550100000", base_url="http://127.0.0.1:9")
    Agent.objects.filter(pk=seed.agent_id).update(
        stt_provider="scripted", tts_provider="words", recording_disclosure="",
        end_of_turn_silence_ms=200, barge_in_min_speech_ms=120, published_version=None,
        provider_options={"stt": {"lines": lines}},
        resume_window_minutes=resume_window_minutes)
    number = PhoneNumber.objects.get(e164=seed.number)
    return call_start(tenant=number.tenant, phone_number=number,
                      call_sid=f"CA{next(_sids):032d}", from_number=from_number,
                      to_number=number.e164)


async def talk(call, turns: int, greeting_s: float = 1.5) -> None:
    phone, connected = await connect(call)
    assert connected
    await phone.start()
    await phone.send_audio(SILENCE, greeting_s)  # the greeting plays
    for _ in range(turns):
        await phone.send_audio(SPEECH, 0.4)
        await phone.send_audio(SILENCE, 2.0)  # the answer plays
    await phone.stop()  # the caller hangs up (or the line drops)
    await hung_up(phone)


async def hung_up(phone) -> None:
    """The socket closes (by us, or by the agent that already said goodbye) and the consumer
    has finished: no call of this test is left live for the next one."""
    await phone.wait_closed()
    await phone.ws.disconnect(timeout=4)
    assert not consumers._live_calls


async def agent_lines(call) -> list[str]:
    turns = await database_sync_to_async(turns_of)(await refreshed(call))
    return [text for role, text, _ in turns if role == "agent"]


async def test_a_caller_cut_off_mid_booking_carries_on_when_they_ring_back():
    # given a call cut off while the agent waits for the booking's time
    first = await database_sync_to_async(place)(lines=["I would like to book an appointment"])
    await talk(first, turns=1)
    asked = (await agent_lines(first))[-1]
    assert asked.endswith("?")
    # when the same number calls again within the window and answers
    second = await database_sync_to_async(place)(lines=["monday at ten in the morning", "yes"])
    await talk(second, turns=2, greeting_s=3.5)
    # then the greeting picks up the question, and the booking goes on with the answer
    lines = await agent_lines(second)
    assert lines[0].startswith("Welcome back! We got cut off, so let's carry on.")
    assert lines[0].endswith(asked.split(". ")[-1])
    events = await database_sync_to_async(lambda: list(
        CallEvent.objects.filter(call=second).values_list("type", "payload")))()
    assert ("resumed", {"from_call": first.pk}) in events
    calls = [p for t, p in events if t == "tool_calls"]
    assert calls and calls[0]["calls"][0]["name"] == "book_appointment"
    # and it resumes once: a third call starts afresh
    third = await database_sync_to_async(place)(lines=["hello"])
    await talk(third, turns=0)
    assert not (await agent_lines(third))[0].startswith("Welcome back! We got cut off")


async def test_nothing_is_kept_when_the_window_is_off_or_the_call_ended_normally():
    first = await database_sync_to_async(place)(lines=["I would like to book an appointment"],
                                                resume_window_minutes=0)
    await talk(first, turns=1)
    contact = await database_sync_to_async(lambda: (first.tenant, first.contact))()
    assert await database_sync_to_async(
        lambda: working_memory_peek(tenant=contact[0], contact=contact[1]))() is None

    kept = await database_sync_to_async(place)(lines=["I would like to book an appointment"])
    await talk(kept, turns=1)
    assert await database_sync_to_async(
        lambda: working_memory_peek(tenant=contact[0], contact=contact[1]))() is not None
    # a later call that ends without a question pending drops what was kept
    done = await database_sync_to_async(place)(lines=["goodbye"])
    await talk(done, turns=1)
    assert await database_sync_to_async(
        lambda: working_memory_peek(tenant=contact[0], contact=contact[1]))() is None
