from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = "Compliance"

    def ready(self) -> None:
        from compliance import checks, signals
        from compliance.redaction import warm_up

        signals.connect()
        checks.register()
        warm_up()  # never on a call's first stored turn: loading stalls other threads
