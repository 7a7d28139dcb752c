"""Cloud services faked at the wire: local servers that speak the real protocols.

Each fake is an aiohttp application served on 127.0.0.1 (a free port) by a background thread
with its own event loop, so the same object serves async tests, sync code (the benchmark) and
the real SDKs as clients::

    with FakeDeepgram() as deepgram:
        stt = DeepgramSTT(**deepgram.provider_options())

Tests script a fake before using it and read what it recorded afterwards (`requests`,
`connections`, ...). Scripts and records are plain Python objects shared across threads; writes
from the test happen before the client talks to the server, reads after, so the GIL is enough.
Pytest fixtures live in `tests.fakes.fixtures`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

READY_TIMEOUT_S = 5.0


class FakeServer:
    """An aiohttp app on 127.0.0.1:<free port>, run by a daemon thread with its own loop."""

    def __init__(self) -> None:
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        # Open server-side websockets, closed on stop so the runner shuts down promptly.
        self._sockets: set[web.WebSocketResponse] = set()

    # -- to implement ------------------------------------------------------------------------
    def build_app(self) -> web.Application:
        raise NotImplementedError

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> FakeServer:
        self._thread = threading.Thread(target=self._serve, name=type(self).__name__, daemon=True)
        self._thread.start()
        if not self._ready.wait(READY_TIMEOUT_S):
            raise RuntimeError(f"{type(self).__name__} did not start")
        if self._error is not None:
            raise RuntimeError(f"{type(self).__name__} failed to start") from self._error
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        try:
            future.result(timeout=5)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            self._loop = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._startup())
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _startup(self) -> None:
        self._runner = web.AppRunner(self.build_app(), access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _shutdown(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
        # Handlers still sleeping in a scripted delay: cancel them before the loop closes.
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    # -- helpers for subclasses and tests ----------------------------------------------------
    async def open_websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.add(ws)
        return ws

    def forget_websocket(self, ws: web.WebSocketResponse) -> None:
        self._sockets.discard(ws)

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 3.0) -> None:
        """Poll `predicate` from an async test until it holds (the server runs elsewhere)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not reached within {timeout:.1f}s")
            await asyncio.sleep(0.005)

    def wait_until_sync(self, predicate: Callable[[], bool], timeout: float = 3.0) -> None:
        """Same as `wait_until` for sync callers (the benchmark)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not reached within {timeout:.1f}s")
            time.sleep(0.005)
