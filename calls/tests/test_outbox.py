"""The call's outbox: every message leaves in the order it was sent, on either server path."""

import asyncio

import pytest

from aybiza.server.direct import direct_socket
from calls.realtime.outbox import DirectOutbox, QueuedOutbox, outbox_for


class SlowAsgiSend:
    """An ASGI `send` that takes a loop turn or two per message, like a busy server."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.sent: list[str] = []
        self.fail_after = fail_after

    async def __call__(self, message: dict) -> None:
        await asyncio.sleep(0)
        if self.fail_after is not None and len(self.sent) >= self.fail_after:
            raise RuntimeError("socket gone")
        assert message["type"] == "websocket.send"
        self.sent.append(message["text"])


@pytest.mark.asyncio
async def test_queued_outbox_keeps_order_and_drains_before_returning():
    asgi = SlowAsgiSend()
    outbox = QueuedOutbox(asgi)
    for n in range(50):
        outbox.send(f"m{n}")
    assert asgi.sent == []  # sending never waits for the socket
    await outbox.drain()
    assert asgi.sent == [f"m{n}" for n in range(50)]
    outbox.send("later")
    await outbox.drain()
    assert asgi.sent[-1] == "later"
    outbox.close()


@pytest.mark.asyncio
async def test_queued_outbox_drops_the_rest_once_the_socket_fails():
    asgi = SlowAsgiSend(fail_after=2)
    outbox = QueuedOutbox(asgi)
    for n in range(5):
        outbox.send(f"m{n}")
    await asyncio.wait_for(outbox.drain(), 1)
    outbox.send("after")
    await asyncio.wait_for(outbox.drain(), 1)
    assert asgi.sent == ["m0", "m1"]
    outbox.close()


@pytest.mark.asyncio
async def test_closed_queued_outbox_sends_nothing_and_drain_returns():
    asgi = SlowAsgiSend()
    outbox = QueuedOutbox(asgi)
    outbox.send("m0")
    outbox.close()
    outbox.send("m1")
    await asyncio.wait_for(outbox.drain(), 1)
    await asyncio.sleep(0.01)
    assert asgi.sent == []


def test_the_direct_extension_selects_the_direct_outbox():
    class Direct:
        def __init__(self) -> None:
            self.sent: list[str] = []

        def send_text(self, text: str) -> None:
            self.sent.append(text)

    direct = Direct()
    scope = {"type": "websocket", "extensions": {"aybiza.websocket.direct": direct}}
    assert direct_socket(scope) is direct
    outbox = outbox_for(direct_socket(scope), SlowAsgiSend())
    assert isinstance(outbox, DirectOutbox)
    outbox.send("now")
    assert direct.sent == ["now"]
    assert direct_socket({"type": "websocket"}) is None
    assert isinstance(outbox_for(None, SlowAsgiSend()), QueuedOutbox)
