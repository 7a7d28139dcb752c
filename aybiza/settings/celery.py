"""Celery: Redis broker in production; in-process execution in the embedded default."""

from .env import REDIS_URL, USE_REDIS, env

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=REDIS_URL or None)
# Embedded default: tasks run in-process. Callers on the event loop dispatch through a thread
# (`aybiza.core.tasks.dispatch`), so an eager task never blocks a live call.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not USE_REDIS)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
# A task that timed out or failed is acknowledged, never delivered again: it would only hang or
# fail again (a poison task must not circle the workers for ever).
CELERY_TASK_ACKS_ON_FAILURE_OR_TIMEOUT = True
# A worker process that dies mid-task (OOM, crash) sends the task again as a counted retry, so the
# task's `max_retries` bounds it; requeueing it as new (reject_on_worker_lost) would loop.
CELERY_TASK_REJECT_ON_WORKER_LOST = False
CELERY_TASK_RETRY_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Every task has a time limit (prefork pool): soft raises SoftTimeLimitExceeded in the task, hard
# kills its process. Tasks set tighter ones of their own (tools: TOOLS_TASK_*_TIME_LIMIT_S).
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT_S", default=300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT_S", default=360)
# Redis has no real acks: a message a dead worker held comes back after `visibility_timeout`. It
# must outlast the longest task (the hard time limit above), or a slow run is delivered twice.
# kombu looks for such messages every interval x throttle seconds: keep that well below it.
_VISIBILITY_TIMEOUT_S = env.int("CELERY_VISIBILITY_TIMEOUT_S", default=600)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": _VISIBILITY_TIMEOUT_S,
    "unacked_restore_interval": min(10, max(1, _VISIBILITY_TIMEOUT_S // 5)),
    "unacked_restore_throttle": 1,
}
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ROUTES = {"tools.*": {"queue": "tools"}}
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
