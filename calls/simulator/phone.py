"""Plays Twilio against a running AYBIZA server over real HTTP and WebSocket.

`TwilioPhone.dial()` posts the signed voice webhook like Twilio, reads the TwiML, and opens the
media stream with a signed handshake. `MediaStreamPeer` then behaves like Twilio's media
server: it sends the caller's 20 ms µ-law frames in real time, plays the agent's audio on a
real-time playback clock, echoes each mark once the audio before it has played, and on `clear`
drops the unplayed audio and echoes every pending mark.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from calls.realtime.audio import frames, loud_frames
from calls.realtime.frames import FRAME_BYTES, FRAME_S
from calls.realtime.serializers.twilio import (
    parse_server_message,
    twilio_connected,
    twilio_dtmf,
    twilio_mark,
    twilio_media,
    twilio_start,
    twilio_stop,
)

SILENCE_FRAME = b"\xff" * FRAME_BYTES


class DialError(RuntimeError):
    """The server did not answer the call with a media stream."""


@dataclass
class StreamInfo:
    call_sid: str
    account_sid: str
    url: str
    parameters: dict[str, str]
    twiml: str


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


class TwilioPhone:
    """Twilio's HTTP side: signs requests with the account's auth token."""

    def __init__(self, base_url: str, auth_token: str, *, account_sid: str | None = None,
                 public_base_url: str | None = None, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        # Signatures are computed over the URL Twilio was configured with (PUBLIC_BASE_URL).
        self.public_base_url = (public_base_url or base_url).rstrip("/")
        self.validator = RequestValidator(auth_token)
        self.account_sid = account_sid or new_sid("AC")
        self.timeout_s = timeout_s

    async def post_webhook(self, path: str, params: dict[str, str]) -> httpx.Response:
        signature = self.validator.compute_signature(self.public_base_url + path, params)
        async with httpx.AsyncClient(timeout=self.timeout_s) as client:
            return await client.post(self.base_url + path, data=params,
                                     headers={"X-Twilio-Signature": signature})

    async def dial(self, *, to: str, from_: str, call_sid: str | None = None) -> StreamInfo:
        call_sid = call_sid or new_sid("CA")
        params = {"CallSid": call_sid, "AccountSid": self.account_sid, "From": from_, "To": to,
                  "CallStatus": "ringing", "ApiVersion": "2010-04-01", "Direction": "inbound"}
        response = await self.post_webhook("/twilio/voice/", params)
        if response.status_code != 200:
            raise DialError(f"voice webhook answered {response.status_code}: {response.text[:200]}")
        root = ET.fromstring(response.text)
        stream = root.find("./Connect/Stream")
        if stream is None:
            raise DialError(f"no <Connect><Stream> in the answer: {response.text[:300]}")
        parameters = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
        return StreamInfo(call_sid=call_sid, account_sid=self.account_sid,
                          url=stream.get("url", ""), parameters=parameters, twiml=response.text)

    def handshake_headers(self, stream_url: str) -> dict[str, str]:
        return {"X-Twilio-Signature": self.validator.compute_signature(stream_url, {})}

    async def open_stream(self, info: StreamInfo) -> ClientConnection:
        """Connect to the stream URL (rewritten onto base_url's host: we may be behind no proxy)."""
        issued = urlsplit(info.url)
        actual = urlsplit(self.base_url)
        ws_scheme = "wss" if actual.scheme == "https" else "ws"
        url = f"{ws_scheme}://{actual.netloc}{issued.path}"
        return await connect(url, additional_headers=self.handshake_headers(info.url),
                             max_size=2**20, open_timeout=self.timeout_s, ping_interval=None)


@dataclass
class AgentUtterance:
    started_at: float
    audio: bytearray = field(default_factory=bytearray)
    ended_at: float | None = None


class MediaStreamPeer:
    """Twilio's media-server side of one call."""

    def __init__(self, ws: ClientConnection, info: StreamInfo, *, stream_sid: str | None = None,
                 agent_gap_s: float = 0.5,
                 on_agent_utterance: Callable[[AgentUtterance], None] | None = None) -> None:
        self.ws = ws
        self.info = info
        self.stream_sid = stream_sid or new_sid("MZ")
        self.agent_gap_s = agent_gap_s
        self.on_agent_utterance = on_agent_utterance
        self._seq = 0
        self._chunk = 0
        self._caller_audio: deque[tuple[bytes, bool]] = deque()  # (frame, is voice)
        self._caller_voice_end = 0.0
        self._playout: deque[bytes | str] = deque()
        self.caller_track = bytearray()
        self.agent_track = bytearray()
        self.utterances: list[AgentUtterance] = []
        self._current: AgentUtterance | None = None
        self._last_agent_frame_t = 0.0
        self.marks_echoed: list[str] = []
        self.clears = 0
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self.frames_received = 0
        self.first_agent_frame_after: float | None = None
        self._tasks: list[asyncio.Task] = []
        self.t0 = 0.0

    # --- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        await self._send(twilio_connected())
        self._seq = 1
        await self._send(twilio_start(stream_sid=self.stream_sid, call_sid=self.info.call_sid,
                                      account_sid=self.info.account_sid,
                                      custom_parameters=self.info.parameters, sequence=1))
        self.t0 = time.monotonic()
        self._tasks = [asyncio.create_task(self._clock()), asyncio.create_task(self._receive())]

    async def hang_up(self) -> None:
        """The caller hangs up: Twilio sends `stop` and closes the socket."""
        if not self.closed.is_set():
            with contextlib.suppress(ConnectionClosed):
                await self._send(twilio_stop(stream_sid=self.stream_sid,
                                             call_sid=self.info.call_sid,
                                             account_sid=self.info.account_sid,
                                             sequence=self._next_seq()))
                await self.ws.close()
        await self.stop()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        self._finish_utterance(time.monotonic())
        self.closed.set()

    # --- caller side ------------------------------------------------------------------------
    def say(self, ulaw: bytes) -> None:
        """Queue caller audio; it goes out in real time, 20 ms per frame."""
        # Each frame says whether it holds voice: latencies count from the caller's last one.
        queued = frames(bytes(ulaw))
        for frame, voice in zip(queued, loud_frames(b"".join(queued)), strict=True):
            self._caller_audio.append((frame, bool(voice)))

    @property
    def caller_speaking(self) -> bool:
        return bool(self._caller_audio)

    async def press(self, digits: str) -> None:
        for digit in digits:
            await self._send(twilio_dtmf(stream_sid=self.stream_sid, digit=digit,
                                         sequence=self._next_seq()))

    async def send_raw(self, text: str) -> None:
        await self._send(text)

    async def wait_caller_done(self) -> float:
        """Wait until the queued caller audio has been sent; returns when its last frame left."""
        while self._caller_audio and not self.closed.is_set():
            await asyncio.sleep(FRAME_S)
        return time.monotonic()

    @property
    def caller_voice_end(self) -> float:
        """When the caller's last voiced frame ended (0.0: no voice yet): the moment "the
        caller stopped" for latencies, before the clip's own trailing silence."""
        return self._caller_voice_end

    # --- agent side ---------------------------------------------------------------------------
    @property
    def agent_speaking(self) -> bool:
        return bool(self._playout) or (
            self._current is not None
            and time.monotonic() - self._last_agent_frame_t < self.agent_gap_s)

    @property
    def last_agent_frame_at(self) -> float:
        """When the caller last heard a frame of agent audio (0.0: never)."""
        return self._last_agent_frame_t

    async def wait_agent_turn(self, *, started_after: float, timeout_s: float = 30.0,
                              idle_s: float = 0.8) -> AgentUtterance | None:
        """Wait for the agent to speak after `started_after` and then fall silent."""
        deadline = time.monotonic() + timeout_s
        heard: AgentUtterance | None = None
        while time.monotonic() < deadline and not self.closed.is_set():
            recent = [u for u in self.utterances if u.started_at >= started_after]
            if self._current is not None and self._current.started_at >= started_after:
                heard = self._current
            elif recent:
                heard = recent[-1]
            if (heard is not None and not self._playout
                    and time.monotonic() - self._last_agent_frame_t >= idle_s):
                return heard
            await asyncio.sleep(FRAME_S)
        return heard

    async def wait_agent_speaking(self, timeout_s: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not self.closed.is_set():
            if self._current is not None and self._playout:
                return True
            await asyncio.sleep(FRAME_S / 2)
        return False

    # --- internals ----------------------------------------------------------------------------
    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    async def _send(self, text: str) -> None:
        await self.ws.send(text)

    async def _clock(self) -> None:
        """Every 20 ms: send one caller frame, play one agent frame, echo marks reached."""
        next_tick = time.monotonic()
        while True:
            now = time.monotonic()
            frame, voice = self._caller_audio.popleft() if self._caller_audio \
                else (SILENCE_FRAME, False)
            if voice:
                self._caller_voice_end = now + FRAME_S
            self.caller_track += frame
            self._chunk += 1
            try:
                await self._send(twilio_media(stream_sid=self.stream_sid, ulaw=frame,
                                              chunk=self._chunk, timestamp_ms=self._chunk * 20,
                                              sequence=self._next_seq()))
                await self._play_one(now)
            except ConnectionClosed:
                return
            next_tick += FRAME_S
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))

    async def _play_one(self, now: float) -> None:
        await self._echo_marks_at_head()
        if self._playout:
            frame = self._playout.popleft()
            assert isinstance(frame, bytes)
            self._agent_frame(frame, now)
            await self._echo_marks_at_head()
        else:
            self.agent_track += SILENCE_FRAME
            if self._current is not None and now - self._last_agent_frame_t >= self.agent_gap_s:
                self._finish_utterance(now)
        # Keep both tracks aligned on the caller's clock.
        if len(self.agent_track) < len(self.caller_track):
            self.agent_track += SILENCE_FRAME

    def _agent_frame(self, frame: bytes, now: float) -> None:
        self.agent_track += frame
        if self._current is None:
            self._current = AgentUtterance(started_at=now)
        self._current.audio += frame
        self._last_agent_frame_t = now

    def _finish_utterance(self, now: float) -> None:
        if self._current is not None:
            self._current.ended_at = self._last_agent_frame_t
            self.utterances.append(self._current)
            if self.on_agent_utterance is not None:
                self.on_agent_utterance(self._current)
            self._current = None

    async def _echo_marks_at_head(self) -> None:
        while self._playout and isinstance(self._playout[0], str):
            name = self._playout.popleft()
            assert isinstance(name, str)
            await self._echo_mark(name)

    async def _echo_mark(self, name: str) -> None:
        self.marks_echoed.append(name)
        await self._send(twilio_mark(stream_sid=self.stream_sid, name=name,
                                     sequence=self._next_seq()))

    async def _receive(self) -> None:
        try:
            async for raw in self.ws:
                if not isinstance(raw, str):
                    continue
                message = parse_server_message(raw)
                if message.event == "media":
                    self.frames_received += 1
                    self._playout.append(message.payload)
                elif message.event == "mark":
                    self._playout.append(message.name)
                elif message.event == "clear":
                    self.clears += 1
                    pending = [item for item in self._playout if isinstance(item, str)]
                    self._playout.clear()
                    # The agent was stopped: whatever it says next is a new utterance, however
                    # soon it comes.
                    self._finish_utterance(time.monotonic())
                    for name in pending:  # Twilio echoes every pending mark on clear
                        await self._echo_mark(name)
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self.closed.set()
