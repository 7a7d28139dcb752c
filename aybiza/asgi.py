"""ASGI entry point: HTTP goes to Django, WebSockets to the Channels routes (served by daphne)."""

import os

import django
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aybiza.settings.dev")


def _django_asgi_app() -> ASGIHandler:
    django.setup(set_prefix=False)  # as django.core.asgi.get_asgi_application does
    from aybiza.server.django_asgi import asgi_handler  # Django ticket #36700, fenced there

    return asgi_handler()


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
