"""The Twilio REST client used by built-ins (PROTOCOLS §1.7–1.8)."""

from __future__ import annotations

from django.conf import settings
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from tools.executor.outcome import ToolOutcome, failed
from tools.models import ExecutionStatus

# A tool call waits for this: Twilio's REST answers in well under a second when healthy.
TWILIO_REST_TIMEOUT_S = 10


def twilio_client() -> Client | None:
    """A client for the configured account, or None when no account SID is configured."""
    if not settings.TWILIO_ACCOUNT_SID:
        return None
    client = Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN,
                    http_client=TwilioHttpClient(timeout=TWILIO_REST_TIMEOUT_S))
    if settings.TWILIO_API_BASE_URL:
        # Calls and Messages both live on the `api` domain (client.messages → client.api).
        client.api.base_url = settings.TWILIO_API_BASE_URL.rstrip("/")
    return client


def not_configured(what: str) -> ToolOutcome:
    return failed(f"{what} is not available: Twilio is not configured (TWILIO_ACCOUNT_SID).",
                  status=ExecutionStatus.REJECTED, attempts=0)
