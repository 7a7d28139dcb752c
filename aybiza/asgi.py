"""ASGI entry point: HTTP goes to Django, WebSockets to the Channels routes (served by daphne)."""

import os

import django
from django.core.handlers.asgi import ASGIHandler

# Production by default: a server started without DJANGO_SETTINGS_MODULE must never run on the
# development secrets published in this repository. prod refuses to start half-configured;
# the developer commands (make serve/demo, manage.py, tests) name their settings themselves.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aybiza.settings.prod")


def _django_asgi_app() -> ASGIHandler:
    django.setup(set_prefix=False)  # as django.core.asgi.get_asgi_application does
    from aybiza.core.checks import refuse_to_serve_unless_checks_pass
    from aybiza.server.django_asgi import asgi_handler  # Django ticket #36700, fenced there

    # Daphne and uvicorn run no system checks: unsafe settings stop the server here.
    refuse_to_serve_unless_checks_pass()
    return asgi_handler()


# Django must be set up before the routes (and so the models) are imported.
django_asgi_app = _django_asgi_app()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from aybiza.core.checks import development_values_in_use, local_connections_only  # noqa: E402
from aybiza.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Twilio's handshake is authenticated by its signature (checked in the consumer), not by
        # cookies or Origin; only the portal's browser-call route adds session auth and the
        # Origin check, on that route alone (aybiza/routing.py).
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
if development_values_in_use():
    # A Host header is the client's to choose: with public secrets, also the socket must be local.
    application = local_connections_only(application)
