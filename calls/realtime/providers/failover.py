"""Provider chains: when one vendor fails, the next one serves the same turn.

`FailoverSTT`, `FailoverLLM` and `FailoverTTS` implement the ordinary provider bases over an
ordered list of providers. A provider is skipped when it raises a *failover error* — a
`ProviderError` with `failover=True` (vendor modules raise these for connect errors, 5xx and
exhausted throttling), an `OSError` or a timeout — or when it misses its time-to-first-byte
budget:

- STT: opening the stream (the connection) must finish within `STT_TTFB_BUDGET_MS`; a stream
  that dies later mid-call is replaced by the next provider's, audio fed meanwhile is kept;
- LLM: the first event of `respond` within `LLM_TTFB_BUDGET_MS`; once anything was yielded the
  turn stays with that provider (the caller may have heard it);
- TTS: the first audio chunk within `TTS_TTFB_BUDGET_MS`; same rule once audio flowed.

After a failover the chain keeps using the provider that worked and tries the first one again
after `retry_primary_after_s`, so a dead vendor costs its budget once, not every turn.
`on_failover(kind, from_name, to_name, error)` (sync or async, keep it quick) lets the session
record a CallEvent and speak a short filler.

The vendor modules share two things from here: `ProviderError` and `shared_tls_context()`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from django.conf import settings

from calls.realtime.providers.llm.base import BrainEvent, Conversation, LLMProvider
from calls.realtime.providers.registry import build_provider
from calls.realtime.providers.stt.base import STTOptions, STTProvider, STTStream, Transcript
from calls.realtime.providers.tts.base import TTSOptions, TTSProvider

logger = logging.getLogger(__name__)

OnFailover = Callable[[str, str, str, BaseException], Awaitable[None] | None]
# Frames kept while an STT stream is being replaced (10 s of 20 ms frames).
MAX_SWITCH_FRAMES = 500


class ProviderError(RuntimeError):
    """A provider could not serve a request.

    `failover` says whether another provider (or region) may serve it instead: True for connect
    errors, timeouts, 5xx, exhausted throttling and refused credentials (another vendor has its
    own); False for errors another vendor would repeat (a bad request) or after part of the
    answer was already delivered. `auth` marks refused credentials (401/403, AWS AccessDenied):
    the most common production outage, and one only a person can fix, so calls raise an alert.
    """

    def __init__(self, message: str, *, provider: str = "", status: int | None = None,
                 failover: bool = True, auth: bool | None = None) -> None:
        super().__init__(message)
        self.provider = provider
        self.status = status
        self.failover = failover
        self.auth = status in AUTH_STATUSES if auth is None else auth


# HTTP statuses of refused credentials: a bad, revoked or expired key.
AUTH_STATUSES = frozenset({401, 403})


def auth_error_of(exc: BaseException | None) -> ProviderError | None:
    """The refused-credentials error behind `exc` (itself, or a cause of it), if any."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, ProviderError) and exc.auth:
            return exc
        exc = exc.__cause__
        seen += 1
    return None


_tls_context: ssl.SSLContext | None = None


async def shared_tls_context() -> ssl.SSLContext:
    """One TLS client context for every vendor connection of the process.

    Building one costs 30-100 ms of CPU (loading the CA store); asyncio and httpx would build
    it per connection or client — per call, on the event loop. Built once, in a thread.
    """
    global _tls_context
    if _tls_context is None:
        _tls_context = await asyncio.to_thread(ssl.create_default_context)
    return _tls_context


def is_failover_error(exc: BaseException) -> bool:
    """Whether `exc` should move the turn to the next provider."""
    if isinstance(exc, ProviderError):
        return exc.failover
    return isinstance(exc, OSError | TimeoutError)


def ttfb_budget_s(kind: str) -> float:
    """The configured time-to-first-byte budget of `kind` ("stt", "llm", "tts"), in seconds."""
    name = f"{kind.upper()}_TTFB_BUDGET_MS"
    value = getattr(settings, name, None)
    if value is None:  # aybiza/settings/providers.py not imported by base.py yet
        from aybiza.settings import providers as defaults

        value = getattr(defaults, name)
    return value / 1000


async def warm_up(provider: Any) -> None:
    """Load the provider's SDK and clients if it can (`warm_up()`); a no-op once done.

    Chains call it before starting a budget's clock: a cold SDK import (openai ~2 s, deepgram
    ~0.8 s) is ours, not the vendor's latency. Call it at process start to spare the first call.
    """
    method = getattr(provider, "warm_up", None)
    if method is not None:
        await method()


class _Chain:
    """The ordered providers of one kind, which one to try first, and the failover callback."""

    def __init__(self, kind: str, providers: Sequence[Any], *, ttfb_budget_ms: int | None,
                 on_failover: OnFailover | None, retry_primary_after_s: float) -> None:
        if not providers:
            raise ValueError(f"A {kind} chain needs at least one provider.")
        self.kind = kind
        self.providers = list(providers)
        self.budget_s = ttfb_budget_ms / 1000 if ttfb_budget_ms is not None else ttfb_budget_s(kind)
        self.on_failover = on_failover
        self.retry_primary_after_s = retry_primary_after_s
        self._preferred = 0
        self._preferred_since = 0.0

    def order(self) -> list[int]:
        elapsed = time.monotonic() - self._preferred_since
        if self._preferred and elapsed > self.retry_primary_after_s:
            self._preferred = 0
        count = len(self.providers)
        return [(self._preferred + i) % count for i in range(count)]

    @property
    def active_name(self) -> str:
        return self.providers[self._preferred].name

    def served(self, index: int) -> None:
        if index != self._preferred:
            self._preferred = index
            self._preferred_since = time.monotonic()

    async def failed(self, index: int, next_index: int | None, error: BaseException) -> None:
        from_name = self.providers[index].name
        to_name = self.providers[next_index].name if next_index is not None else ""
        logger.warning("%s provider %s failed (%r); next: %s", self.kind, from_name, error,
                       to_name or "none")
        if self.on_failover is None or next_index is None:
            return
        try:
            result = self.on_failover(self.kind, from_name, to_name, error)
            if inspect.isawaitable(result):
                await result
        except Exception:
            logger.exception("on_failover callback failed")

    async def stream(self, start: Callable[[Any], AsyncIterator[Any]]) -> AsyncIterator[Any]:
        """Yield the events of the first provider whose first event comes in time."""
        order = self.order()
        for position, index in enumerate(order):
            await warm_up(self.providers[index])
            events = start(self.providers[index])
            try:
                try:
                    async with asyncio.timeout(self.budget_s):
                        first = await anext(events)
                except StopAsyncIteration:
                    self.served(index)
                    return
                except Exception as exc:
                    if not is_failover_error(exc):
                        raise
                    following = order[position + 1] if position + 1 < len(order) else None
                    await self.failed(index, following, exc)
                    if following is None:
                        raise _exhausted(self.kind, exc) from exc
                    continue
                self.served(index)
                yield first
                async for event in events:
                    yield event
                return
            finally:
                await events.aclose()


def _exhausted(kind: str, error: BaseException) -> ProviderError:
    return ProviderError(f"every {kind} provider failed; last: {error!r}", failover=False)


class _ChainedProvider:
    """What every failover wrapper shares: the chain, its name, the active vendor, warm-up."""

    kind = ""

    def __init__(self, providers: Sequence[Any], *, ttfb_budget_ms: int | None = None,
                 on_failover: OnFailover | None = None,
                 retry_primary_after_s: float = 30.0) -> None:
        self._chain = _Chain(self.kind, providers, ttfb_budget_ms=ttfb_budget_ms,
                             on_failover=on_failover, retry_primary_after_s=retry_primary_after_s)
        self.name = ">".join(p.name for p in providers)

    @property
    def providers(self) -> list[Any]:
        return self._chain.providers

    @property
    def active_name(self) -> str:
        """The provider serving now (the one to bill, e.g. `CostMeter.add_llm(active_name, …)`)."""
        return self._chain.active_name

    async def warm_up(self) -> None:
        await asyncio.gather(*(warm_up(p) for p in self.providers))


class FailoverLLM(_ChainedProvider, LLMProvider):
    """An LLM chain: the next provider answers when one fails before its first event."""

    kind = "llm"

    async def respond(self, conversation: Conversation) -> AsyncIterator[BrainEvent]:
        async for event in self._chain.stream(lambda provider: provider.respond(conversation)):
            yield event

    async def aclose(self) -> None:
        """Close the providers that hold connections (those with an `aclose`)."""
        await asyncio.gather(*(p.aclose() for p in self.providers if hasattr(p, "aclose")),
                             return_exceptions=True)


class FailoverTTS(_ChainedProvider, TTSProvider):
    """A TTS chain: the next provider speaks when one fails before its first audio."""

    kind = "tts"

    async def synthesize(self, text: str, options: TTSOptions) -> AsyncIterator[bytes]:
        async for chunk in self._chain.stream(lambda provider: provider.synthesize(text, options)):
            yield chunk

    async def aclose(self) -> None:
        await asyncio.gather(*(p.aclose() for p in self.providers), return_exceptions=True)


class FailoverSTT(STTProvider):
    """An STT chain: the next provider's stream takes over when one cannot open or dies."""

    def __init__(self, providers: Sequence[STTProvider], *, ttfb_budget_ms: int | None = None,
                 on_failover: OnFailover | None = None,
                 retry_primary_after_s: float = 30.0) -> None:
        self._chain = _Chain("stt", providers, ttfb_budget_ms=ttfb_budget_ms,
                             on_failover=on_failover, retry_primary_after_s=retry_primary_after_s)
        self.name = ">".join(p.name for p in providers)

    @property
    def providers(self) -> list[STTProvider]:
        return self._chain.providers

    @property
    def active_name(self) -> str:
        """The provider serving now (the one to bill, e.g. `CostMeter.add_llm(active_name, …)`)."""
        return self._chain.active_name

    async def warm_up(self) -> None:
        await asyncio.gather(*(warm_up(p) for p in self.providers))

    async def open_stream(self, options: STTOptions) -> FailoverSTTStream:
        index, stream = await self._open(options, self._chain.order())
        return FailoverSTTStream(self, options, index, stream)

    async def _open(self, options: STTOptions, order: list[int]) -> tuple[int, STTStream]:
        chain = self._chain
        for position, index in enumerate(order):
            try:
                await warm_up(chain.providers[index])
                async with asyncio.timeout(chain.budget_s):
                    stream = await chain.providers[index].open_stream(options)
            except Exception as exc:
                if not is_failover_error(exc):
                    raise
                following = order[position + 1] if position + 1 < len(order) else None
                await chain.failed(index, following, exc)
                if following is None:
                    raise _exhausted("stt", exc) from exc
                continue
            chain.served(index)
            return index, stream
        raise ValueError("empty chain")  # unreachable: _Chain refuses empty chains


class FailoverSTTStream(STTStream):
    """The active provider's stream; replaced by the next provider's when it fails."""

    def __init__(self, owner: FailoverSTT, options: STTOptions, index: int,
                 stream: STTStream) -> None:
        self._owner = owner
        self._options = options
        self.provider_index = index
        self._stream = stream
        self._switching = False
        self._held: deque[bytes] = deque(maxlen=MAX_SWITCH_FRAMES)
        self._closed = False
        self._expected: tuple[str, ...] = ()  # handed on to a backup stream too

    @property
    def hears_words_while_speaking(self) -> bool:  # type: ignore[override]
        return self._stream.hears_words_while_speaking

    def feed(self, ulaw: bytes) -> None:
        if self._switching:
            self._held.append(ulaw)
        else:
            self._stream.feed(ulaw)

    def finalize(self) -> None:
        self._stream.finalize()

    def expect(self, phrases: Sequence[str]) -> None:
        self._expected = tuple(phrases)
        self._stream.expect(self._expected)

    async def transcripts(self) -> AsyncIterator[Transcript]:
        while True:
            try:
                async for transcript in self._stream.transcripts():
                    yield transcript
                return
            except Exception as exc:
                if self._closed or not is_failover_error(exc):
                    raise
                await self._switch(exc)

    async def _switch(self, error: BaseException) -> None:
        chain = self._owner._chain
        failed = self.provider_index
        count = len(chain.providers)
        rest = [(failed + i) % count for i in range(1, count)]
        self._switching = True
        try:
            await chain.failed(failed, rest[0] if rest else None, error)
            if not rest:
                raise _exhausted("stt", error) from error
            old = self._stream
            try:
                self.provider_index, self._stream = await self._owner._open(self._options, rest)
            finally:
                await old.aclose()
        finally:
            self._switching = False
        held, self._held = list(self._held), deque(maxlen=MAX_SWITCH_FRAMES)
        if self._expected:
            self._stream.expect(self._expected)
        for frame in held:
            self._stream.feed(frame)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._stream.aclose()


def build_chain(kind: str, names: list[str], *, on_failover: OnFailover | None = None,
                ttfb_budget_ms: int | None = None, retry_primary_after_s: float = 30.0,
                **provider_options: dict[str, Any]) -> Any:
    """Providers `names` of `kind` ("stt", "llm", "tts") behind one failover wrapper.

    Keyword arguments named after a provider are that provider's constructor options, e.g.
    ``build_chain("llm", ["bedrock", "openai"], bedrock={"regions": ["us-east-1"]},
    openai={"base_url": "http://gpu:8000/v1"}, on_failover=record)``. A single vendor still gets
    the wrapper: its time-to-first-byte budget turns a vendor that hangs into a provider error the
    session answers out loud. A single local provider is returned bare (a budget there would only
    turn CPU load into silence).
    """
    unknown = set(provider_options) - set(names)
    if unknown:
        raise ValueError(f"Options for providers not in the chain: {sorted(unknown)}")
    return _build(kind, [(name, provider_options.get(name, {})) for name in names],
                  on_failover=on_failover, ttfb_budget_ms=ttfb_budget_ms,
                  retry_primary_after_s=retry_primary_after_s)


# Providers that run on this machine: no network, nothing to time out on.
LOCAL_PROVIDERS = frozenset({"pocketsphinx", "offline", "hibari", "espeak", "instant"})


def _build(kind: str, entries: list[tuple[str, dict[str, Any]]], *,
           on_failover: OnFailover | None, ttfb_budget_ms: int | None,
           retry_primary_after_s: float = 30.0) -> Any:
    if not entries:
        raise ValueError(f"A {kind} chain needs at least one provider.")
    providers = [build_provider(kind, name, **options) for name, options in entries]
    if len(providers) == 1 and entries[0][0] in LOCAL_PROVIDERS:
        return providers[0]
    wrapper = {"stt": FailoverSTT, "llm": FailoverLLM, "tts": FailoverTTS}[kind]
    return wrapper(providers, ttfb_budget_ms=ttfb_budget_ms, on_failover=on_failover,
                   retry_primary_after_s=retry_primary_after_s)


def build_from_options(kind: str, primary: str, options: dict[str, Any] | None = None, *,
                       on_failover: OnFailover | None = None) -> Any:
    """A chain from an agent's `provider_options[kind]`, e.g. for stt
    ``{"fallbacks": ["pocketsphinx"], "keepalive_interval_s": 3, "pocketsphinx": {...}}``:
    `fallbacks` names the backups in order, a key named after a backup holds its options (a
    backup of the primary's own kind, e.g. a second Deepgram account, included),
    `ttfb_budget_ms` overrides the setting, every other key goes to the primary provider.
    """
    options = dict(options or {})
    fallbacks = list(options.pop("fallbacks", []))
    budget = options.pop("ttfb_budget_ms", None)
    backups = [(name, options.pop(name) if isinstance(options.get(name), dict) else {})
               for name in fallbacks]
    return _build(kind, [(primary, options), *backups], on_failover=on_failover,
                  ttfb_budget_ms=budget)
