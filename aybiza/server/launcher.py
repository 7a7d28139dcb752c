"""`python -m aybiza.server`: daphne, tuned for many small WebSocket messages.

Same command line as `daphne` (it is daphne's own CLI), with five changes made before daphne
starts, each measured by `make bench` (docs/performance.md, "The server stack"):

1. uvloop as the asyncio loop under Twisted. Daphne builds its reactor on
   `asyncio.new_event_loop()` when `daphne.server` is imported, so the policy is set first.
2. The WebSocket fast path of `aybiza/server/ws_fast_path.py`: small single-frame messages skip
   autobahn's general state machine (everything else still goes through it). The same protocol
   offers applications the `aybiza.websocket.direct` ASGI extension: a synchronous send and
   receive for the live call's media frames, without the ASGI queue and a coroutine per message
   (`ws_fast_path.DirectChannel`).
3. Socket readiness callbacks without Twisted's legacy log context
   (`aybiza/server/twisted_reactor.py`).
4. Everything loaded before the server starts (Django, the URLconf and its views, the
   providers, numpy, the ASGI app) is moved to the collector's permanent generation
   (`gc.freeze()`), so full collections, which hold the loop, do not walk it again and again
   (≈ 150,000 objects; the collected old generation holds ≈ 50,000 at 150 calls).
5. A GIL switch interval of 0.5 ms instead of Python's 5 ms (`AYBIZA_GIL_SWITCH_MS`). The loop
   releases the GIL around every socket call; when a thread is busy in Python (the batch
   writer's ORM work, a call's closing writes), the loop waits up to the switch interval to get
   it back after each one, and a loop iteration makes hundreds of them at 200 calls.

Before 2–4 are installed, every patch of this package checks the upstream code it relies on
(`upstream_problems()` in each module). If any check fails (a library was upgraded past the
pinned version), the launcher logs one warning naming what changed and runs plain daphne, and
sets `AYBIZA_SERVER_FAST_PATH=false` for the application too (the consumer's lean loop and the
Django handler then take the standard Channels/Django path).

`AYBIZA_UVLOOP=false` turns off 1, `AYBIZA_SERVER_FAST_PATH=false` turns off 2, 3 and 4 (plain
daphne) and the application's patches, `AYBIZA_GIL_SWITCH_MS=5` restores Python's interval.
Without uvloop installed, 1 is skipped.

Upstream code the launcher itself depends on (daphne 4.2.3, pinned): `daphne/cli.py`
`CommandLineInterface.server_class` and `entrypoint()`; `daphne/server.py` `Server.run()` and
`Server.create_application(protocol, scope)`.

Shutdown: `on_shutdown` holds callables run when the reactor begins to stop (SIGTERM, SIGINT),
each may return an awaitable, which the reactor waits for (see `add_shutdown_hook`).
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import os
import sys
from collections.abc import Awaitable, Callable

from aybiza.server.shapes import (
    FAST_PATH_ENV,
    env_enabled,
    missing_attributes,
    run_checks,
    signature_differs,
    warn_fallback,
)

# Run, in order, when the reactor starts to shut down (SIGTERM, SIGINT): Twisted's "before
# shutdown" trigger. A hook may be sync or return an awaitable; the reactor waits for every
# awaitable before it stops. Daphne's own "before shutdown" trigger (`Server.kill_all_applications`,
# registered later, in `Server.run`) is called right after these hooks have been *called*, not
# after their awaitables finish: a drain that needs the applications alive must keep them so.
on_shutdown: list[Callable[[], Awaitable[None] | None]] = []


def add_shutdown_hook(hook: Callable[[], Awaitable[None] | None]) -> None:
    on_shutdown.append(hook)


def install_uvloop() -> bool:
    """Make new event loops uvloop loops; False when disabled or not installed."""
    if not env_enabled("AYBIZA_UVLOOP"):
        return False
    try:
        import uvloop
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


def _daphne_problems() -> list[str]:
    from daphne.cli import CommandLineInterface
    from daphne.server import Server

    return [*missing_attributes(CommandLineInterface, "server_class", "entrypoint"),
            *signature_differs(Server.create_application, "self", "protocol", "scope"),
            *signature_differs(Server.run, "self")]


def _ws_fast_path_problems() -> list[str]:
    from aybiza.server import ws_fast_path

    return ws_fast_path.upstream_problems()


def _reactor_problems() -> list[str]:
    from aybiza.server import twisted_reactor

    return twisted_reactor.upstream_problems()


def _application_problems() -> list[str]:
    # The patches the application installs in its own process; checked here too, so that one
    # warning covers the whole server.
    from aybiza.server import channels_loop, django_asgi

    return [*channels_loop.upstream_problems(), *django_asgi.upstream_problems()]


UPSTREAM_CHECKS: dict[str, Callable[[], list[str]]] = {
    "daphne server": _daphne_problems,
    "WebSocket fast path": _ws_fast_path_problems,
    "Twisted reactor callbacks": _reactor_problems,
    "Channels/Django patches": _application_problems,
}


def upstream_problems() -> list[str]:
    return [f"{name}: {problem}" for name, check in UPSTREAM_CHECKS.items()
            for problem in run_checks(check)]


def install_fast_path() -> bool:
    """The fast path (2–4) when enabled and every upstream check passes (else one warning)."""
    if not env_enabled(FAST_PATH_ENV):
        return False
    problems = upstream_problems()
    if problems:
        warn_fallback("the whole fast path", problems)
        os.environ[FAST_PATH_ENV] = "false"  # the application's patches stand down as well
        return False
    from aybiza.server import twisted_reactor, ws_fast_path

    twisted_reactor.install()
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


def _run_shutdown_hooks():
    """Twisted "before shutdown" trigger: run `on_shutdown`; a Deferred when one is async."""
    from twisted.internet.defer import Deferred, gatherResults

    waiting = []
    for hook in list(on_shutdown):
        result = hook()
        if inspect.isawaitable(result):
            waiting.append(Deferred.fromFuture(asyncio.ensure_future(result)))
    return gatherResults(waiting) if waiting else None


def _frozen_start_server_class():
    from daphne.server import Server

    from aybiza.server import ws_fast_path

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

    return FrozenStartServer


def main() -> None:
    set_switch_interval()
    install_uvloop()
    from daphne.cli import CommandLineInterface  # imports daphne.server: the reactor is built now
    from twisted.internet import reactor

    reactor.addSystemEventTrigger("before", "shutdown", _run_shutdown_hooks)
    if install_fast_path():
        CommandLineInterface.server_class = _frozen_start_server_class()
    CommandLineInterface.entrypoint()
