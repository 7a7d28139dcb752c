from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "aybiza.core"
    label = "core"
    verbose_name = "Tenants and access"
