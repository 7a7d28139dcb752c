"""Twilio Media Streams JSON: the only module that knows it (PROTOCOLS §1.2–1.3).

Inbound messages become internal events; internal commands (audio out, mark, clear) become JSON.
Media, the per-frame message, decodes straight to the audio `bytes` with no event object, and
outbound media is built as prefix + base64 + suffix without a JSON encoder.
"""

from __future__ import annotations

import binascii
from base64 import b64encode
from dataclasses import dataclass, field

import orjson


class ProtocolError(ValueError):
    """A message that is not valid Twilio Media Streams JSON. `kind` names the failure."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


@dataclass(slots=True)
class Connected:
    protocol: str = ""
    version: str = ""


@dataclass(slots=True)
class Start:
    stream_sid: str
    call_sid: str
    account_sid: str = ""
    custom_parameters: dict[str, str] = field(default_factory=dict)
    encoding: str = "audio/x-mulaw"
    sample_rate: int = 8000
    channels: int = 1
    tracks: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Dtmf:
    digit: str


@dataclass(slots=True)
class Mark:
    name: str


@dataclass(slots=True)
class Stop:
    call_sid: str = ""


InboundEvent = bytes | Connected | Start | Dtmf | Mark | Stop

_DTMF_DIGITS = frozenset("0123456789*#ABCD")


# Complexity over the limit on purpose: one branch per Twilio message type, parsed per frame (hot
# path).
def parse_inbound(raw: str | bytes) -> InboundEvent:  # noqa: C901
    """Parse one WebSocket text message. Media → its decoded µ-law bytes; else an event."""
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError("bad_json", str(exc)) from None
    if not isinstance(message, dict):
        raise ProtocolError("bad_json", "not an object")
    event = message.get("event")
    if event == "media":
        media = message.get("media")
        payload = media.get("payload") if isinstance(media, dict) else None
        if not isinstance(payload, str):
            raise ProtocolError("bad_media", "missing payload")
        if isinstance(media.get("track"), str) and media["track"] not in ("inbound",
                                                                           "inbound_track"):
            raise ProtocolError("bad_media", "not the inbound track")
        try:
            return binascii.a2b_base64(payload, strict_mode=True)
        except binascii.Error as exc:
            raise ProtocolError("bad_base64", str(exc)) from None
    if event == "start":
        return _parse_start(message)
    if event == "dtmf":
        dtmf = message.get("dtmf")
        digit = dtmf.get("digit") if isinstance(dtmf, dict) else None
        if not isinstance(digit, str) or digit not in _DTMF_DIGITS:
            raise ProtocolError("bad_dtmf", repr(digit))
        return Dtmf(digit=digit)
    if event == "mark":
        mark = message.get("mark")
        name = mark.get("name") if isinstance(mark, dict) else None
        if not isinstance(name, str):
            raise ProtocolError("bad_mark", "missing name")
        return Mark(name=name)
    if event == "stop":
        stop = message.get("stop")
        call_sid = stop.get("callSid", "") if isinstance(stop, dict) else ""
        return Stop(call_sid=call_sid if isinstance(call_sid, str) else "")
    if event == "connected":
        return Connected(protocol=str(message.get("protocol", "")),
                         version=str(message.get("version", "")))
    raise ProtocolError("unknown_event", repr(event)[:40])


def _parse_start(message: dict) -> Start:
    start = message.get("start")
    if not isinstance(start, dict):
        raise ProtocolError("bad_start", "missing start object")
    stream_sid = start.get("streamSid") or message.get("streamSid")
    call_sid = start.get("callSid")
    if not isinstance(stream_sid, str) or not isinstance(call_sid, str):
        raise ProtocolError("bad_start", "missing streamSid or callSid")
    params = start.get("customParameters") or {}
    media_format = start.get("mediaFormat") or {}
    if not isinstance(params, dict) or not isinstance(media_format, dict):
        raise ProtocolError("bad_start", "customParameters/mediaFormat are not objects")
    return Start(
        stream_sid=stream_sid, call_sid=call_sid, account_sid=str(start.get("accountSid", "")),
        custom_parameters={str(k): str(v) for k, v in params.items()},
        encoding=str(media_format.get("encoding", "audio/x-mulaw")),
        sample_rate=int(media_format.get("sampleRate", 8000) or 8000),
        channels=int(media_format.get("channels", 1) or 1),
        tracks=[str(t) for t in start.get("tracks", []) if isinstance(t, str)],
    )


class OutboundEncoder:
    """Builds outbound messages for one stream; the prefixes carry the stream sid once."""

    __slots__ = ("_clear", "_mark_prefix", "_media_prefix")

    def __init__(self, stream_sid: str) -> None:
        sid = orjson.dumps(stream_sid).decode()
        self._media_prefix = '{"event":"media","streamSid":' + sid + ',"media":{"payload":"'
        self._mark_prefix = '{"event":"mark","streamSid":' + sid + ',"mark":{"name":'
        self._clear = '{"event":"clear","streamSid":' + sid + "}"

    def media(self, ulaw: bytes) -> str:
        return self._media_prefix + b64encode(ulaw).decode("ascii") + '"}}'

    def mark(self, name: str) -> str:
        return self._mark_prefix + orjson.dumps(name).decode() + "}}"

    def clear(self) -> str:
        return self._clear


# --- Messages Twilio sends, for the simulator and tests (they play Twilio's side). -------------

def twilio_connected() -> str:
    return '{"event":"connected","protocol":"Call","version":"1.0.0"}'


def twilio_start(*, stream_sid: str, call_sid: str, account_sid: str,
                 custom_parameters: dict[str, str], sequence: int = 1) -> str:
    return orjson.dumps({
        "event": "start", "sequenceNumber": str(sequence), "streamSid": stream_sid,
        "start": {"accountSid": account_sid, "streamSid": stream_sid, "callSid": call_sid,
                  "tracks": ["inbound"], "customParameters": custom_parameters,
                  "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000,
                                  "channels": 1}},
    }).decode()


def twilio_media(*, stream_sid: str, ulaw: bytes, chunk: int, timestamp_ms: int,
                 sequence: int) -> str:
    return (
        '{"event":"media","sequenceNumber":"' + str(sequence) + '","media":{"track":"inbound",'
        '"chunk":"' + str(chunk) + '","timestamp":"' + str(timestamp_ms) + '","payload":"'
        + b64encode(ulaw).decode("ascii") + '"},"streamSid":"' + stream_sid + '"}'
    )


def twilio_dtmf(*, stream_sid: str, digit: str, sequence: int) -> str:
    return orjson.dumps({"event": "dtmf", "sequenceNumber": str(sequence),
                         "streamSid": stream_sid,
                         "dtmf": {"track": "inbound_track", "digit": digit}}).decode()


def twilio_mark(*, stream_sid: str, name: str, sequence: int) -> str:
    return orjson.dumps({"event": "mark", "sequenceNumber": str(sequence),
                         "streamSid": stream_sid, "mark": {"name": name}}).decode()


def twilio_stop(*, stream_sid: str, call_sid: str, account_sid: str, sequence: int) -> str:
    return orjson.dumps({"event": "stop", "sequenceNumber": str(sequence),
                         "streamSid": stream_sid,
                         "stop": {"accountSid": account_sid, "callSid": call_sid}}).decode()


@dataclass(slots=True)
class ServerMessage:
    """A message our server sent, as Twilio (the simulator) sees it."""

    event: str
    payload: bytes = b""
    name: str = ""


def parse_server_message(raw: str) -> ServerMessage:
    message = orjson.loads(raw)
    event = message.get("event", "")
    if event == "media":
        return ServerMessage(event, payload=binascii.a2b_base64(message["media"]["payload"]))
    if event == "mark":
        return ServerMessage(event, name=message["mark"]["name"])
    return ServerMessage(event)
