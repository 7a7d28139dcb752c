"""A Channels WebSocket consumer whose message loop costs no task and no asyncio.wait per message.

Channels' loop (`AsyncConsumer.__call__` → `await_many_dispatch`) races the socket and the
channel layer with a new task and an `asyncio.wait()` per message, and `dispatch` closes stale
database connections through a `sync_to_async` hop into its one shared thread before every
handler: per 20 ms frame per call, that was a tenth of the server's CPU and then its main cost
(profiles in docs/performance.md). `LeanLoopConsumer` reads the socket directly, reads the
channel layer (rare messages: tool results) with one task per connection, and keeps Channels'
promise that handlers never run concurrently with a lock. A subclass may take a message
synchronously, before any of that, in `receive_fast` (media frames); under
`python -m aybiza.server` such messages do not even reach `receive`: the server hands them to
`try_receive_fast` through the `aybiza.websocket.direct` extension (`direct_socket`).

With the fast path off (`AYBIZA_SERVER_FAST_PATH=false`) or an upgraded Channels whose code no
longer has the shape below, Channels' own `__call__` and `dispatch` run unchanged, there is no
direct socket, and every message goes through `receive`.

Upstream code this depends on (channels 4.3.2, pinned in requirements/base.txt):
`channels/consumer.py` `AsyncConsumer.__call__` (sets `scope`, `channel_layer`,
`channel_name`, `base_send`, then `await_many_dispatch`; reimplemented here) and
`AsyncConsumer.dispatch` (`aclose_old_connections()` then the handler; skipped for
`websocket.receive`, whose handlers here touch no database), and
`channels/generic/websocket.py` `AsyncWebsocketConsumer.websocket_receive`.
"""

from __future__ import annotations

import asyncio
import logging

from channels.consumer import AsyncConsumer
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer

from aybiza.server.direct import DirectSocket, direct_socket
from aybiza.server.shapes import fast_path_enabled, signature_differs, source_lacks

logger = logging.getLogger(__name__)

PATCH = "Channels consumer loop"
CALL = "channels AsyncConsumer.__call__"


def upstream_problems() -> list[str]:
    return [
        *signature_differs(AsyncConsumer.__call__, "self", "scope", "receive", "send",
                           label=CALL),
        *source_lacks(AsyncConsumer.__call__, "self.scope = scope",
                      "self.channel_layer = get_channel_layer(self.channel_layer_alias)",
                      "self.channel_name = await self.channel_layer.new_channel()",
                      "self.base_send = send", "await_many_dispatch(", label=CALL),
        *source_lacks(AsyncConsumer.dispatch, "await aclose_old_connections()",
                      "await handler(message)", label="channels AsyncConsumer.dispatch"),
        *source_lacks(AsyncWebsocketConsumer.websocket_receive,
                      'await self.receive(text_data=message["text"])',
                      label="channels AsyncWebsocketConsumer.websocket_receive"),
    ]


def lean_loop_enabled() -> bool:
    return fast_path_enabled(PATCH, upstream_problems)


class LeanLoopConsumer(AsyncWebsocketConsumer):
    """`AsyncWebsocketConsumer` with the lean loop (see the module docstring).

    Subclasses override `receive_fast` (synchronous; True when it took the message) and
    `receive_fast_failed` (a `receive_fast` raised: runs under the handler lock), and may use
    `self.direct` (the server's direct socket, or None) once `__call__` has started.
    """

    direct: DirectSocket | None = None
    _lean = False

    def receive_fast(self, text: str) -> bool:
        return False

    async def receive_fast_failed(self) -> None:
        raise NotImplementedError

    def connection_started(self) -> None:
        """Called as the connection's application starts, on either loop (scope and
        `base_send` set): set up what the handlers need."""

    def connection_finished(self) -> None:
        """Called when the connection's application ends, on either loop."""

    async def __call__(self, scope, receive, send) -> None:
        self._lean = lean = lean_loop_enabled()
        self.scope = scope
        self.base_send = send
        self.direct = direct_socket(scope) if lean else None
        self._dispatching = asyncio.Lock()
        self._fast_failed = False
        self.connection_started()
        try:
            if lean:
                await self._lean_loop(receive)
            else:
                await super().__call__(scope, receive, send)
        finally:
            if self.direct is not None:
                self.direct.set_receiver(None)
            self.connection_finished()

    def try_receive_fast(self, text: str) -> bool:
        """`receive_fast(text)` unless a handler is running; True when it took the message.

        The server calls it for each inbound text message while nothing is queued for
        `receive()` (the direct socket), the loop for the messages that were queued. False
        leaves the message to the locked path (and, on the direct socket, every later one until
        it is taken); a message that raised is left with `receive_fast_failed` to come."""
        if self._dispatching.locked():
            return False
        try:
            return self.receive_fast(text)
        except Exception:
            self._fast_failed = True
            return False

    async def _lean_loop(self, receive) -> None:
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        layer_task = None
        if self.channel_layer is not None:
            self.channel_name = await self.channel_layer.new_channel()
            layer_task = asyncio.ensure_future(self._channel_layer_messages())
        dispatching = self._dispatching
        try:
            while True:
                message = await receive()
                # A fast message (50 a second per call) is taken synchronously, without the
                # lock: nothing awaits in between, so no other handler can interleave with it.
                if message["type"] == "websocket.receive" and not self._fast_failed:
                    text = message.get("text")
                    if text is not None and self.try_receive_fast(text):
                        continue
                if self._fast_failed:
                    self._fast_failed = False
                    async with dispatching:
                        await self.receive_fast_failed()
                    continue
                async with dispatching:
                    await self.dispatch(message)
        except StopConsumer:
            pass
        finally:
            if layer_task is not None:
                layer_task.cancel()
                # channels_redis finishes a cancelled receive only when its blocking read (up to
                # the socket timeout) returns: the connection is finished by now, so don't keep
                # it waiting (daphne kills an application after 10 s).
                await asyncio.wait({layer_task}, timeout=1.0)

    async def _channel_layer_messages(self) -> None:
        while True:
            try:
                message = await self.channel_layer.receive(self.channel_name)
            except asyncio.CancelledError:
                raise
            except Exception:  # e.g. a Redis read timeout: the connection must outlive it
                logger.warning("Channel layer receive failed for %s; retrying",
                               self.channel_name, exc_info=True)
                await asyncio.sleep(1.0)
                continue
            async with self._dispatching:
                try:
                    await self.dispatch(message)
                except Exception:
                    logger.exception("Channel layer message %s failed on %s",
                                     message.get("type"), self.channel_name)

    async def dispatch(self, message: dict) -> None:
        if self._lean and message["type"] == "websocket.receive":
            await self.websocket_receive(message)  # no database: no stale-connection hop
            return
        await super().dispatch(message)
