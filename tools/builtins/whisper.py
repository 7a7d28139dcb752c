"""Warm transfer: the TwiML the human hears on answering, before being connected to the caller.

The summary travels inside a signed, short-lived token in the `<Number url=...>` Twilio fetches,
so nothing is stored and nobody can make our number say arbitrary text.
"""

from __future__ import annotations

from django.core import signing
from django.urls import reverse
from twilio.twiml.voice_response import VoiceResponse

from calls.twilio import public_url

_SALT = "aybiza.tools.whisper"
TOKEN_PARAMETER = "t"
# Twilio fetches the URL when the human answers: ringing can take a while.
TOKEN_MAX_AGE_S = 300
MAX_SUMMARY_CHARS = 500
DEFAULT_WHISPER = "Incoming transfer from the AYBIZA assistant."


def whisper_url(*, summary: str, call_id: int) -> str:
    token = signing.dumps({"s": summary[:MAX_SUMMARY_CHARS], "c": call_id}, salt=_SALT,
                          compress=True)
    return public_url(reverse("tools-whisper")) + f"?{TOKEN_PARAMETER}={token}"


def whisper_twiml(token: str) -> str | None:
    """The TwiML for a token from `whisper_url`, or None when it is forged or expired."""
    try:
        data = signing.loads(token, salt=_SALT, max_age=TOKEN_MAX_AGE_S)
    except signing.BadSignature:
        return None
    response = VoiceResponse()
    response.say(str(data.get("s") or DEFAULT_WHISPER))
    return str(response)
