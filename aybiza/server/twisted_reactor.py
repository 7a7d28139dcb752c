"""Socket readiness callbacks without Twisted's legacy log context.

Twisted's asyncio reactor wraps every read and write callback in `log.callWithLogger`, which
builds a context dict per socket event so that old-style `twisted.python.log` messages can name
their "system"; daphne logs through the standard `logging` module, and the reactor's own
`_readOrWrite` already catches and logs what a read or write raises.

Upstream code this depends on (Twisted 26.10.0, pinned in requirements/base.txt):
`twisted/internet/asyncioreactor.py`, where `AsyncioSelectorReactor.addReader` and `addWriter`
look up the module global `callWithLogger` (imported from `twisted.python.log`) each time a
socket is registered, and pass it `(logger, self._readOrWrite, selectable, read)`.
"""

from __future__ import annotations

from aybiza.server.shapes import missing_attributes, signature_differs, source_lacks


def _without_log_context(logger, func, *args, **kwargs):
    return func(*args, **kwargs)


def upstream_problems() -> list[str]:
    from twisted.internet import asyncioreactor

    reactor_class = asyncioreactor.AsyncioSelectorReactor
    return [
        *missing_attributes(asyncioreactor, "callWithLogger"),
        *signature_differs(reactor_class._readOrWrite, "self", "selectable", "read"),
        *source_lacks(reactor_class.addReader, "callWithLogger, reader, self._readOrWrite"),
        *source_lacks(reactor_class.addWriter, "callWithLogger, writer, self._readOrWrite"),
    ]


def install() -> None:
    from twisted.internet import asyncioreactor

    asyncioreactor.callWithLogger = _without_log_context
