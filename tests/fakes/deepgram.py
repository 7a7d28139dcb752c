"""A fake Deepgram: live STT (`/v1/listen` WS), Aura TTS (`/v1/speak` WS and REST).

Wire formats: what `calls/realtime/providers/stt/deepgram.py` and
`calls/realtime/providers/tts/deepgram.py` send and parse (Deepgram's API reference for
`/v1/listen` and `/v1/speak`; deepgram-sdk 7.x types).
The recogniser cannot understand speech, so it follows a script: every stretch of loud audio
is one utterance, its text is the next entry of `utterances` (then `default_text`). Loud means
µ-law frames whose mean magnitude exceeds `speech_threshold`; `tone()` and `silence()` build
such audio. Per connection it answers like the real service:

- SpeechStarted when loud audio begins (`vad_events=true`);
- interim Results every `interim_every_ms` of speech, one more word each (`interim_results=true`);
- a final Results with `speech_final=true` once `endpointing` ms of silence follow the speech;
- UtteranceEnd `utterance_end_ms` after the last word (when the parameter is given);
- an empty final Results every `silent_final_every_ms` of silence (Deepgram does this too);
- Finalize → the pending speech as a final with `from_finalize=true`; KeepAlive → recorded only;
- CloseStream → pending final, Metadata, close 1000.

Timestamps are seconds of audio received on that connection, as Deepgram's are.
"""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiohttp import WSMsgType, web

from calls.realtime.audio import pcm16_to_ulaw, ulaw_to_pcm16
from tests.fakes import FakeServer

SAMPLE_RATE = 8000
FRAME_BYTES = 160


def tone(ms: int, freq: float = 440.0, amplitude: int = 8000) -> bytes:
    """`ms` of a sine as 8 kHz µ-law: "speech" for the fake recogniser."""
    t = np.arange(SAMPLE_RATE * ms // 1000) / SAMPLE_RATE
    return pcm16_to_ulaw((amplitude * np.sin(2 * math.pi * freq * t)).astype(np.int16))


def silence(ms: int) -> bytes:
    """`ms` of µ-law digital silence."""
    return b"\xff" * (SAMPLE_RATE * ms // 1000)


def frames(audio: bytes) -> list[bytes]:
    """Split audio into 20 ms (160-byte) frames, as Twilio delivers it."""
    return [audio[i : i + FRAME_BYTES] for i in range(0, len(audio), FRAME_BYTES)]


def synth_audio(text: str, bytes_per_char: int) -> bytes:
    """The fake TTS voice: deterministic, non-silent µ-law bytes derived from the text."""
    return b"".join(bytes([0x40 | (ord(ch) & 0x3F)]) * bytes_per_char for ch in text)


def _refusal(status: int) -> dict[str, str]:
    """Deepgram's error body for a refused request."""
    if status == 401:
        return {"err_code": "INVALID_AUTH", "err_msg": "Invalid credentials.",
                "request_id": str(uuid.uuid4())}
    if status == 403:
        return {"err_code": "INSUFFICIENT_PERMISSIONS",
                "err_msg": "Project does not have access to the requested model.",
                "request_id": str(uuid.uuid4())}
    return {"err_code": "REQUEST_FAILED", "err_msg": f"HTTP {status}",
            "request_id": str(uuid.uuid4())}


@dataclass
class ListenConnection:
    """What one `/v1/listen` websocket received."""

    query: dict[str, Any]
    headers: dict[str, str]
    audio: bytearray = field(default_factory=bytearray)
    controls: list[str] = field(default_factory=list)  # "KeepAlive", "Finalize", ...
    sent: list[dict] = field(default_factory=list)  # JSON messages the fake answered with
    dropped: bool = False
    closed: bool = False


@dataclass
class SpeakConnection:
    """What one `/v1/speak` websocket received."""

    query: dict[str, Any]
    headers: dict[str, str]
    messages: list[dict] = field(default_factory=list)
    audio_bytes_sent: int = 0
    closed: bool = False


@dataclass
class RestSpeakRequest:
    query: dict[str, Any]
    headers: dict[str, str]
    body: dict[str, Any]


class _Recogniser:
    """The scripted per-connection recogniser described in the module docstring."""

    def __init__(self, fake: FakeDeepgram, query: dict[str, str]) -> None:
        self.fake = fake
        self.interim = query.get("interim_results") == "true"
        self.vad_events = query.get("vad_events") == "true"
        endpointing = query.get("endpointing", "10")
        self.endpointing = None if endpointing == "false" else self._bytes(int(endpointing))
        ue = query.get("utterance_end_ms")
        self.utterance_end = self._bytes(int(ue)) if ue else None
        self.pos = 0  # bytes received on this connection
        self.segment_start = 0  # where the next final result starts
        self.speech_start: int | None = None
        self.last_voice_end = 0
        self.last_interim = 0
        self.words_shown = 0
        self.pending_utterance_end: int | None = None

    @staticmethod
    def _bytes(ms: int) -> int:
        return SAMPLE_RATE * ms // 1000

    def _loud(self, frame: bytes) -> bool:
        level = float(np.abs(ulaw_to_pcm16(frame).astype(np.int32)).mean())
        return level > self.fake.speech_threshold

    def _utterance_text(self) -> str:
        # Peek only: a connection that drops before the final leaves the words to the next one.
        script = self.fake.utterances
        return script[0] if script else self.fake.default_text

    def audio(self, data: bytes) -> list[dict]:
        out: list[dict] = []
        for i in range(0, len(data), FRAME_BYTES):
            frame = data[i : i + FRAME_BYTES]
            end = self.pos + len(frame)
            if self._loud(frame):
                if self.speech_start is None:
                    self.speech_start = self.pos
                    self.words_shown = 0
                    self.last_interim = self.pos
                    self.pending_utterance_end = None
                    if self.vad_events:
                        out.append({"type": "SpeechStarted", "channel": [0],
                                    "timestamp": self.pos / SAMPLE_RATE})
                self.last_voice_end = end
                interim_due = end - self.last_interim >= self._bytes(self.fake.interim_every_ms)
                if self.interim and interim_due:
                    self.last_interim = end
                    words = self._utterance_text().split()
                    self.words_shown = min(len(words), self.words_shown + 1)
                    out.append(self._results(" ".join(words[: self.words_shown]),
                                             self.speech_start, end, is_final=False))
            else:
                if (self.speech_start is not None and self.endpointing is not None
                        and end - self.last_voice_end >= self.endpointing):
                    out.append(self._final(speech_final=True, end=self.last_voice_end))
                    self.segment_start = end
                elif (self.speech_start is None and end - self.segment_start
                        >= self._bytes(self.fake.silent_final_every_ms)):
                    out.append(self._results("", self.segment_start, end, is_final=True))
                    self.segment_start = end
                if (self.pending_utterance_end is not None and self.utterance_end is not None
                        and end - self.pending_utterance_end >= self.utterance_end):
                    out.append({"type": "UtteranceEnd", "channel": [0, 1],
                                "last_word_end": self.pending_utterance_end / SAMPLE_RATE})
                    self.pending_utterance_end = None
            self.pos = end
        return out

    def finalize(self, *, from_finalize: bool) -> dict:
        if self.speech_start is not None:
            message = self._final(speech_final=False, end=self.pos, from_finalize=from_finalize)
        else:
            message = self._results("", self.segment_start, self.pos, is_final=True,
                                    from_finalize=from_finalize)
        self.segment_start = self.pos
        return message

    def _final(self, *, speech_final: bool, end: int, from_finalize: bool = False) -> dict:
        assert self.speech_start is not None
        message = self._results(self._utterance_text(), self.speech_start, end, is_final=True,
                                speech_final=speech_final, from_finalize=from_finalize)
        if self.fake.utterances:
            self.fake.utterances.popleft()
        self.pending_utterance_end = end
        self.speech_start = None
        return message

    def _results(self, text: str, start: int, end: int, *, is_final: bool,
                 speech_final: bool = False, from_finalize: bool = False) -> dict:
        words = text.split()
        step = (end - start) / SAMPLE_RATE / max(len(words), 1)
        t0 = start / SAMPLE_RATE
        return {
            "type": "Results", "channel_index": [0, 1],
            "start": t0, "duration": (end - start) / SAMPLE_RATE,
            "is_final": is_final, "speech_final": speech_final, "from_finalize": from_finalize,
            "channel": {"alternatives": [{
                "transcript": text, "confidence": self.fake.confidence if text else 0.0,
                "words": [{"word": w.lower().strip(".,?!"), "punctuated_word": w,
                           "start": t0 + n * step, "end": t0 + (n + 1) * step,
                           "confidence": self.fake.confidence} for n, w in enumerate(words)],
            }]},
            "metadata": {"request_id": str(uuid.uuid4()), "model_uuid": "fake-model",
                         "model_info": {"name": "nova-3", "version": "fake", "arch": "fake"}},
        }


class FakeDeepgram(FakeServer):
    """Deepgram's live STT and Aura TTS endpoints, scripted per test."""

    def __init__(self) -> None:
        super().__init__()
        # -- listen script
        self.utterances: deque[str] = deque()
        self.default_text = "hello"
        self.confidence = 0.97
        self.speech_threshold = 500.0
        self.interim_every_ms = 200
        self.silent_final_every_ms = 2000
        self.listen_status: int | None = None  # refuse the handshake with this HTTP status
        self.listen_connect_delay_s = 0.0
        self.drop_listen_after_bytes: int | None = None  # one shot: abort TCP after N bytes
        # -- speak script
        self.speak_bytes_per_char = 400  # 50 ms of audio per character
        self.speak_chunk_bytes = 800
        self.speak_chunk_delay_s = 0.0
        self.speak_first_byte_delay_s = 0.0
        self.speak_ws_status: int | None = None
        self.drop_speak_on_text = False  # one shot: abort TCP when a Speak message arrives
        self.close_speak_when_idle = False  # one shot: close 1000 after a Flushed (idle timeout)
        self.speak_rest_status: int | None = None
        # Deepgram's limit: 20 Flush per 60 s per socket; past it a Warning and no audio.
        self.flush_limit = 20
        self.flush_window_s = 60.0
        self.flush_warnings = 0
        self.speak_garbage_once = False  # one shot: answer the next Flush with a non-JSON frame
        # -- records
        self.listen_connections: list[ListenConnection] = []
        self.speak_connections: list[SpeakConnection] = []
        self.rest_requests: list[RestSpeakRequest] = []

    def say(self, *texts: str) -> None:
        """Script the next utterances' transcripts."""
        self.utterances.extend(texts)

    def expected_audio(self, text: str) -> bytes:
        """The bytes the fake TTS produces for `text`."""
        return synth_audio(text, self.speak_bytes_per_char)

    def provider_options(self, api_key: str = "test-key") -> dict[str, Any]:
        """Keyword arguments pointing DeepgramSTT / DeepgramTTS at this fake."""
        return {"api_key": api_key, "base_url": self.base_url, "ws_url": self.ws_url}

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/listen", self._listen)
        app.router.add_get("/v1/speak", self._speak_ws)
        app.router.add_post("/v1/speak", self._speak_rest)
        return app

    # -- /v1/listen ----------------------------------------------------------------------------
    async def _listen(self, request: web.Request) -> web.StreamResponse:
        if self.listen_connect_delay_s:
            await asyncio.sleep(self.listen_connect_delay_s)
        if self.listen_status is not None:
            return web.json_response(_refusal(self.listen_status), status=self.listen_status)
        query = {k: (v if len(vs := request.query.getall(k)) == 1 else vs)
                 for k, v in request.query.items()}
        conn = ListenConnection(query=query, headers=dict(request.headers))
        self.listen_connections.append(conn)
        recogniser = _Recogniser(self, dict(request.query))
        ws = await self.open_websocket(request)

        async def send(message: dict) -> None:
            conn.sent.append(message)
            await ws.send_str(json.dumps(message))

        try:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY:
                    conn.audio.extend(msg.data)
                    for message in recogniser.audio(msg.data):
                        await send(message)
                    if (self.drop_listen_after_bytes is not None
                            and len(conn.audio) >= self.drop_listen_after_bytes):
                        self.drop_listen_after_bytes = None
                        conn.dropped = True
                        request.transport.abort()  # type: ignore[union-attr]
                        break
                elif msg.type == WSMsgType.TEXT:
                    kind = json.loads(msg.data).get("type", "")
                    conn.controls.append(kind)
                    if kind == "Finalize":
                        await send(recogniser.finalize(from_finalize=True))
                    elif kind == "CloseStream":
                        await send(recogniser.finalize(from_finalize=False))
                        await send({"type": "Metadata", "transaction_key": "deprecated",
                                    "request_id": str(uuid.uuid4()), "sha256": "0" * 64,
                                    "created": "2025-01-01T00:00:00Z",
                                    "duration": recogniser.pos / SAMPLE_RATE, "channels": 1})
                        await ws.close()
                        break
        finally:
            conn.closed = True
            self.forget_websocket(ws)
        return ws

    # -- /v1/speak (websocket) -----------------------------------------------------------------
    async def _speak_ws(self, request: web.Request) -> web.StreamResponse:
        if self.speak_ws_status is not None:
            return web.json_response({"err_code": "FAKE"}, status=self.speak_ws_status)
        conn = SpeakConnection(query=dict(request.query), headers=dict(request.headers))
        self.speak_connections.append(conn)
        ws = await self.open_websocket(request)
        jobs: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
        current: list[asyncio.Task] = []
        pending_text: list[str] = []
        sequence_id = 0
        flush_times: deque[float] = deque()

        async def speak(text: str, seq: int) -> None:
            audio = self.expected_audio(text)
            if self.speak_first_byte_delay_s:
                await asyncio.sleep(self.speak_first_byte_delay_s)
            for i in range(0, len(audio), self.speak_chunk_bytes):
                chunk = audio[i : i + self.speak_chunk_bytes]
                await ws.send_bytes(chunk)
                conn.audio_bytes_sent += len(chunk)
                if self.speak_chunk_delay_s:
                    await asyncio.sleep(self.speak_chunk_delay_s)
            await ws.send_str(json.dumps({"type": "Flushed", "sequence_id": seq}))
            if self.close_speak_when_idle:
                self.close_speak_when_idle = False
                await ws.close()

        async def worker() -> None:
            while True:
                text, seq = await jobs.get()
                task = asyncio.create_task(speak(text, seq))
                current[:] = [task]
                try:
                    await task
                except asyncio.CancelledError:
                    if not task.cancelled():
                        raise

        worker_task = asyncio.create_task(worker())
        try:
            await ws.send_str(json.dumps({"type": "Metadata", "request_id": str(uuid.uuid4()),
                                          "model_name": request.query.get("model", ""),
                                          "model_version": "fake", "model_uuid": "fake"}))
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                message = json.loads(msg.data)
                conn.messages.append(message)
                kind = message.get("type")
                if kind == "Speak":
                    if self.drop_speak_on_text:
                        self.drop_speak_on_text = False
                        request.transport.abort()  # type: ignore[union-attr]
                        break
                    pending_text.append(message.get("text", ""))
                elif kind == "Flush":
                    now = asyncio.get_running_loop().time()
                    while flush_times and now - flush_times[0] > self.flush_window_s:
                        flush_times.popleft()
                    flush_times.append(now)
                    if len(flush_times) > self.flush_limit:
                        self.flush_warnings += 1
                        pending_text.clear()
                        await ws.send_str(json.dumps({
                            "type": "Warning", "warn_code": "FLUSH_LIMIT_EXCEEDED",
                            "description": "Flush rate limit exceeded: at most "
                                           f"{self.flush_limit} per 60 seconds."}))
                        continue
                    if self.speak_garbage_once:
                        self.speak_garbage_once = False
                        await ws.send_str("<html>502 Bad Gateway</html>")
                        continue
                    jobs.put_nowait(("".join(pending_text), sequence_id))
                    pending_text.clear()
                    sequence_id += 1
                elif kind == "Clear":
                    pending_text.clear()
                    while not jobs.empty():
                        jobs.get_nowait()
                    for task in current:
                        task.cancel()
                    await ws.send_str(json.dumps({"type": "Cleared", "sequence_id": sequence_id}))
                elif kind == "Close":
                    await ws.close()
                    break
        finally:
            worker_task.cancel()
            for task in current:
                task.cancel()
            conn.closed = True
            self.forget_websocket(ws)
        return ws

    # -- POST /v1/speak ------------------------------------------------------------------------
    async def _speak_rest(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.rest_requests.append(RestSpeakRequest(query=dict(request.query),
                                                   headers=dict(request.headers), body=body))
        if self.speak_rest_status is not None:
            return web.json_response({"err_code": "FAKE"}, status=self.speak_rest_status)
        response = web.StreamResponse(headers={"Content-Type": "audio/basic"})
        await response.prepare(request)
        if self.speak_first_byte_delay_s:
            await asyncio.sleep(self.speak_first_byte_delay_s)
        audio = self.expected_audio(body.get("text", ""))
        for i in range(0, len(audio), self.speak_chunk_bytes):
            await response.write(audio[i : i + self.speak_chunk_bytes])
            if self.speak_chunk_delay_s:
                await asyncio.sleep(self.speak_chunk_delay_s)
        await response.write_eof()
        return response
