"""The Celery app: `celery -A aybiza worker` runs tasks, `celery -A aybiza beat` schedules."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aybiza.settings.dev")

app = Celery("aybiza")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
