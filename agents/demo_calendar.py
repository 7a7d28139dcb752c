"""The demo's booking system: a tiny HTTP API standing in for a clinic's and a restaurant's
calendar and an IT help desk's ticket queue.

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
from datetime import datetime

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from calls.realtime.providers.llm.offline.when import When
from tools.executor.auth import SIGNATURE_HEADER, TIMESTAMP_HEADER, hmac_signature_valid


def demo_calendar_secret() -> str:
    """The HMAC secret shared by the demo tool and this view (derived, never stored in clear)."""
    return hmac.new(settings.SECRET_KEY.encode(), b"aybiza-demo-calendar",
                    hashlib.sha256).hexdigest()


def _signed_json(request: HttpRequest) -> dict | JsonResponse:
    """The request's JSON object once its HMAC signature checks out, or the error response."""
    if not hmac_signature_valid(secret=demo_calendar_secret(),
                                timestamp=request.headers.get(TIMESTAMP_HEADER, ""),
                                body=request.body,
                                signature=request.headers.get(SIGNATURE_HEADER, "")):
        return JsonResponse({"error": "bad signature"}, status=401)
    try:
        body = json.loads(request.body or b"{}")
    except json.JSONDecodeError:
        return JsonResponse({"error": "the body is not JSON"}, status=400)
    if not isinstance(body, dict):
        return JsonResponse({"error": "the body is not a JSON object"}, status=400)
    return body


def _spoken_when(when: str) -> str:
    """An ISO date-time as said on the phone; other text as it came."""
    try:
        moment = datetime.fromisoformat(when)
    except ValueError:
        return when
    return When(moment, has_date=True, has_time="T" in when).spoken()


@csrf_exempt
@require_POST
def book(request: HttpRequest) -> JsonResponse:
    """Book a slot or a table: `{"when": "2026-12-08T10:00:00-05:00", "party_size"?: 4,
    "name"?: "..."}` → a confirmation to speak."""
    booking = _signed_json(request)
    if isinstance(booking, JsonResponse):
        return booking
    when = str(booking.get("when", "")).strip()
    if not when:
        return JsonResponse({"error": "when is required"}, status=400)
    reference = hashlib.sha256(request.body).hexdigest()[:4].upper()
    party = booking.get("party_size")
    guests = f" for {party}" if isinstance(party, int) and party > 0 else ""
    return JsonResponse({
        "booked": True, "when": when, "reference": reference,
        "message": f"You're booked{guests} for {_spoken_when(when)}. Your reference is "
                   f"{' '.join(reference)}.",
    })


@csrf_exempt
@require_POST
def open_ticket(request: HttpRequest) -> JsonResponse:
    """Open a help-desk ticket: `{"summary": "...", "urgency": "urgent"}` → its number."""
    ticket = _signed_json(request)
    if isinstance(ticket, JsonResponse):
        return ticket
    summary = str(ticket.get("summary", "")).strip()
    if not summary:
        return JsonResponse({"error": "summary is required"}, status=400)
    number = int(hashlib.sha256(request.body).hexdigest()[:6], 16) % 90000 + 10000
    soon = "within the hour" if ticket.get("urgency") == "urgent" else "today"
    return JsonResponse({
        "ticket": number, "urgency": ticket.get("urgency", "normal"),
        "message": f"Ticket {' '.join(str(number))} is open; an engineer will call you {soon}.",
    })
