from django.apps import AppConfig


class ToolsConfig(AppConfig):
    name = "tools"
    verbose_name = "Tools"

    def ready(self) -> None:
        import tools.builtins  # noqa: F401 - registers the built-in tools (tools.builtin_registry)
