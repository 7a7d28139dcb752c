from django.urls import path

from calls import webhooks

urlpatterns = [
    path("voice/", webhooks.voice, name="twilio-voice"),
    path("status/", webhooks.status, name="twilio-status"),
    path("stream-status/", webhooks.stream_status, name="twilio-stream-status"),
]
