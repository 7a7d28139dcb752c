"""Celery: Redis broker in production; in-process execution in the embedded default."""

from .env import REDIS_URL, USE_REDIS, env

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=REDIS_URL or None)
# Embedded default: tasks run in-process. Callers on the event loop dispatch through a thread
# (`aybiza.core.tasks.dispatch`), so an eager task never blocks a live call.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not USE_REDIS)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis has no real acks: a message a dead worker held comes back after `visibility_timeout`. It
# must outlast the longest task (a tool's retries), or a slow run is delivered twice. kombu looks
# for such messages every interval x throttle seconds (100 s by default): keep that well below it.
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
