"""Twilio over HTTP: signature checks, TwiML answers, and the token binding a stream to its call.

(Twilio's Media Streams JSON lives in `calls/realtime/serializers/twilio.py`.)
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

from compliance.services import security_event

logger = logging.getLogger(__name__)

MEDIA_STREAM_PATH = "/ws/twilio/media/"
STREAM_TOKEN_PARAMETER = "token"
_TOKEN_SALT = "aybiza.calls.stream-token"


def validator() -> RequestValidator:
    return RequestValidator(settings.TWILIO_AUTH_TOKEN)


def public_url(path: str) -> str:
    """The exact URL Twilio was given for `path` (signatures are computed over it)."""
    return settings.PUBLIC_BASE_URL + path


def media_stream_url() -> str:
    """`wss://host/ws/twilio/media/` (`ws://` when the public origin is plain http)."""
    base = settings.PUBLIC_BASE_URL
    scheme, _, rest = base.partition("://")
    ws_scheme = "wss" if scheme == "https" else "ws"
    return f"{ws_scheme}://{rest}{MEDIA_STREAM_PATH}"


def webhook_signature_valid(request) -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    return bool(signature) and validator().validate(
        public_url(request.get_full_path()), request.POST, signature
    )


def signed_webhook(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A view Twilio posts to: POST only, no CSRF token (Twilio signs instead), the signature
    checked over PUBLIC_BASE_URL + path; a bad one is a 403 and a security event."""

    @functools.wraps(view)
    def checked(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not webhook_signature_valid(request):
            logger.warning("Rejected Twilio request with a bad signature on %s", request.path)
            security_event(kind="twilio.signature_rejected", detail={"path": request.path})
            return HttpResponseForbidden("Invalid Twilio signature.")
        return view(request, *args, **kwargs)

    return csrf_exempt(require_POST(checked))


def handshake_signature_valid(headers: dict[bytes, bytes], path: str) -> bool:
    """Check the Media Streams handshake signature over the URL we issued (no parameters)."""
    signature = headers.get(b"x-twilio-signature", b"").decode("latin-1")
    if not signature:
        return False
    scheme_url = media_stream_url()
    url = scheme_url[: scheme_url.index(MEDIA_STREAM_PATH)] + path
    return validator().validate(url, {}, signature)


@dataclass(frozen=True)
class StreamToken:
    call_id: int
    tenant_id: int
    # Set when the stream takes a caller back from a warm transfer nobody answered.
    transfer_id: int | None = None


def stream_token_issue(*, call_id: int, tenant_id: int, transfer_id: int | None = None) -> str:
    claims = {"c": call_id, "t": tenant_id}
    if transfer_id is not None:
        claims["x"] = transfer_id
    return signing.dumps(claims, salt=_TOKEN_SALT, compress=False)


def stream_token_verify(token: str) -> StreamToken | None:
    try:
        data = signing.loads(token, salt=_TOKEN_SALT, max_age=settings.STREAM_TOKEN_MAX_AGE_S)
        transfer = data.get("x")
        return StreamToken(call_id=int(data["c"]), tenant_id=int(data["t"]),
                           transfer_id=int(transfer) if transfer is not None else None)
    except (signing.BadSignature, KeyError, TypeError, ValueError, AttributeError):
        return None


def live_call_group(call_id: int) -> str:
    """The channel-layer group of a call's media stream consumer: how a webhook (an answering
    machine result) reaches the live call, whichever server process holds it."""
    return f"call.{call_id}"


def twiml_connect_stream(*, call_id: int, tenant_id: int, transfer_id: int | None = None) -> str:
    response = VoiceResponse()
    stream = response.connect().stream(
        url=media_stream_url(), status_callback=public_url("/twilio/stream-status/")
    )
    stream.parameter(name=STREAM_TOKEN_PARAMETER,
                     value=stream_token_issue(call_id=call_id, tenant_id=tenant_id,
                                              transfer_id=transfer_id))
    return str(response)


def twiml_dial(*, target: str, caller_id: str | None, timeout_s: int, action_url: str) -> str:
    """A cold transfer: Twilio dials the number or SIP address from the caller's call and, when
    that leg ends, asks `action_url` what next (DialCallStatus)."""
    response = VoiceResponse()
    dial = response.dial(caller_id=caller_id, timeout=timeout_s, action=action_url,
                         method="POST")
    # A desk phone or PBX by SIP, a phone by its number.
    (dial.sip if target.startswith(("sip:", "sips:")) else dial.number)(target)
    return str(response)


def twiml_hangup() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


def twiml_hold_in_conference(*, conference: str, hold_music_url: str = "") -> str:
    """The caller waits in a conference (hold music until the person joins); when the caller
    leaves, the conference ends."""
    response = VoiceResponse()
    dial = response.dial()
    dial.conference(conference, start_conference_on_enter=False, end_conference_on_exit=True,
                    beep=False, wait_url=hold_music_url or None, wait_method="GET")
    return str(response)


def twiml_brief_and_join(*, summary: str, conference: str, events_url: str,
                         audio_url: str = "") -> str:
    """What the person hears on answering: the agent's summary of the call (its voice from
    `audio_url`, else Twilio's reading `summary`), then the caller. Their joining starts the
    conference (Twilio posts `join` to `events_url`); their leaving ends it."""
    response = VoiceResponse()
    if audio_url:
        response.play(audio_url)
    else:
        response.say(summary)
    dial = response.dial()
    dial.conference(conference, start_conference_on_enter=True, end_conference_on_exit=True,
                    beep=False, status_callback=events_url, status_callback_event="join",
                    status_callback_method="POST")
    return str(response)


def twiml_redirect(*, path: str, pause_s: int = 1) -> str:
    """Wait a moment, then have Twilio request `path` again (through the load balancer, so a
    server that is not shutting down answers it). Twilio signs the redirected request too."""
    response = VoiceResponse()
    response.pause(length=pause_s)
    response.redirect(public_url(path), method="POST")
    return str(response)


def twiml_say_and_hangup(message: str) -> str:
    response = VoiceResponse()
    response.say(message)
    response.hangup()
    return str(response)


def rest_client():
    """The Twilio REST client (a local fake when TWILIO_API_BASE_URL is set)."""
    from twilio.rest import Client

    client = Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN)
    if settings.TWILIO_API_BASE_URL:
        client.api.base_url = settings.TWILIO_API_BASE_URL
    return client


def call_status(call_sid: str) -> str:
    """Twilio's current status of a call, e.g. "completed" (blocking HTTP: a worker's job)."""
    return str(rest_client().calls(call_sid).fetch().status)


def hang_up_call(call_sid: str) -> None:
    """End a live call (blocking HTTP: call from a thread)."""
    rest_client().calls(call_sid).update(status="completed")
