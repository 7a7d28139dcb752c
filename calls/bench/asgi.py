"""The production ASGI application plus one bench-only endpoint: the pacer's statistics.

`make bench` serves `calls.bench.asgi:application`, never `aybiza.asgi`: production has no such
endpoint. `GET /_bench/pacer` answers, from the event loop that runs the calls, the process pacer's
cumulative counters (ticks, tick-lag histogram, busy time; see `Pacer.stats`), so the generator can
take a snapshot at each end of its measurement window and subtract.
"""

from __future__ import annotations

import asyncio
import gc
import time

import orjson

from aybiza.asgi import application as aybiza_application
from calls.realtime.pacer import Pacer

STATS_PATH = "/_bench/pacer"

# Garbage-collector pauses per generation: a full collection holds the event loop.
# `collected`: objects found unreachable (cyclic garbage: what made the collection worth it).
_gc_pauses = {"count": [0, 0, 0], "total_ms": [0.0, 0.0, 0.0], "max_ms": [0.0, 0.0, 0.0],
              "collected": [0, 0, 0]}
_gc_started = [0.0]


def _gc_timer(phase: str, info: dict) -> None:
    if phase == "start":
        _gc_started[0] = time.perf_counter()
        return
    generation = info["generation"]
    elapsed_ms = (time.perf_counter() - _gc_started[0]) * 1000
    _gc_pauses["count"][generation] += 1
    _gc_pauses["total_ms"][generation] += elapsed_ms
    _gc_pauses["max_ms"][generation] = max(_gc_pauses["max_ms"][generation], elapsed_ms)
    _gc_pauses["collected"][generation] += info.get("collected", 0)


gc.callbacks.append(_gc_timer)


def pacer_stats() -> dict:
    """The running loop's pacer counters (zeros before the first call) and the GC's counts."""
    loop = asyncio.get_running_loop()
    pacer = Pacer._by_loop.get(loop)
    stats = pacer.stats() if pacer is not None else Pacer(loop).stats()
    stats["gc_collections"] = [generation["collections"] for generation in gc.get_stats()]
    stats["gc_pauses"] = {key: list(value) for key, value in _gc_pauses.items()}
    stats["gc_frozen"] = gc.get_freeze_count()
    # What a full collection walks (tens of ms to count: only at the window's two ends).
    stats["gc_tracked"] = [len(gc.get_objects(generation)) for generation in range(3)]
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
