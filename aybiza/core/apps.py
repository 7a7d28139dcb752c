from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "aybiza.core"
    label = "core"
    verbose_name = "Tenants and access"

    def ready(self) -> None:
        # drf-spectacular finds extensions by subclass registration, and system checks (which
        # refuse to serve with unsafe settings) register on import: both modules must load.
        from aybiza.core import checks, schema, tasks  # noqa: F401 - tasks: event webhooks
        from aybiza.core.metrics import celery_queue_depths, scrape_collectors

        scrape_collectors.append(celery_queue_depths)  # /metrics: tasks waiting per queue
        from aybiza.core import tracing

        tracing.configure()  # OpenTelemetry over OTLP, when OTEL_EXPORTER_OTLP_ENDPOINT is set
