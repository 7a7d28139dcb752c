from django.urls import path

from calls import outbound_webhooks, transfer_webhooks, webhooks

urlpatterns = [
    path("voice/", webhooks.voice, name="twilio-voice"),
    path("status/", webhooks.status, name="twilio-status"),
    path("outbound/voice/", outbound_webhooks.voice, name="twilio-outbound-voice"),
    path("outbound/status/", outbound_webhooks.status, name="twilio-outbound-status"),
    path("outbound/amd/", outbound_webhooks.answering_machine, name="twilio-outbound-amd"),
    path("stream-status/", webhooks.stream_status, name="twilio-stream-status"),
    path("transfer/brief/", transfer_webhooks.brief, name="twilio-transfer-brief"),
    path("transfer/brief/audio/", transfer_webhooks.brief_audio,
         name="twilio-transfer-brief-audio"),
    path("transfer/status/", transfer_webhooks.status, name="twilio-transfer-status"),
    path("transfer/dial-result/", transfer_webhooks.dial_result,
         name="twilio-transfer-dial-result"),
    path("transfer/conference/", transfer_webhooks.conference,
         name="twilio-transfer-conference"),
]
