"""Deepgram Aura-2 text-to-speech: streaming websocket, REST as the fallback (PROTOCOLS §2.4).

One provider instance serves one call: its websocket opens with the first utterance, is reused
for the next ones (Speak + Flush each, audio until Flushed) and closes in `aclose()`. When the
consumer of `synthesize` stops early (barge-in cancels it or closes the generator) the provider
sends Clear, so Deepgram stops generating, and discards what was in flight before the next
utterance. When the websocket cannot be opened, or breaks before the first audio byte, the
utterance is synthesised over REST (`container=none`: raw µ-law without a WAV header).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from django.conf import settings

from calls.realtime.frames import SAMPLE_RATE
from calls.realtime.providers.failover import ProviderError, shared_tls_context
from calls.realtime.providers.stt.deepgram import as_provider_error, load_sdk, open_websocket
from calls.realtime.providers.tts.base import TTSOptions, TTSProvider

logger = logging.getLogger(__name__)

# Deepgram's speak socket accepts 20 Flush messages per 60 s, then answers `Warning` and makes no
# more audio until the window passes. We flush once per clause, so a lively conversation gets
# there in a minute or two: past FLUSH_BUDGET in the window, clauses go over REST instead.
FLUSH_WINDOW_S = 60.0
FLUSH_BUDGET = 18
# Longest wait for the next audio chunk or `Flushed` before the socket counts as stuck.
RECEIVE_TIMEOUT_S = 5.0


class DeepgramTTS(TTSProvider):
    """Aura-2 voices as 8 kHz µ-law. `options.voice` may name an `aura-…` model."""

    name = "deepgram"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        ws_url: str | None = None,
        model: str | None = None,
        use_websocket: bool = True,
        connect_timeout_s: float = 5.0,
        clear_timeout_s: float = 1.0,
        websocket_retry_after_s: float = 30.0,
        rest_timeout_s: float = 10.0,
    ) -> None:
        self.api_key = api_key if api_key is not None else settings.DEEPGRAM_API_KEY
        self.base_url = base_url or settings.DEEPGRAM_BASE_URL
        self.ws_url = ws_url or settings.DEEPGRAM_WS_URL
        self.model = model or settings.DEEPGRAM_TTS_MODEL
        self.use_websocket = use_websocket
        self.connect_timeout_s = connect_timeout_s
        self.clear_timeout_s = clear_timeout_s
        self.websocket_retry_after_s = websocket_retry_after_s
        self.rest_timeout_s = rest_timeout_s
        self._client: Any = None
        self._http: Any = None  # the REST connection pool, closed in aclose()
        self._lock = asyncio.Lock()  # one utterance at a time on the socket
        self._socket: Any = None
        self._socket_key: tuple[str, float] | None = None
        self._websocket: Any = None  # the raw connection under `_socket`
        self._awaiting_cleared = False
        self._websocket_failed_at: float | None = None
        self.rest_fallbacks = 0
        self._flushes: deque[float] = deque()  # when each recent Flush was sent

    def _model(self, options: TTSOptions) -> str:
        return options.voice if options.voice.startswith("aura") else self.model

    async def warm_up(self) -> None:
        """Import the SDK off the event loop (once per process)."""
        await load_sdk()

    async def _rest_client(self) -> Any:
        """The SDK client for REST, on an httpx pool using the shared TLS context."""
        if self._client is None:
            sdk = await load_sdk()
            import httpx
            from deepgram.environment import DeepgramClientEnvironment

            self._http = httpx.AsyncClient(verify=await shared_tls_context(), timeout=httpx.Timeout(
                self.rest_timeout_s, connect=self.connect_timeout_s))
            environment = DeepgramClientEnvironment(
                base=self.base_url.rstrip("/"), production=self.ws_url.rstrip("/"),
                agent=self.ws_url.rstrip("/"), agent_rest=self.base_url.rstrip("/"))
            self._client = sdk.AsyncDeepgramClient(api_key=self.api_key, environment=environment,
                                                   httpx_client=self._http)
        return self._client

    async def synthesize(self, text: str, options: TTSOptions) -> AsyncIterator[bytes]:
        """Yield µ-law audio for `text` as Deepgram streams it."""
        if not text.strip():
            return
        model = self._model(options)
        async with self._lock:
            if await self._synthesize_ws_ready() and self._flush_allowed():
                from deepgram.speak.v1.types import SpeakV1Text
                from websockets.exceptions import ConnectionClosed

                # A socket kept from an earlier utterance may have gone stale: reconnect once.
                for attempt in range(2):
                    conn, fresh = await self._open_socket(model, options.speed)
                    if conn is None:
                        break
                    yielded = finished = False
                    try:
                        await conn.send_text(SpeakV1Text(type="Speak", text=text))
                        await conn.send_flush()
                        self._flushes.append(time.monotonic())
                        async with contextlib.aclosing(self._utterance_audio(conn)) as audio:
                            async for chunk in audio:
                                yielded = True
                                yield chunk
                        finished = True
                        return
                    except ProviderError:
                        await self._drop_socket()
                        raise
                    except (ConnectionClosed, OSError) as exc:
                        await self._drop_socket()
                        if yielded:
                            raise as_provider_error(exc, self.name) from exc
                        # A kept socket closed while idle may still take our frames into
                        # its buffer before the close shows: nothing was spoken, so reopen.
                        if not fresh and attempt == 0:
                            continue
                        self._websocket_failed(exc)
                        break
                    finally:
                        # Cancelled or closed mid-utterance (barge-in): Deepgram must stop.
                        if not finished and conn is self._socket:
                            await self._clear(conn)
            async for chunk in self._synthesize_rest(text, model, options.speed):
                yield chunk

    async def _utterance_audio(self, conn: Any) -> AsyncIterator[bytes]:
        """The audio of the utterance just flushed, up to its Flushed; any other outcome (a
        Warning such as the flush limit, a frame that is not Deepgram's, silence) is an error:
        failover while nothing was heard, never a wait in silence."""
        yielded = False
        while True:
            try:
                async with asyncio.timeout(RECEIVE_TIMEOUT_S):
                    message = await conn.recv()
            except ValueError as exc:  # not JSON, or not a known message
                raise ProviderError(
                    f"{self.name}: malformed message from the speak socket: {str(exc)[:200]}",
                    provider=self.name, failover=not yielded) from exc
            except TimeoutError as exc:
                raise ProviderError(f"{self.name}: no audio for {RECEIVE_TIMEOUT_S:.0f} s",
                                    provider=self.name, failover=not yielded) from exc
            if isinstance(message, bytes):
                yielded = True
                yield message
            elif _kind(message) == "Flushed":
                return
            elif _kind(message) == "Warning":
                raise ProviderError(f"{self.name}: {_description(message)}",
                                    provider=self.name, failover=not yielded)

    def _flush_allowed(self) -> bool:
        """Whether the socket may take another Flush now (else this clause goes over REST)."""
        now = time.monotonic()
        while self._flushes and now - self._flushes[0] > FLUSH_WINDOW_S:
            self._flushes.popleft()
        return len(self._flushes) < FLUSH_BUDGET

    async def aclose(self) -> None:
        """Close the call's websocket (Close, then the close handshake) and REST pool."""
        conn = self._socket
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.send_close()
        await self._drop_socket()
        http, self._http, self._client = self._http, None, None
        if http is not None:
            await http.aclose()

    # -- websocket -----------------------------------------------------------------------------
    async def _synthesize_ws_ready(self) -> bool:
        """Whether to try the websocket (not disabled, not failed moments ago)."""
        if not self.use_websocket:
            return False
        failed_at = self._websocket_failed_at
        if failed_at is not None and (asyncio.get_running_loop().time() - failed_at
                                      < self.websocket_retry_after_s):
            return False
        await load_sdk()
        return True

    def _websocket_failed(self, error: BaseException) -> None:
        logger.warning("Deepgram TTS websocket unavailable (%r); using REST", error)
        self._websocket_failed_at = asyncio.get_running_loop().time()

    async def _open_socket(self, model: str, speed: float) -> tuple[Any, bool]:
        """(socket ready for a new utterance, whether it was just opened); (None, _) → REST."""
        if self._socket is not None and self._socket_key == (model, speed):
            try:
                if self._awaiting_cleared:
                    await self._discard_until_cleared(self._socket)
                return self._socket, False
            except Exception:
                pass  # stale or silent: open a new one
        await self._drop_socket()
        from deepgram.speak.v1.socket_client import AsyncV1SocketClient

        params: dict[str, Any] = {"model": model, "encoding": "mulaw", "sample_rate": SAMPLE_RATE}
        if speed != 1.0:
            params["speed"] = speed
        try:
            self._websocket = await open_websocket(ws_url=self.ws_url, path="/v1/speak",
                                                   params=params, api_key=self.api_key,
                                                   timeout_s=self.connect_timeout_s)
        except Exception as exc:
            self._websocket_failed(exc)
            return None, True
        self._socket = AsyncV1SocketClient(websocket=self._websocket)
        self._socket_key = (model, speed)
        return self._socket, True

    async def _drop_socket(self) -> None:
        websocket, self._websocket = self._websocket, None
        self._socket = None
        self._socket_key = None
        self._awaiting_cleared = False
        if websocket is not None:
            with contextlib.suppress(Exception):
                await websocket.close()

    async def _clear(self, conn: Any) -> None:
        """The listener left mid-utterance: make Deepgram stop and drop what it queued."""
        try:
            await conn.send_clear()
            self._awaiting_cleared = True
        except Exception:
            await self._drop_socket()

    async def _discard_until_cleared(self, conn: Any) -> None:
        """Skip the audio and Flushed of a cleared utterance, up to Deepgram's Cleared."""
        async with asyncio.timeout(self.clear_timeout_s):
            while True:
                message = await conn.recv()
                # The SDK parses Cleared as a SpeakV1Flushed whose type is "Cleared".
                if not isinstance(message, bytes) and _kind(message) == "Cleared":
                    break
        self._awaiting_cleared = False

    # -- REST ----------------------------------------------------------------------------------
    async def _synthesize_rest(self, text: str, model: str, speed: float) -> AsyncIterator[bytes]:
        self.rest_fallbacks += 1
        # No SDK retries: its backoff sleeps seconds, while a failover chain has a budget.
        params: dict[str, Any] = {"text": text, "model": model, "encoding": "mulaw",
                                  "sample_rate": SAMPLE_RATE, "container": "none",
                                  "request_options": {"max_retries": 0}}
        if speed != 1.0:
            params["speed"] = speed
        yielded = False
        try:
            client = await self._rest_client()
            async for chunk in client.speak.v1.audio.generate(**params):
                if chunk:
                    yielded = True
                    yield chunk
        except Exception as exc:
            error = as_provider_error(exc, self.name)
            if yielded:
                error.failover = False  # half an utterance was spoken: no second voice
            raise error from exc


def _description(message: Any) -> str:
    if isinstance(message, dict):
        return str(message.get("description") or message)[:300]
    return str(getattr(message, "description", None) or message)[:300]


def _kind(message: Any) -> str | None:
    if isinstance(message, dict):
        return message.get("type")
    return getattr(message, "type", None)

