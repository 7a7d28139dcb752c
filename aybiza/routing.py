"""WebSocket routes."""

from django.urls import path

from calls.consumers import MediaStreamConsumer

websocket_urlpatterns = [
    path("ws/twilio/media/", MediaStreamConsumer.as_asgi()),
]
