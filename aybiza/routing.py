"""WebSocket routes."""

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from aybiza.portal.consumers import DashboardConsumer
from calls.browser_calls import BrowserCallConsumer
from calls.consumers import MediaStreamConsumer

websocket_urlpatterns = [
    # Twilio: authenticated by its signature and the stream token (no cookies, no Origin).
    path("ws/twilio/media/", MediaStreamConsumer.as_asgi()),
    # The portal's browser test call: the member's session cookie, from one of our own pages
    # (a page elsewhere cannot open it with the member's cookie: the Origin must be ours).
    path("ws/portal/agents/<int:agent_id>/talk/",
         AllowedHostsOriginValidator(AuthMiddlewareStack(BrowserCallConsumer.as_asgi()))),
    # The portal's live dashboard: the member's session, our own Origin.
    path("ws/portal/events/",
         AllowedHostsOriginValidator(AuthMiddlewareStack(DashboardConsumer.as_asgi()))),
]
