"""Call recordings: stored encrypted per tenant, played only through links that expire.

At rest: in the embedded default each file is sealed with the tenant's data key (AES-GCM,
compliance/crypto.py) before it is written; on S3, S3 encrypts each object with SSE-KMS under
the tenant's own KMS key (calls/recording_storage.py). Names ending in `.enc` are sealed by us,
so a deployment that moves from files to S3 still reads its older recordings.

Playback: a member whose role is in RECORDING_ROLES (or an API key with the `recordings`
scope) is given a link valid for RECORDING_URL_TTL_S seconds: an S3 presigned URL, or our own
signed link that decrypts on the fly. Issuing a link and downloading are audited.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from aybiza.core.errors import ApplicationError, NotFound
from aybiza.core.models import ApiKey, Scope
from calls.models import Call
from calls.recording_storage import is_sealed_by_us
from compliance.crypto import decrypt_for_tenant, encrypt_for_tenant
from compliance.services import audit_record
from compliance.services.storage import delete_files_on_commit

SEALED_SUFFIX = ".enc"
_LINK_SALT = "aybiza.calls.recording-link"
# Expired, altered and stale links alike: a link says nothing about why it stopped working.
LINK_INVALID = "This recording link is invalid or has expired."


class RecordingNotAllowed(ApplicationError):
    status_code = 403
    code = "recording_not_allowed"


class RecordingLinkInvalid(ApplicationError):
    status_code = 404
    code = "recording_link_invalid"


@dataclass(frozen=True)
class RecordingLink:
    url: str  # absolute for S3; a path on this server for sealed files
    expires_at: datetime


def recording_context(call: Call) -> str:
    return f"recording:{call.call_sid}"


def may_play_recordings(*, role: str | None = None, api_key: ApiKey | None = None) -> bool:
    """Members by role (RECORDING_ROLES), API keys by the `recordings` scope."""
    if api_key is not None:
        return api_key.has_scope(Scope.RECORDINGS)
    return role is not None and role in settings.RECORDING_ROLES


def recording_attach(*, call: Call, audio: bytes, name: str) -> None:
    """Store `audio` (a WAV) as the call's recording; the caller saves the row. A call that
    already has one (its part before a warm transfer that came back) gets one file: the
    earlier audio, then this."""
    storage = call.recording.storage
    earlier = call.recording.name if call.recording else ""
    if earlier:
        audio = _joined(_read(call), audio)
    if is_sealed_by_us(storage):
        audio = encrypt_for_tenant(call.tenant, audio, context=recording_context(call))
        name += SEALED_SUFFIX
    call.recording.save(name, ContentFile(audio), save=False)
    if earlier:
        delete_files_on_commit(storage, [earlier])


def _joined(first: bytes, second: bytes) -> bytes:
    """Two WAVs of the same format, one after the other."""
    with wave.open(io.BytesIO(first)) as a, wave.open(io.BytesIO(second)) as b:
        params = a.getparams()
        frames = a.readframes(a.getnframes()) + b.readframes(b.getnframes())
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setparams(params)
        out.writeframes(frames)
    return buffer.getvalue()


def recording_audio(*, call: Call, actor=None) -> bytes:
    """The call's WAV, decrypted; the access is written to the audit log."""
    if not call.recording:
        raise NotFound("This call has no recording.")
    audio = _read(call)
    audit_record(action="call.recording_accessed", tenant=call.tenant, target=call, actor=actor)
    return audio


def _read(call: Call) -> bytes:
    with call.recording.open("rb") as handle:
        data = handle.read()
    if call.recording.name.endswith(SEALED_SUFFIX):
        return decrypt_for_tenant(call.tenant, data, context=recording_context(call))
    return data


def recording_link(*, call: Call, actor=None, ttl_s: int | None = None) -> RecordingLink:
    """A playback link for whoever may play recordings (checked by the caller); audited."""
    if not call.recording:
        raise NotFound("This call has no recording.")
    ttl_s = ttl_s or settings.RECORDING_URL_TTL_S
    expires_at = timezone.now() + timedelta(seconds=ttl_s)
    name = call.recording.name
    if name.endswith(SEALED_SUFFIX):
        token = signing.dumps({"call": call.pk, "tenant": call.tenant_id, "name": name,
                               "exp": int(expires_at.timestamp())},
                              salt=_LINK_SALT, compress=True)
        url = reverse("recording-playback", kwargs={"token": token})
    else:
        url = call.recording.storage.url(name, expire=ttl_s, parameters={
            "ResponseContentType": "audio/wav",
            "ResponseContentDisposition": f'inline; filename="{call.call_sid}.wav"'})
    audit_record(action="call.recording_link_issued", tenant=call.tenant, target=call,
                 actor=actor, payload={"expires_at": expires_at.isoformat()})
    return RecordingLink(url=url, expires_at=expires_at)


def recording_from_link(token: str) -> tuple[Call, bytes]:
    """The call and WAV a link of ours stands for; expired, altered or stale links are refused
    alike (the recording may have been deleted by retention or erasure since)."""
    try:
        claims = signing.loads(token, salt=_LINK_SALT)
    except signing.BadSignature:
        raise RecordingLinkInvalid(LINK_INVALID) from None
    if not isinstance(claims, dict) or claims.get("exp", 0) < timezone.now().timestamp():
        raise RecordingLinkInvalid(LINK_INVALID)
    call = (Call.objects.select_related("tenant")
            .filter(pk=claims.get("call"), tenant_id=claims.get("tenant")).first())
    if call is None or not call.recording or call.recording.name != claims.get("name"):
        raise RecordingLinkInvalid(LINK_INVALID)
    return call, _read(call)
