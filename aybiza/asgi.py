"""ASGI entry point: HTTP goes to Django, WebSockets to the Channels routes (served by daphne)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aybiza.settings.dev")
# Django must be set up before the routes (and so the models) are imported.
django_asgi_app = get_asgi_application()

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
