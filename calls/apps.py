from django.apps import AppConfig
from django.conf import settings


class CallsConfig(AppConfig):
    name = "calls"
    verbose_name = "Calls"

    def ready(self) -> None:
        if settings.OFFLINE_SPEECH_WARMUP:
            from calls.warmup import start_warmup_thread

            start_warmup_thread()
