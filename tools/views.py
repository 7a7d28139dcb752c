"""Twilio-facing views of the tools app: the warm-transfer whisper."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from calls.twilio import webhook_signature_valid
from tools.builtins.whisper import TOKEN_PARAMETER, whisper_twiml

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def whisper(request: HttpRequest) -> HttpResponse:
    """What the human hears on answering a warm transfer (Twilio's `<Number url=...>`)."""
    if not webhook_signature_valid(request):
        logger.warning("Rejected whisper request with a bad Twilio signature")
        return HttpResponseForbidden("Invalid Twilio signature.")
    twiml = whisper_twiml(request.GET.get(TOKEN_PARAMETER, ""))
    if twiml is None:
        return HttpResponseForbidden("Invalid or expired whisper token.")
    return HttpResponse(twiml, content_type="text/xml")
