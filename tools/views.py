"""Twilio-facing views of the tools app: the warm-transfer whisper."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, HttpResponseForbidden

from calls.twilio import signed_webhook
from tools.builtins.whisper import TOKEN_PARAMETER, whisper_twiml

logger = logging.getLogger(__name__)


@signed_webhook
def whisper(request: HttpRequest) -> HttpResponse:
    """What the human hears on answering a warm transfer (Twilio's `<Number url=...>`)."""
    twiml = whisper_twiml(request.GET.get(TOKEN_PARAMETER, ""))
    if twiml is None:
        return HttpResponseForbidden("Invalid or expired whisper token.")
    return HttpResponse(twiml, content_type="text/xml")
