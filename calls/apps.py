from django.apps import AppConfig
from django.conf import settings


def _end_live_calls():
    from calls.consumers import end_live_calls  # the live-call stack, only when shutting down

    return end_live_calls()


class CallsConfig(AppConfig):
    name = "calls"
    verbose_name = "Calls"

    def ready(self) -> None:
        from aybiza.server.launcher import add_shutdown_hook

        # SIGTERM under `python -m aybiza.server`: live calls are closed and saved first.
        add_shutdown_hook(_end_live_calls)
        from aybiza.core.metrics import scrape_collectors
        from calls.realtime.pacer import pacer_metric_families

        scrape_collectors.append(pacer_metric_families)  # /metrics: tick lag, sessions
        from calls.campaigns import campaign_rows_retention_enforce
        from compliance.services.retention import register_retention_enforcer

        register_retention_enforcer("campaign_rows", campaign_rows_retention_enforce)
        if settings.OFFLINE_SPEECH_WARMUP:
            from calls.warmup import start_warmup_thread

            start_warmup_thread()
