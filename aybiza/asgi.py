"""ASGI entry point: HTTP goes to Django, WebSockets to the Channels routes (served by daphne)."""

import os

import django
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aybiza.settings.dev")


class CycleFreeASGIHandler(ASGIHandler):
    """Django 5.2's ASGI handler without a reference cycle per hung-up request.

    `handle()` runs a disconnect listener beside the view. When the client's `http.disconnect`
    arrives first (a webhook client that closes its connection), the listener raises
    `RequestAborted`; once `handle()` has looked at it, the exception holds a traceback through
    `handle()`'s own frame, which holds the task that holds the exception: ≈ 150 objects of
    cyclic garbage per request (Django ticket #36700). Only the garbage collector frees them,
    and the live-call server pays for every full collection with a pause of all its calls
    (docs/performance.md). In 5.2 `handle()` ignores the listener's outcome (it decides by
    `asyncio.wait(FIRST_COMPLETED)` alone), so a listener that simply returns is the same to
    it. Later Django versions changed `handle()`: there the stock listener is kept.
    """

    if django.VERSION[:2] == (5, 2):

        async def listen_for_disconnect(self, receive):
            message = await receive()
            if message["type"] == "http.disconnect":
                return None  # handle() stops the view when it sees this task done
            raise AssertionError(f"Invalid ASGI message after request body: {message['type']}")


def _django_asgi_app() -> ASGIHandler:
    django.setup(set_prefix=False)  # as django.core.asgi.get_asgi_application does
    return CycleFreeASGIHandler()


# Django must be set up before the routes (and so the models) are imported.
django_asgi_app = _django_asgi_app()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from aybiza.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Twilio's handshake is authenticated by its signature (checked in the consumer), not by
        # cookies or Origin, so no AuthMiddlewareStack / AllowedHostsOriginValidator here.
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
