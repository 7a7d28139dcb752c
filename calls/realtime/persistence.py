"""The live call's only door to the database: small services run off the event loop, in order.

The session queues writes (turns, events, the final close) and one writer task per call runs them
through `database_sync_to_async`, so a slow database never delays audio or the next reply, and
writes of one call keep their order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from channels.db import database_sync_to_async

from calls.models import Call
from calls.services import call_finish, event_record, turn_save

logger = logging.getLogger(__name__)


class CallStore:
    def __init__(self, call: Call) -> None:
        self.call = call
        self._queue: asyncio.Queue[tuple[Callable[..., Any], dict[str, Any]] | None] = (
            asyncio.Queue()
        )
        self._writer = asyncio.get_running_loop().create_task(self._drain(),
                                                              name=f"store-{call.call_sid}")
        self.failed_writes = 0

    def save_turn(self, *, index: int, role: str, text: str, **fields: Any) -> None:
        self._queue.put_nowait((turn_save, {"call": self.call, "index": index, "role": role,
                                            "text": text, **fields}))

    def record_event(self, type: str, payload: dict[str, Any] | None = None,
                     offset_ms: int | None = None) -> None:
        self._queue.put_nowait((event_record, {"call": self.call, "type": type,
                                               "payload": payload or {}, "offset_ms": offset_ms}))

    def record_consent(self, *, kind: str, granted: bool, method: str,
                       disclosure_text: str = "") -> None:
        from compliance.services import consent_record

        self._queue.put_nowait((consent_record, {
            "tenant": self.call.tenant, "call": self.call, "kind": kind, "granted": granted,
            "method": method, "disclosure_text": disclosure_text}))

    async def close(self, *, outcome: str, metrics: dict[str, Any],
                    recording_path: str | None = None, cost: dict[str, Any] | None = None) -> None:
        """Write what is queued, then close the call row. Survives the writer having failed."""
        self._queue.put_nowait(None)
        with contextlib.suppress(Exception):  # already logged by the writer
            await self._writer
        await database_sync_to_async(_close_call)(self.call, outcome, metrics, recording_path,
                                                  cost)

    async def _drain(self) -> None:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            service, kwargs = item
            try:
                await database_sync_to_async(service)(**kwargs)
            except Exception:
                # Keep writing later turns: one bad row must not lose the rest of the call.
                self.failed_writes += 1
                logger.exception("Could not persist %s for call %s", service.__name__,
                                 self.call.call_sid)


def _close_call(call: Call, outcome: str, metrics: dict[str, Any],
                recording_path: str | None, cost: dict[str, Any] | None) -> None:
    if recording_path:
        from django.core.files import File

        with open(recording_path, "rb") as handle:
            call_finish(call=call, outcome=outcome, metrics=metrics, cost=cost,
                        recording=File(handle), recording_name=f"{call.call_sid}.wav")
    else:
        call_finish(call=call, outcome=outcome, metrics=metrics, cost=cost)
