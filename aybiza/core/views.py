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
