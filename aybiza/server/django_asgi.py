"""Django's ASGI handler without a reference cycle per hung-up request (Django ticket #36700).

`ASGIHandler.handle()` runs a disconnect listener beside the view. When the client's
`http.disconnect` arrives first (a webhook client that closes its connection), the listener
raises `RequestAborted`; once `handle()` has looked at it, the exception holds a traceback
through `handle()`'s own frame, which holds the task that holds the exception: ≈ 150 objects of
cyclic garbage per request. Only the garbage collector frees them, and the live-call server pays
for every full collection with a pause of all its calls (docs/performance.md).

Upstream code this depends on (Django 5.2.19, pinned in requirements/base.txt):
`django/core/handlers/asgi.py` `ASGIHandler.handle()`, which decides by
`asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)` alone and ignores the listener's
`RequestAborted`, so a listener that simply returns is the same to it; and
`ASGIHandler.listen_for_disconnect(receive)`, replaced here.

Not fixed in Django 5.2.x (5.2.19's listener still raises, read from the installed source).
Django 6.1 rewrites `handle()` around `asyncio.TaskGroup` (django/django PR #19366), where only
a raising listener cancels the view: the shape check below then fails, this override stands
down with a warning and Django's own handler runs. When upgrading, run
`aybiza/core/tests/test_asgi_handler.py` to see whether the new handler still leaves the cycle.
"""

from __future__ import annotations

from django.core.handlers.asgi import ASGIHandler

from aybiza.server.shapes import fast_path_enabled, signature_differs, source_lacks

PATCH = "Django ASGI disconnect listener"


def upstream_problems() -> list[str]:
    return [
        *source_lacks(ASGIHandler.handle,
                      "asyncio.create_task(self.listen_for_disconnect(receive))",
                      "await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)",
                      "except RequestAborted:", label="django ASGIHandler.handle"),
        *signature_differs(ASGIHandler.listen_for_disconnect, "self", "receive",
                           label="django ASGIHandler.listen_for_disconnect"),
    ]


class CycleFreeASGIHandler(ASGIHandler):
    async def listen_for_disconnect(self, receive):
        message = await receive()
        if message["type"] == "http.disconnect":
            return None  # handle() stops the view when it sees this task done
        raise AssertionError(f"Invalid ASGI message after request body: {message['type']}")


def asgi_handler() -> ASGIHandler:
    """The handler production serves HTTP with: the cycle-free one while its shape holds."""
    if fast_path_enabled(PATCH, upstream_problems):
        return CycleFreeASGIHandler()
    return ASGIHandler()
