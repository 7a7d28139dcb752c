"""Deepgram nova-3 live speech-to-text over a websocket (PROTOCOLS.md §2.1–2.3).

One `DeepgramSTTStream` per call runs three long-lived tasks, all created in `open_stream`:

- the *sender* drains the frames `feed()` queued (a bounded deque) and sends them, at least
  `min_send_ms` of audio per message, plus Finalize / KeepAlive / CloseStream;
- the *supervisor* owns the websocket: connects, turns messages into `Transcript`s, and on a
  dropped socket reconnects and first re-sends the audio not yet covered by a final result
  (the replay buffer), so the caller's words in flight are not lost;
- the *keep-alive ticker* asks the sender for a KeepAlive when no audio went out for a while
  (or to flush a last frame short of `min_send_ms`).

Timestamps (`start_ms`, `end_ms`) are milliseconds of call audio, also across reconnects.

The SDK's socket clients (`deepgram.{listen,speak}.v1.socket_client`) send the control messages
and parse the typed results; `open_websocket` opens the connection they wrap, instead of the
SDK's `connect()`, for two reasons: `connect()` goes through `websockets.legacy` (deprecated)
with `ssl=True`, and asyncio then builds a fresh `ssl.create_default_context()` per connection —
60-70 ms on the event loop (measured here), twice per call (STT + TTS). `open_websocket` reuses
one TLS context per process, built off the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import warnings
from collections import deque
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

from django.conf import settings

from calls.realtime.providers.failover import ProviderError, shared_tls_context
from calls.realtime.providers.stt.base import (
    STTOptions,
    STTProvider,
    STTStream,
    Transcript,
    drain_results,
)

logger = logging.getLogger(__name__)

# 10 s of 20 ms frames: what `feed` may queue while the socket is down before dropping the oldest.
MAX_QUEUED_FRAMES = 500
# Upper bound of the replay buffer (30 s of µ-law); Deepgram emits finals far more often.
MAX_REPLAY_BYTES = 30 * 8000
# Replayed audio goes out in 1 s messages.
REPLAY_CHUNK_BYTES = 8000
# Keyterm prompting has a token budget per request: short phrases only, and not too many.
MAX_KEYTERMS = 50
MAX_KEYTERM_CHARS = 60


def import_sdk() -> Any:
    """Import deepgram, hiding the DeprecationWarnings of its websockets.legacy import.

    Takes ~0.8 s: call it at process start, or let `load_sdk` do it off the loop.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import deepgram
        import deepgram.listen.v1.socket_client  # noqa: F401
        import deepgram.speak.v1.client  # noqa: F401
        import deepgram.speak.v1.socket_client  # noqa: F401
    return deepgram


async def load_sdk() -> Any:
    """`import_sdk` in a worker thread the first time, so a call never freezes the loop."""
    if "deepgram.speak.v1.socket_client" not in sys.modules:
        await asyncio.to_thread(import_sdk)
    await shared_tls_context()
    return import_sdk()


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return [_query_value(v) for v in value] if isinstance(value, list) else str(value)


async def open_websocket(*, ws_url: str, path: str, params: dict[str, Any], api_key: str,
                         timeout_s: float) -> Any:
    """Open `{ws_url}{path}?{params}` with `Authorization: Token …` (after `load_sdk`)."""
    from websockets.asyncio.client import connect

    query = urlencode({k: _query_value(v) for k, v in params.items()}, doseq=True)
    url = f"{ws_url.rstrip('/')}{path}?{query}"
    return await connect(
        url, additional_headers={"Authorization": f"Token {api_key}"},
        ssl=await shared_tls_context() if url.startswith("wss:") else None,
        open_timeout=timeout_s, close_timeout=1.0, max_size=None,
    )


def _explanation(exc: BaseException) -> str:
    """Deepgram's own words for a refusal (`err_code: err_msg` of its JSON body), which the SDK
    keeps on the exception and websockets on the handshake response."""
    body = getattr(exc, "body", None)
    if body is None:
        body = getattr(getattr(exc, "response", None), "body", None)
    if isinstance(body, bytes | bytearray):
        body = bytes(body).decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return body.strip()[:300]
    if isinstance(body, dict):
        parts = [str(body[key]) for key in ("err_code", "err_msg") if body.get(key)]
        return ": ".join(parts)[:300] if parts else json.dumps(body)[:300]
    return ""


def as_provider_error(exc: BaseException, provider: str) -> ProviderError:
    """Classify a connection failure: 5xx, 429, refused credentials (401/403: a fallback has its
    own), network and timeouts may fail over; other 4xx (a request any vendor would refuse)
    not."""
    if isinstance(exc, ProviderError):
        return exc
    status = getattr(exc, "status_code", None)
    if status is None:  # websockets' InvalidStatus carries the handshake response
        status = getattr(getattr(exc, "response", None), "status_code", None)
    failover = status is None or status >= 500 or status in (401, 403, 429)
    detail = f"HTTP {status} {_explanation(exc)}".rstrip() if status is not None else repr(exc)
    return ProviderError(f"{provider}: {detail}", provider=provider, status=status,
                         failover=failover)


class DeepgramSTT(STTProvider):
    """Deepgram live transcription. Credentials and endpoints default to the settings."""

    name = "deepgram"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,  # accepted like the TTS's; live STT is websocket only
        ws_url: str | None = None,
        model: str | None = None,
        keepalive_interval_s: float = 4.0,
        connect_timeout_s: float = 5.0,
        max_reconnects: int = 5,
        reconnect_backoff_s: float = 0.05,
        close_timeout_s: float = 2.0,
        min_send_ms: int = 40,
    ) -> None:
        self.api_key = api_key if api_key is not None else settings.DEEPGRAM_API_KEY
        self.base_url = base_url or settings.DEEPGRAM_BASE_URL
        self.ws_url = ws_url or settings.DEEPGRAM_WS_URL
        self.model = model or settings.DEEPGRAM_STT_MODEL
        self.keepalive_interval_s = keepalive_interval_s
        self.connect_timeout_s = connect_timeout_s
        self.max_reconnects = max_reconnects
        self.reconnect_backoff_s = reconnect_backoff_s
        self.close_timeout_s = close_timeout_s
        self.min_send_ms = min_send_ms

    async def warm_up(self) -> None:
        """Import the SDK off the event loop (once per process)."""
        await load_sdk()

    def connect_params(self, options: STTOptions) -> dict[str, Any]:
        """Query parameters of `/v1/listen`. Flags are the strings "true" (PROTOCOLS §2.2)."""
        params: dict[str, Any] = {
            "model": self.model, "encoding": "mulaw", "sample_rate": options.sample_rate,
            "channels": 1, "language": options.language, "interim_results": "true",
            "endpointing": options.endpointing_ms, "utterance_end_ms": options.utterance_end_ms,
            "vad_events": "true", "smart_format": "true",
        }
        keyterms = [t for t in options.vocabulary if len(t) <= MAX_KEYTERM_CHARS]
        if keyterms and self.model.startswith("nova-3"):  # keyterm prompting is nova-3 only
            params["keyterm"] = keyterms[:MAX_KEYTERMS]
        return params

    async def open_stream(self, options: STTOptions) -> DeepgramSTTStream:
        """Connect (raising `ProviderError` if that fails) and start the stream's tasks."""
        await load_sdk()
        stream = DeepgramSTTStream(self, self.connect_params(options),
                                   sample_rate=options.sample_rate)
        await stream.start()
        return stream

    async def connect(self, params: dict[str, Any]) -> Any:
        """A new `/v1/listen` websocket."""
        return await open_websocket(ws_url=self.ws_url, path="/v1/listen", params=params,
                                    api_key=self.api_key, timeout_s=self.connect_timeout_s)


class DeepgramSTTStream(STTStream):
    """One call's Deepgram socket. `feed` must be called from the event loop's thread."""

    hears_words_while_speaking = True  # interim_results=true

    def __init__(self, provider: DeepgramSTT, params: dict[str, Any], *,
                 sample_rate: int) -> None:
        self._provider = provider
        self._params = params
        self._bytes_per_ms = sample_rate / 1000  # µ-law: one byte per sample
        self._outbox: deque[bytes] = deque(maxlen=MAX_QUEUED_FRAMES)
        # Frames per message: each send costs ~40 µs of loop CPU, so 40 ms messages halve it.
        self._min_frames = max(1, provider.min_send_ms // 20)
        self._wake = asyncio.Event()  # something to send
        self._connected = asyncio.Event()
        self._conn: Any = None
        self._results: asyncio.Queue[Any] = asyncio.Queue()
        # Audio sent but not yet covered by a final result: absolute offsets in call audio.
        self._replay = bytearray()
        self._replay_start = 0
        self._conn_origin = 0  # call-audio offset of second 0 on the current connection
        self._last_send = 0.0
        self._finalize_requested = False
        self._finalize_inflight = False
        self._keepalive_due = False
        self._received_since_connect = False
        self._closing = False
        self._closed = False
        self._tasks: list[asyncio.Task] = []
        self._supervisor: asyncio.Task | None = None
        # Counters for the call's metrics.
        self.frames_dropped = 0
        self.reconnects = 0
        self.keepalives_sent = 0

    # -- public interface ----------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._last_send = loop.time()
        first_connect: asyncio.Future[None] = loop.create_future()
        self._supervisor = asyncio.create_task(self._supervise(first_connect))
        try:
            await first_connect
        except BaseException:
            self._supervisor.cancel()
            raise
        self._tasks = [asyncio.create_task(self._send_loop()),
                       asyncio.create_task(self._keepalive_loop())]

    def feed(self, ulaw: bytes) -> None:
        if self._closing:
            return
        if len(self._outbox) == MAX_QUEUED_FRAMES:
            self.frames_dropped += 1
        self._outbox.append(ulaw)
        if len(self._outbox) >= self._min_frames:  # the sender waits for a full message
            self._wake.set()

    def finalize(self) -> None:
        self._finalize_requested = True
        self._wake.set()

    def transcripts(self) -> AsyncIterator[Transcript]:
        return drain_results(self._results)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._closing = True
        self._wake.set()
        supervisor = self._supervisor
        if supervisor is not None and self._connected.is_set():
            # After CloseStream Deepgram sends the last finals and closes: wait for that.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self._provider.close_timeout_s):
                    await asyncio.shield(supervisor)
        for task in [*self._tasks, supervisor]:
            if task is not None:
                task.cancel()
        await asyncio.gather(*[t for t in [*self._tasks, supervisor] if t is not None],
                             return_exceptions=True)
        self._results.put_nowait(None)  # the end

    # -- tasks ---------------------------------------------------------------------------------
    async def _send_loop(self) -> None:
        from websockets.exceptions import ConnectionClosed

        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._connected.wait()
            conn = self._conn
            try:
                flush = self._finalize_requested or self._keepalive_due or self._closing
                sent_audio = bool(self._outbox) and (len(self._outbox) >= self._min_frames
                                                     or flush)
                if sent_audio:
                    audio = self._take_outbox()
                    await conn.send_media(audio)
                    self._last_send = loop.time()
                if self._finalize_requested:
                    self._finalize_requested = False
                    self._finalize_inflight = True
                    await conn.send_finalize()
                if self._keepalive_due:
                    self._keepalive_due = False
                    if not sent_audio:
                        await conn.send_keep_alive()
                        self.keepalives_sent += 1
                        self._last_send = loop.time()
                if self._closing:
                    await conn.send_close_stream()
                    return
            except (ConnectionClosed, OSError):
                # The supervisor reconnects; what we took is in the replay buffer.
                if self._conn is conn:
                    self._connected.clear()
                self._wake.set()

    def _take_outbox(self) -> bytes:
        outbox = self._outbox
        audio = outbox.popleft() if len(outbox) == 1 else b"".join(outbox)
        outbox.clear()
        self._replay += audio
        overflow = len(self._replay) - MAX_REPLAY_BYTES
        if overflow > 0:
            del self._replay[:overflow]
            self._replay_start += overflow
        return audio

    async def _keepalive_loop(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self._provider.keepalive_interval_s
        while True:
            await asyncio.sleep(interval / 2)
            if loop.time() - self._last_send >= interval:  # also flushes a lone frame
                self._keepalive_due = True
                self._wake.set()

    async def _supervise(self, first_connect: asyncio.Future[None]) -> None:
        provider = self._provider
        failures = 0
        from deepgram.listen.v1.socket_client import AsyncV1SocketClient

        while not self._closing:
            websocket = None
            error: BaseException | None = None
            try:
                websocket = await provider.connect(self._params)
                conn = AsyncV1SocketClient(websocket=websocket)
                await self._on_connected(conn)
                if not first_connect.done():
                    first_connect.set_result(None)
                await self._receive(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not first_connect.done():
                    first_connect.set_exception(as_provider_error(exc, provider.name))
                    return
                error = exc
            finally:
                self._connected.clear()
                if websocket is not None:
                    with contextlib.suppress(Exception):
                        await websocket.close()
            if self._closing:
                break
            # A socket that delivered results was healthy: only back-to-back failures count.
            failures = 1 if self._received_since_connect else failures + 1
            if failures > provider.max_reconnects:
                self._results.put_nowait(as_provider_error(
                    error or ConnectionError("closed by Deepgram"), provider.name))
                return
            self.reconnects += 1
            await asyncio.sleep(provider.reconnect_backoff_s * (2 ** min(failures - 1, 5)))

    async def _on_connected(self, conn: Any) -> None:
        """Re-send the unconfirmed audio on a fresh socket, then let the sender go on."""
        self._conn_origin = self._replay_start
        replay = bytes(self._replay)
        for i in range(0, len(replay), REPLAY_CHUNK_BYTES):
            await conn.send_media(replay[i : i + REPLAY_CHUNK_BYTES])
        if self._finalize_inflight:
            await conn.send_finalize()
        self._conn = conn
        self._received_since_connect = False
        self._last_send = asyncio.get_running_loop().time()
        self._connected.set()
        self._wake.set()

    async def _receive(self, conn: Any) -> None:
        async for message in conn:
            self._received_since_connect = True
            kind = getattr(message, "type", None)
            if kind == "Results":
                transcript = self._transcript(message)
                if transcript is not None:
                    self._results.put_nowait(transcript)
            elif kind == "UtteranceEnd":
                end_ms = self._ms(message.last_word_end)
                self._results.put_nowait(Transcript(text="", is_final=True, utterance_end=True,
                                                    start_ms=end_ms, end_ms=end_ms))
            elif kind == "Error":
                raise ProviderError(f"deepgram: {message.description}", provider="deepgram")

    def _ms(self, seconds: float) -> int:
        return int(self._conn_origin / self._bytes_per_ms + seconds * 1000)

    def _transcript(self, message: Any) -> Transcript | None:
        alternatives = message.channel.alternatives
        text = alternatives[0].transcript if alternatives else ""
        is_final = bool(message.is_final)
        from_finalize = bool(message.from_finalize)
        if is_final:
            self._confirm(message.start + message.duration)
            if from_finalize:
                self._finalize_inflight = False
        speech_final = bool(message.speech_final)
        # Empty results are noise, except the answers to an end of turn or to Finalize.
        if not text and not (speech_final or from_finalize):
            return None
        return Transcript(
            text=text, is_final=is_final, speech_final=speech_final,
            confidence=alternatives[0].confidence if alternatives else None,
            start_ms=self._ms(message.start), end_ms=self._ms(message.start + message.duration),
            extra={"from_finalize": True} if from_finalize else {},
        )

    def _confirm(self, end_s: float) -> None:
        """A final result covers audio up to `end_s`: it no longer needs replaying."""
        confirmed = self._conn_origin + int(end_s * 1000 * self._bytes_per_ms)
        drop = min(confirmed - self._replay_start, len(self._replay))
        if drop > 0:
            del self._replay[:drop]
            self._replay_start += drop
