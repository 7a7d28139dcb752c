from django.apps import AppConfig


class LearningConfig(AppConfig):
    name = "learning"
    verbose_name = "Learning"

    def ready(self) -> None:
        import learning.tasks  # noqa: F401 - subscribes post-call analysis to call.completed
