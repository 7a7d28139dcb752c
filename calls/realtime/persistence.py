"""The live call's only door to the database: writes leave the event loop in batches.

A session queues its writes (turns, events, consent records) on its `CallStore`; one
`BatchWriter` per event loop collects the writes of every call on that loop and, every
`FLUSH_S`, runs them in one `database_sync_to_async` call: turns in one INSERT … ON CONFLICT
statement per shape, events in one INSERT. Per write that saves a thread hop, a transaction and
most of the ORM's Python, which at a hundred calls was a tenth of the server's CPU (and held the
GIL against the audio). A slow database never delays audio or the next reply; a call's writes
keep their order; `CallStore.close` waits for its call's writes before closing the call row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from channels.db import database_sync_to_async

from calls.live_state import call_states_publish
from calls.models import Call
from calls.services import call_finish, events_record, turns_save

logger = logging.getLogger(__name__)

FLUSH_S = 0.1  # how long a write may wait for others to share its statement


@dataclass(slots=True)
class _Write:
    store: CallStore
    kind: str  # "turn", "event", "state" or "call" (a service called with its own kwargs)
    kwargs: dict[str, Any]
    service: Callable[..., Any] | None = None


@dataclass
class _Batch:
    writes: list[_Write] = field(default_factory=list)
    done: asyncio.Future | None = None


class BatchWriter:
    """One per event loop: the writes of all its calls, flushed together off the loop."""

    _by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, BatchWriter] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, flush_s: float = FLUSH_S) -> None:
        self._loop = loop
        self.flush_s = flush_s
        self._batch = _Batch(done=loop.create_future())
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self.batches = 0  # flushed so far (monitoring and tests)

    @classmethod
    def for_running_loop(cls) -> BatchWriter:
        loop = asyncio.get_running_loop()
        writer = cls._by_loop.get(loop)
        if writer is None:
            writer = cls._by_loop[loop] = cls(loop)
        return writer

    def submit(self, write: _Write) -> asyncio.Future:
        """Queue a write; the future resolves once the batch holding it is written."""
        self._batch.writes.append(write)
        self._ensure_running()
        return self._batch.done

    def flush_soon(self) -> None:
        """Write what is queued now instead of at the end of the current wait (a call ends)."""
        self._wake.set()
        self._ensure_running()  # e.g. after the writer task was cancelled

    def _ensure_running(self) -> None:
        if self._batch.writes and (self._task is None or self._task.done()):
            self._task = self._loop.create_task(self._run(), name="aybiza-batch-writer")

    async def _run(self) -> None:
        while self._batch.writes:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_s)
            self._wake.clear()
            batch, self._batch = self._batch, _Batch(done=self._loop.create_future())
            try:
                failed = await database_sync_to_async(write_batch)(batch.writes)
            except Exception:  # write_batch isolates failures; this is the database itself
                logger.exception("Could not write %d live-call records", len(batch.writes))
                failed = batch.writes
            finally:  # also when cancelled (shutdown): a closing call must not wait forever
                if batch.done is not None and not batch.done.done():
                    batch.done.set_result(None)
            for write in failed:
                write.store.failed_writes += 1
            self.batches += 1


def write_batch(writes: list[_Write]) -> list[_Write]:
    """Write a batch (in a thread). Returns the writes that failed; the others are stored.

    A failing statement is retried write by write, so one bad row never loses the others.
    """
    failed: list[_Write] = []
    for kind, save in (("turn", turns_save), ("event", events_record)):
        group = [w for w in writes if w.kind == kind]
        if not group:
            continue
        try:
            save([w.kwargs for w in group])
        except Exception:
            for write in group:
                failed.extend(_isolated(write, lambda w, save=save: save([w.kwargs])))
    states = [w for w in writes if w.kind == "state"]
    if states:  # nothing stored: live pages only, so a failure loses no record
        try:
            call_states_publish([w.kwargs for w in states])
        except Exception:
            logger.exception("Could not publish %d live call states", len(states))
    for write in writes:
        if write.kind == "call":
            failed.extend(_isolated(write, lambda w: w.service(**w.kwargs)))
    return failed


def _isolated(write: _Write, run: Callable[[_Write], Any]) -> list[_Write]:
    try:
        run(write)
    except Exception:
        name = write.service.__name__ if write.service else write.kind
        logger.exception("Could not persist %s for call %s", name, write.store.call.call_sid)
        return [write]
    return []


class CallStore:
    """One call's writes: queued without waiting, written in order with other calls' writes."""

    def __init__(self, call: Call, writer: BatchWriter | None = None) -> None:
        self.call = call
        self._writer = writer or BatchWriter.for_running_loop()
        self._last: asyncio.Future | None = None
        self.failed_writes = 0

    def save_turn(self, *, index: int, role: str, text: str, **fields: Any) -> None:
        self._submit("turn", {"call": self.call, "index": index, "role": role, "text": text,
                              **fields})

    def record_event(self, type: str, payload: dict[str, Any] | None = None,
                     offset_ms: int | None = None) -> None:
        self._submit("event", {"call": self.call, "type": type, "payload": payload or {},
                               "offset_ms": offset_ms})

    def remember(self, *, key: str, value: str) -> None:
        from memory.services import memory_remember_on_call

        self._submit("call", {"call": self.call, "key": key, "value": value},
                     memory_remember_on_call)

    def caller_asked_to_be_forgotten(self) -> None:
        from memory.services import caller_asked_to_be_forgotten

        self._submit("call", {"call": self.call}, caller_asked_to_be_forgotten)

    def keep_for_resume(self, messages: list[dict[str, Any]]) -> None:
        from memory.working import working_memory_keep

        self._submit("call", {"call": self.call, "messages": messages}, working_memory_keep)

    def keep_for_transfer(self, messages: list[dict[str, Any]]) -> None:
        from calls.transfers import transfer_conversation_keep

        self._submit("call", {"call": self.call, "messages": messages},
                     transfer_conversation_keep)

    def note_state(self, state: str) -> None:
        self._submit("state", {"tenant_id": self.call.tenant_id, "call_id": self.call.pk,
                               "state": state})

    def record_consent(self, *, kind: str, granted: bool, method: str,
                       disclosure_text: str = "") -> None:
        from compliance.services import consent_record

        self._submit("call", {"tenant": self.call.tenant, "call": self.call, "kind": kind,
                              "granted": granted, "method": method,
                              "disclosure_text": disclosure_text}, consent_record)

    def _submit(self, kind: str, kwargs: dict[str, Any],
                service: Callable[..., Any] | None = None) -> None:
        self._last = self._writer.submit(_Write(self, kind, kwargs, service))

    async def close(self, *, outcome: str, metrics: dict[str, Any],
                    recording_path: str | None = None, cost: dict[str, Any] | None = None) -> None:
        """Wait for this call's queued writes, then close the call row."""
        if self._last is not None:
            self._writer.flush_soon()
            await asyncio.shield(self._last)
        await database_sync_to_async(_close_call)(self.call, outcome, metrics, recording_path,
                                                  cost)


def _close_call(call: Call, outcome: str, metrics: dict[str, Any],
                recording_path: str | None, cost: dict[str, Any] | None) -> None:
    from calls.transfers import call_park, transfer_waiting

    if transfer_waiting(call) is not None:
        # The caller is on hold for a warm transfer (Twilio may end the stream before the tool
        # has even answered, so whatever the outcome says): the call goes on without us.
        audio = None
        if recording_path:
            with open(recording_path, "rb") as handle:
                audio = handle.read()
        call_park(call=call, metrics=metrics, recording_audio=audio, cost=cost)
        return
    # After a warm transfer nobody answered, this part of the call follows the first: its
    # recording is appended and its cost added.
    resumed = call.transfers.exclude(resumed_stream_sid="").exists()
    if recording_path:
        from django.core.files import File

        with open(recording_path, "rb") as handle:
            call_finish(call=call, outcome=outcome, metrics=metrics, cost=cost,
                        recording=File(handle), recording_name=f"{call.call_sid}.wav",
                        append_recording=resumed, later_part=resumed)
    else:
        call_finish(call=call, outcome=outcome, metrics=metrics, cost=cost, later_part=resumed)
