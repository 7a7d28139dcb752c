from django.apps import AppConfig


class MemoryConfig(AppConfig):
    name = "memory"
    verbose_name = "Memory"

    def ready(self) -> None:
        from compliance.services import register_subject_data
        from memory import subjects

        register_subject_data("memory", export=subjects.export, erase=subjects.erase)
        from compliance.services.retention import register_retention_enforcer
        from memory.services import memory_retention_enforce

        register_retention_enforcer("memory", memory_retention_enforce)
