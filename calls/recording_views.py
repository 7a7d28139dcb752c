"""Playback of a recording through a signed link of ours (recordings sealed on this server).

The link is the credential, like an S3 presigned URL: it names one call's recording, expires
after RECORDING_URL_TTL_S, and was issued (and audited) only to someone allowed to play it.
Byte ranges are served so a browser's player can seek.
"""

from __future__ import annotations

import re

from django.http import HttpResponse
from django.views.decorators.http import require_GET

from aybiza.core.errors import ApplicationError
from calls.recordings import recording_from_link

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@require_GET
def recording_playback(request, token: str) -> HttpResponse:
    try:
        call, audio = recording_from_link(token)
    except ApplicationError as exc:
        return HttpResponse(exc.message, status=exc.status_code, content_type="text/plain")
    status, body, headers = 200, audio, {}
    wanted = _RANGE.match(request.headers.get("Range", "").strip())
    if wanted and (wanted.group(1) or wanted.group(2)):
        size = len(audio)
        if wanted.group(1):
            start = int(wanted.group(1))
            end = min(int(wanted.group(2)) if wanted.group(2) else size - 1, size - 1)
        else:  # the last N bytes
            start, end = max(0, size - int(wanted.group(2))), size - 1
        if start > end or start >= size:
            return HttpResponse(status=416, headers={"Content-Range": f"bytes */{size}"})
        status, body = 206, audio[start:end + 1]
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    response = HttpResponse(body, status=status, content_type="audio/wav", headers=headers)
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = f'inline; filename="{call.call_sid}.wav"'
    response["Cache-Control"] = "private, no-store"
    return response
