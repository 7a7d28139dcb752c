"""`python -m aybiza.server`: daphne, tuned for many small WebSocket messages.

Same command line as `daphne` (it is daphne's own CLI), with five changes made before daphne
starts, each measured by `make bench` (docs/performance.md, "The server stack"):

1. uvloop as the asyncio loop under Twisted. Daphne builds its reactor on
   `asyncio.new_event_loop()` when `daphne.server` is imported, so the policy is set first.
2. The WebSocket fast path of `aybiza/ws_fast_path.py`: small single-frame messages skip
   autobahn's general state machine (everything else still goes through it). The same protocol
   offers applications the `aybiza.websocket.direct` ASGI extension: a synchronous send and
   receive for the live call's media frames, without the ASGI queue and a coroutine per message
   (`ws_fast_path.DirectChannel`).
3. Socket readiness callbacks without Twisted's legacy log context. Twisted's asyncio reactor
   wraps every read and write callback in `log.callWithLogger`, which builds a context dict
   per socket event so that old-style `twisted.python.log` messages can name their "system";
   daphne logs through the standard `logging` module, and the reactor's own `_readOrWrite`
   already catches and logs what a read or write raises.
4. Everything loaded before the server starts (Django, the URLconf and its views, the
   providers, numpy, the ASGI app) is moved to the collector's permanent generation
   (`gc.freeze()`), so full collections, which hold the loop, do not walk it again and again
   (≈ 150,000 objects; the collected old generation holds ≈ 50,000 at 150 calls).
5. A GIL switch interval of 0.5 ms instead of Python's 5 ms (`AYBIZA_GIL_SWITCH_MS`). The loop
   releases the GIL around every socket call; when a thread is busy in Python (the batch
   writer's ORM work, a call's closing writes), the loop waits up to the switch interval to get
   it back after each one, and a loop iteration makes hundreds of them at 200 calls.

`AYBIZA_UVLOOP=false` turns off 1, `AYBIZA_SERVER_FAST_PATH=false` turns off 2, 3 and 4 (plain
daphne), `AYBIZA_GIL_SWITCH_MS=5` restores Python's interval. Without uvloop installed, 1 is
skipped.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys


def _enabled(name: str) -> bool:
    return os.environ.get(name, "true").strip().lower() not in ("0", "false", "no", "off")


def install_uvloop() -> bool:
    """Make new event loops uvloop loops; False when disabled or not installed."""
    if not _enabled("AYBIZA_UVLOOP"):
        return False
    try:
        import uvloop
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


def _without_log_context(logger, func, *args, **kwargs):
    return func(*args, **kwargs)


def install_fast_path() -> bool:
    """The WebSocket fast path and lean reactor callbacks (see the module docstring)."""
    if not _enabled("AYBIZA_SERVER_FAST_PATH"):
        return False
    from twisted.internet import asyncioreactor

    from aybiza import ws_fast_path

    # Looked up by AsyncioSelectorReactor.addReader/addWriter each time a socket is registered.
    asyncioreactor.callWithLogger = _without_log_context
    ws_fast_path.install()
    return True


def _load_url_conf() -> None:
    from django.conf import settings

    if not settings.configured:
        return
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - importing the views is the point


def set_switch_interval() -> float:
    """The GIL switch interval (`AYBIZA_GIL_SWITCH_MS`, default 0.5 ms; Python's is 5 ms)."""
    milliseconds = float(os.environ.get("AYBIZA_GIL_SWITCH_MS", "0.5"))
    sys.setswitchinterval(milliseconds / 1000)
    return milliseconds


def main() -> None:
    set_switch_interval()
    install_uvloop()
    from daphne.cli import CommandLineInterface  # imports daphne.server: the reactor is built now
    from daphne.server import Server

    from aybiza import ws_fast_path

    class FrozenStartServer(Server):
        def run(self) -> None:
            # The CLI has imported the application (and so set Django up) by now; the URLconf
            # (and with it every view, the REST framework and the admin) loads on the first
            # request unless loaded here, and would then stay in the collected heap.
            _load_url_conf()
            gc.collect()
            gc.freeze()
            super().run()

        def create_application(self, protocol, scope):
            ws_fast_path.add_direct_extension(protocol, scope)
            return super().create_application(protocol, scope)

    if install_fast_path():
        CommandLineInterface.server_class = FrozenStartServer
    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
