"""The live call's writes: batched across calls, in order, isolated on failure, awaited on close."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async

from calls.models import Call, CallEvent, Turn
from calls.realtime.persistence import BatchWriter, CallStore
from calls.services import call_start

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture
def calls(agent, phone_number) -> list[Call]:
    return [call_start(tenant=agent.tenant, phone_number=phone_number,
                       call_sid=f"CA{n:032d}", from_number="+15557654321",
                       to_number=phone_number.e164) for n in range(3)]


def _rows(call_ids: list[int]) -> tuple[list[tuple], list[tuple]]:
    turns = list(Turn.objects.filter(call_id__in=call_ids)
                 .order_by("call_id", "index").values_list("call_id", "index", "role", "text"))
    events = list(CallEvent.objects.filter(call_id__in=call_ids)
                  .order_by("id").values_list("call_id", "type", "offset_ms"))
    return turns, events


async def test_writes_of_many_calls_share_one_batch_and_close_waits_for_them(calls):
    # given three live calls on one writer that flushes rarely
    writer = BatchWriter.for_running_loop()
    writer.flush_s = 5.0
    stores = [CallStore(call, writer) for call in calls]
    before = writer.batches
    for n, store in enumerate(stores):
        store.save_turn(index=0, role="agent", text="Hello.", first_frame_ms=300 + n)
        store.record_event("barge_in", {"n": n}, offset_ms=1000 + n)
        store.save_turn(index=1, role="caller", text="My card is 4111 1111 1111 1111.")
    # when the first call closes (it does not wait the 5 s)
    await stores[0].close(outcome="caller_hung_up", metrics={})
    # then every call's writes went out in one batch, redacted, and the first call is closed
    turns, events = await database_sync_to_async(_rows)([call.id for call in calls])
    assert writer.batches == before + 1
    assert [t[1:] for t in turns[:2]] == [(0, "agent", "Hello."),
                                          (1, "caller", "My card is [CARD].")]
    assert len(turns) == 6 and len(events) == 3
    assert [e[2] for e in events] == [1000, 1001, 1002]
    closed = await database_sync_to_async(Call.objects.get)(pk=calls[0].pk)
    assert closed.outcome == "caller_hung_up"


async def test_a_later_save_of_the_same_turn_in_the_batch_wins(calls):
    writer = BatchWriter.for_running_loop()
    store = CallStore(calls[0], writer)
    store.save_turn(index=0, role="agent", text="Hello, and welcome to", first_frame_ms=250)
    store.save_turn(index=0, role="agent", text="Hello,", interrupted=True)
    await store.close(outcome="caller_hung_up", metrics={})
    turn = await database_sync_to_async(Turn.objects.get)(call=calls[0], index=0)
    assert (turn.text, turn.interrupted, turn.first_frame_ms) == ("Hello,", True, 250)


async def test_one_bad_write_is_counted_and_loses_nothing_else(calls):
    # given a batch with a turn the model rejects and a service that fails
    writer = BatchWriter.for_running_loop()
    good, bad = CallStore(calls[0], writer), CallStore(calls[1], writer)
    good.save_turn(index=0, role="agent", text="Kept.")
    bad.save_turn(index=0, role="agent", text="Lost.", no_such_field=1)
    good.record_event("dtmf", {"digit": "5"})

    def failing_service(**kwargs):
        raise RuntimeError("the consent table is gone")

    bad._submit("call", {}, failing_service)
    # when the calls close
    await good.close(outcome="caller_hung_up", metrics={})
    await bad.close(outcome="caller_hung_up", metrics={})
    # then the good call's rows are there and the bad call counted two failed writes
    turns, events = await database_sync_to_async(_rows)([calls[0].id, calls[1].id])
    assert [t[3] for t in turns] == ["Kept."]
    assert [e[1] for e in events] == ["dtmf"]
    assert (good.failed_writes, bad.failed_writes) == (0, 2)


async def test_a_cancelled_writer_does_not_leave_a_closing_call_waiting(calls):
    # given queued writes and a writer task that was cancelled (a server shutting down)
    writer = BatchWriter.for_running_loop()
    writer.flush_s = 5.0
    store = CallStore(calls[0], writer)
    store.save_turn(index=0, role="agent", text="Still saved.")
    writer._task.cancel()
    await asyncio.sleep(0)
    # when the call closes, its writes and its row are still stored, promptly
    await asyncio.wait_for(store.close(outcome="disconnected", metrics={}), 3)
    turns, _ = await database_sync_to_async(_rows)([calls[0].id])
    assert [t[3] for t in turns] == ["Still saved."]

