from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "aybiza.core"
    label = "core"
    verbose_name = "Tenants and access"

    def ready(self) -> None:
        # drf-spectacular finds extensions by subclass registration, so the module must load.
        from aybiza.core import schema  # noqa: F401
