"""The demo's booking system: a tiny HTTP API standing in for a clinic's calendar.

A product feature, kept on purpose: `make demo` and a fresh `make serve` show a whole booking
through the tool system with nothing external to set up. It books nothing real.

The demo agent's `book_appointment` tool calls it like any tenant's API: over HTTP, through a
Celery task (in-process in the embedded default), signed with HMAC-SHA256, which this view
verifies as a real receiver would.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from tools.executor.auth import SIGNATURE_HEADER, TIMESTAMP_HEADER, hmac_signature_valid


def demo_calendar_secret() -> str:
    """The HMAC secret shared by the demo tool and this view (derived, never stored in clear)."""
    return hmac.new(settings.SECRET_KEY.encode(), b"aybiza-demo-calendar",
                    hashlib.sha256).hexdigest()


@csrf_exempt
@require_POST
def book(request: HttpRequest) -> JsonResponse:
    """Book a slot: `{"when": "tomorrow at ten", "name"?: "..."}` → a confirmation to speak."""
    if not hmac_signature_valid(secret=demo_calendar_secret(),
                                timestamp=request.headers.get(TIMESTAMP_HEADER, ""),
                                body=request.body,
                                signature=request.headers.get(SIGNATURE_HEADER, "")):
        return JsonResponse({"error": "bad signature"}, status=401)
    try:
        booking = json.loads(request.body or b"{}")
    except json.JSONDecodeError:
        return JsonResponse({"error": "the body is not JSON"}, status=400)
    when = str(booking.get("when", "")).strip() if isinstance(booking, dict) else ""
    if not when:
        return JsonResponse({"error": "when is required"}, status=400)
    reference = hashlib.sha256(request.body).hexdigest()[:4].upper()
    return JsonResponse({
        "booked": True, "when": when, "reference": reference,
        "message": f"You're booked for {when}. Your reference is {' '.join(reference)}.",
    })
