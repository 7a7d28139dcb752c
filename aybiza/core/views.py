import hmac

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse

from aybiza.core.metrics import exposition

LOOPBACK = {"127.0.0.1", "::1"}


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


def metrics(request):
    """Prometheus metrics (`aybiza.core.metrics`). With METRICS_TOKEN set, a scraper sends
    `Authorization: Bearer <token>`. Without it the endpoint answers only loopback clients, and
    only in the embedded default (DEBUG): in production a proxy on the same host would make
    every client look local, so there it is off until a token is set."""
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            response = JsonResponse({"detail": "Send Authorization: Bearer <METRICS_TOKEN>."},
                                    status=401)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    elif not settings.DEBUG or request.META.get("REMOTE_ADDR") not in LOOPBACK:
        return JsonResponse({"detail": "Metrics are served to other hosts only with "
                                       "METRICS_TOKEN set (see README, Metrics)."}, status=403)
    body, content_type = exposition()
    return HttpResponse(body, content_type=content_type)
