"""Fixtures for the tools app: a scriptable local HTTP target, the Twilio REST fake, factories."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from channels.layers import get_channel_layer

from aybiza import celery_app
from tests.fakes import FakeServer
from tools.services import tool_create, tool_network_allowlist_set

Handler = Callable[[web.Request, bytes], Awaitable[web.StreamResponse]]
# The caller's number on `live_call`.
CALLER = "+15557654321"


@dataclass
class Received:
    method: str
    path: str  # as sent, percent-encoding kept
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


class TargetServer(FakeServer):
    """The far end of HTTP tools: routes scripted per test, every request recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.routes: dict[tuple[str, str], Handler] = {}
        self.requests: list[Received] = []
        self._stopping: asyncio.Event | None = None

    async def pause(self, seconds: float) -> None:
        """Sleep in a handler, cut short when the server stops (no handler left pending)."""
        assert self._stopping is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        super().stop()

    def route(self, method: str, path: str, handler: Handler) -> None:
        self.routes[(method, path)] = handler

    def reply(self, method: str, path: str, *, json: Any = None, text: str | None = None,
              status: int = 200, delay_s: float = 0.0,
              headers: dict[str, str] | None = None) -> None:
        async def handler(request: web.Request, body: bytes) -> web.StreamResponse:
            if delay_s:
                await self.pause(delay_s)
            if text is not None:
                return web.Response(text=text, status=status, headers=headers)
            return web.json_response(json, status=status, headers=headers)

        self.route(method, path, handler)

    def reply_when_all_arrived(self, paths: list[str], *, wait_s: float = 10.0) -> None:
        """POST routes that answer only once every one of `paths` has been requested: each
        replies {"path": ..., "together": true} if all were in flight at once, false if it gave
        up waiting (the client sent them one after the other)."""
        arrived: set[str] = set()
        state: dict[str, asyncio.Event] = {}

        def handler_for(path: str) -> Handler:
            async def handler(request: web.Request, body: bytes) -> web.StreamResponse:
                everyone = state.setdefault("all", asyncio.Event())
                arrived.add(path)
                if arrived >= set(paths):
                    everyone.set()
                assert self._stopping is not None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(everyone.wait(), wait_s)
                return web.json_response({"path": path, "together": everyone.is_set()})
            return handler

        for path in paths:
            self.route("POST", path, handler_for(path))

    def hold(self, method: str, path: str, *, json: Any = None) -> threading.Event:
        """A route that answers only once the returned event is set (from the test's thread);
        the request is recorded on arrival."""
        released = threading.Event()

        async def handler(request: web.Request, body: bytes) -> web.StreamResponse:
            while not released.is_set() and not (self._stopping and self._stopping.is_set()):
                await asyncio.sleep(0.01)
            return web.json_response(json)

        self.route(method, path, handler)
        return released

    def url(self, path: str) -> str:
        return self.base_url + path

    def build_app(self) -> web.Application:
        self._stopping = asyncio.Event()  # created on the server's loop
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        raw_path = request.rel_url.raw_path
        self.requests.append(Received(request.method, raw_path, dict(request.query),
                                      dict(request.headers), body))
        handler = self.routes.get((request.method, raw_path))
        if handler is None:
            return web.json_response({"error": "no such route"}, status=404)
        return await handler(request, body)


@pytest.fixture(autouse=True)
def fresh_tenant_keys():
    """compliance.crypto caches tenant data keys by tenant id; ids come back after a rolled-back
    test (SQLite), so a cached key of a previous test's tenant would not decrypt this one's."""
    from compliance.crypto import key_cache

    key_cache.clear()
    yield
    key_cache.clear()


@pytest.fixture
def target() -> Iterator[TargetServer]:
    with TargetServer() as server:
        yield server


@pytest.fixture
def second_target() -> Iterator[TargetServer]:
    with TargetServer() as server:
        yield server


@pytest.fixture
def allow_loopback(tenant):
    """The test servers live on 127.0.0.1, which the SSRF guard refuses unless allowlisted."""
    return tool_network_allowlist_set(tenant=tenant, entries=["127.0.0.1"])


@pytest.fixture
def make_http_tool(tenant):
    def make(url: str, **fields: Any):
        fields.setdefault("name", "lookup_order")
        fields.setdefault("description", "Look up an order.")
        fields.setdefault("parameters", {"type": "object", "properties": {}})
        fields.setdefault("max_retries", 0)
        return tool_create(tenant=fields.pop("tenant", tenant), url_template=url, **fields)

    return make


@pytest.fixture
def eager_celery(monkeypatch):
    """Tasks run in-process even when the environment provides a Redis broker."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)


class ReplyInbox:
    """A live call's reply channel, read the way its consumer reads it: one event loop for the
    whole test (channel layers bind their buffers to a loop), which wakes up every few ms as a
    call's loop does on audio frames (in-memory layer senders in other threads do not wake it)."""

    TICK_S = 0.005

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.loop = asyncio.new_event_loop()
        self.channel: str = self.loop.run_until_complete(self.layer.new_channel())

    def receive(self, count: int, timeout_s: float = 5.0) -> list[dict[str, Any]]:
        """The next `count` messages; AssertionError if they do not all come within the time."""
        return self.loop.run_until_complete(self._receive(count, timeout_s))

    async def _receive(self, count: int, timeout_s: float) -> list[dict[str, Any]]:
        ticker = asyncio.ensure_future(self._tick())
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout_s
        try:
            while len(messages) < count:
                remaining = max(deadline - time.monotonic(), 0.001)
                try:
                    messages.append(await asyncio.wait_for(self.layer.receive(self.channel),
                                                           remaining))
                except TimeoutError:
                    raise AssertionError(f"got {len(messages)} of {count} messages: "
                                         f"{messages}") from None
        finally:
            ticker.cancel()
        return messages

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.TICK_S)

    def close(self) -> None:
        self.loop.close()


@pytest.fixture
def replies() -> Iterator[ReplyInbox]:
    inbox = ReplyInbox()
    yield inbox
    inbox.close()


@pytest.fixture
def live_call(tenant, phone_number, fake_twilio_rest):
    """An in-progress inbound call from CALLER to the tenant's number, known to the Twilio fake."""
    from calls.services import call_start

    call_sid = fake_twilio_rest.add_call(status="in-progress", to=phone_number.e164,
                                         from_=CALLER)
    return call_start(tenant=tenant, phone_number=phone_number, call_sid=call_sid,
                      from_number=CALLER, to_number=phone_number.e164)
