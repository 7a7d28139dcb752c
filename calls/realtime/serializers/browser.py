"""The portal's browser test call on the wire, beside Twilio's (`twilio.py`).

The page speaks the media-stream subset of Twilio's protocol, so the same parser, pacer and
session serve it with no second pipeline:

- browser → server: `media` (20 ms of 8 kHz µ-law, base64), `mark` (echoed when the audio before
  it has played), `dtmf`, `stop` (the member hung up). No `start`: the socket itself is the
  stream, authenticated by the portal session when it opens (`calls/browser_calls.py`).
- server → browser: `media`, `mark`, `clear` (barge-in: the page flushes what it queued), built
  by `OutboundEncoder`; plus `transcript`, below, which only the browser gets: each turn as it is
  saved, with the agent turn's latency, for the live transcript.
"""

from __future__ import annotations

from typing import Any

import orjson

LATENCY_FIELDS = ("stt_final_ms", "llm_first_token_ms", "tts_first_audio_ms", "first_frame_ms")


def transcript_message(*, index: int, role: str, text: str, interrupted: bool = False,
                       **fields: Any) -> str:
    """One saved turn for the page: who, what (as the session heard or said it) and, for an
    agent turn, how long each stage took after the caller stopped speaking."""
    latency = {name: fields[name] for name in LATENCY_FIELDS if fields.get(name) is not None}
    return orjson.dumps({"event": "transcript", "turn": {
        "index": index, "role": str(role), "text": text, "interrupted": interrupted,
        "latency_ms": latency}}).decode()
