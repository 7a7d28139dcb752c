"""An ASGI WebSocket echo app for the server's framing tests (tests/test_ws_fast_path.py)."""

from __future__ import annotations


async def application(scope: dict, receive, send) -> None:
    if scope["type"] != "websocket":
        return
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif message["type"] == "websocket.disconnect":
            return
        elif message.get("text") == "please close":
            await send({"type": "websocket.close", "code": 4000})
        elif message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})
