"""The production ASGI application plus one bench-only endpoint: the pacer's statistics.

`make bench` serves `calls.bench.asgi:application`, never `aybiza.asgi`: production has no such
endpoint. `GET /_bench/pacer` answers, from the event loop that runs the calls, the process pacer's
cumulative counters (ticks, tick-lag histogram, busy time; see `Pacer.stats`), so the generator can
take a snapshot at each end of its measurement window and subtract.
"""

from __future__ import annotations

import asyncio
import gc

import orjson

from aybiza.asgi import application as aybiza_application
from calls.realtime.pacer import Pacer

STATS_PATH = "/_bench/pacer"


def pacer_stats() -> dict:
    """The running loop's pacer counters (zeros before the first call) and the GC's counts."""
    loop = asyncio.get_running_loop()
    pacer = Pacer._by_loop.get(loop)
    stats = pacer.stats() if pacer is not None else Pacer(loop).stats()
    stats["gc_collections"] = [generation["collections"] for generation in gc.get_stats()]
    stats["tasks"] = len(asyncio.all_tasks(loop))
    stats["loop"] = f"{type(loop).__module__}.{type(loop).__name__}"
    return stats


async def application(scope: dict, receive, send) -> None:
    if scope["type"] == "http" and scope["path"] == STATS_PATH:
        body = orjson.dumps(pacer_stats())
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
        return
    if scope["type"] == "lifespan":  # uvicorn (the comparison run) asks; Django has nothing to do
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await aybiza_application(scope, receive, send)
