from django.conf import settings
from django.db import connection
from django.http import JsonResponse


def healthz(request):
    """Liveness and database reachability, for the load balancer; and whether the offline
    speech models are loaded when this process warms them up."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    body: dict[str, object] = {"status": "ok"}
    if settings.OFFLINE_SPEECH_WARMUP:
        from calls.warmup import speech_ready

        body["speech_ready"] = speech_ready.is_set()
    return JsonResponse(body)


def readyz(request):
    """Readiness, for the load balancer: 200 when this process can take calls — the database
    answers, Redis (channel layer, broker, cache) answers when configured, and the server is
    not shutting down — else 503 with the reason of each failed check."""
    checks: dict[str, str] = {"database": _check(_database)}
    if settings.REDIS_URL:
        checks["redis"] = _check(_redis)
    from calls.consumers import draining

    if draining.is_set():
        checks["server"] = "draining: shutting down, live calls are finishing"
    ready = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ready" if ready else "not ready", "checks": checks},
                        status=200 if ready else 503)


def _check(probe) -> str:
    try:
        probe()
    except Exception as exc:  # noqa: BLE001 - the reason is the answer
        return f"error: {type(exc).__name__}: {str(exc)[:200]}"
    return "ok"


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _redis() -> None:
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    finally:
        client.close()
