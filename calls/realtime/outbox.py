"""The call's way out to the socket: a synchronous `send(text)` for every outbound message.

The pacer sends up to 50 media frames a second per call and the session sends marks and clears
between them; all of it must leave in the order it was sent. Two implementations:

- `DirectOutbox`: the server's `aybiza.websocket.direct` extension (`aybiza/server/direct.py`,
  production): the message is framed and written before `send` returns.
- `QueuedOutbox`: any other ASGI server (plain daphne, uvicorn, Channels' test communicator): a
  writer task awaits the ASGI `send` for each message in turn.

`drain()` waits until everything sent so far has been handed to the server (call it before
closing the socket); `close()` drops what is still queued.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol

from aybiza.server.direct import DirectSocket

logger = logging.getLogger(__name__)


class Outbox(Protocol):
    def send(self, text: str) -> None: ...

    async def drain(self) -> None: ...

    def close(self) -> None: ...


class DirectOutbox:
    __slots__ = ("send",)

    def __init__(self, direct: DirectSocket) -> None:
        self.send = direct.send_text

    async def drain(self) -> None:
        return None

    def close(self) -> None:
        return None


class QueuedOutbox:
    def __init__(self, asgi_send: Callable[[dict], Awaitable[None]]) -> None:
        self._asgi_send = asgi_send
        self._pending: deque[str] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._writer: asyncio.Task | None = None
        self._closed = False

    def send(self, text: str) -> None:
        if self._closed:
            return
        self._pending.append(text)
        self._idle.clear()
        self._wake.set()
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        pending = self._pending
        while True:
            await self._wake.wait()
            self._wake.clear()
            while pending:
                text = pending.popleft()
                try:
                    await self._asgi_send({"type": "websocket.send", "text": text})
                except Exception:  # the socket went away: the consumer's close path ends the call
                    logger.debug("Outbound message dropped: the socket is gone", exc_info=True)
                    pending.clear()
                    self._closed = True
            self._idle.set()

    async def drain(self) -> None:
        if self._writer is not None and not self._writer.done():
            await self._idle.wait()

    def close(self) -> None:
        self._closed = True
        self._pending.clear()
        self._idle.set()
        if self._writer is not None:
            self._writer.cancel()


def outbox_for(direct: DirectSocket | None,
               asgi_send: Callable[[dict], Awaitable[None]]) -> Outbox:
    """The direct outbox when the server offers the extension, else the queued one."""
    return DirectOutbox(direct) if direct is not None else QueuedOutbox(asgi_send)
