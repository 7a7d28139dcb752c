"""An ASGI WebSocket echo app for the server's framing tests (tests/test_ws_fast_path.py).

On `/direct`, when the server offers the `aybiza.websocket.direct` extension, text messages are
echoed synchronously by the receiver with a `direct:` prefix, except those starting `slow:`,
which it declines: the app's loop echoes those (and whatever queued behind them) with a `queued:`
prefix after a 50 ms pause, so a test can see that nothing overtakes a declined message.
"""

from __future__ import annotations

import asyncio

from aybiza.server.direct import DIRECT_EXTENSION


async def application(scope: dict, receive, send) -> None:
    if scope["type"] != "websocket":
        return
    direct = (scope.get("extensions") or {}).get(DIRECT_EXTENSION)
    prefixed = scope["path"] == "/direct"
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
            if prefixed and direct is not None:
                direct.set_receiver(_direct_echo(direct))
        elif message["type"] == "websocket.disconnect":
            return
        elif message.get("text") == "please close":
            await send({"type": "websocket.close", "code": 4000})
        elif message.get("text") is not None:
            text = message["text"]
            if prefixed:
                await asyncio.sleep(0.05 if text.startswith("slow:") else 0)
                text = "queued:" + text
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})


def _direct_echo(direct):
    def receiver(text: str) -> bool:
        if text.startswith("slow:") or text == "please close":
            return False
        direct.send_text("direct:" + text)
        return True

    return receiver
