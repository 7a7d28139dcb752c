"""`python -m aybiza.server`: daphne, with uvloop as the asyncio loop under Twisted.

Same command line as `daphne` (it is daphne's own CLI). Daphne installs Twisted's asyncio reactor
on `asyncio.new_event_loop()` when `daphne.server` is imported, so the loop policy has to be set
before that import; that is all this module does. uvloop runs the loop's callbacks, timers and
readiness notifications in C: for the live call's many small WebSocket messages that is a
measured saving of server CPU per call (docs/performance.md, "daphne on uvloop"). Without uvloop
installed (or with `AYBIZA_UVLOOP=false`) it is plain daphne.
"""

from __future__ import annotations

import asyncio
import os


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


def _enabled(name: str) -> bool:
    return os.environ.get(name, "true").strip().lower() not in ("0", "false", "no", "off")


def install_ws_fast_path() -> bool:
    """daphne's WebSocket protocol with the small-frame fast path (aybiza/ws_fast_path.py)."""
    if not _enabled("AYBIZA_WS_FAST_PATH"):
        return False
    from aybiza import ws_fast_path

    ws_fast_path.install()
    return True


def main() -> None:
    install_uvloop()
    from daphne.cli import CommandLineInterface  # imports daphne.server: the reactor is built now

    install_ws_fast_path()
    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
