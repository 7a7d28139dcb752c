"""The Celery app: `celery -A aybiza worker` runs tasks, `celery -A aybiza beat` schedules."""

import os

from celery import Celery
from celery.signals import worker_init

# Production by default, as aybiza.asgi: a worker started without DJANGO_SETTINGS_MODULE must
# not hold the development Twilio token and master key (this module is imported by `aybiza`, so
# its default also reaches `python -m aybiza.server`). Developer commands name their settings.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aybiza.settings.prod")

app = Celery("aybiza")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _refuse_unsafe_settings(**kwargs) -> None:
    # Workers run no Django system checks on their own (see aybiza.core.checks).
    from aybiza.core.checks import refuse_to_serve_unless_checks_pass

    refuse_to_serve_unless_checks_pass()
