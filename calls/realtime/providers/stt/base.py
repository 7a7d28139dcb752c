"""Speech-to-text: one small base every vendor implements.

A provider opens one `STTStream` per call. The live call feeds it raw 8 kHz µ-law frames from the
consumer's receive handler (synchronously, per 20 ms frame: must be O(1) and never block) and
reads transcripts from the async generator `transcripts()`.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field


@dataclass(slots=True)
class Transcript:
    """One recognition result.

    `is_final` marks a segment that will not be revised; `speech_final` says the provider heard
    the end of the caller's turn (endpointing). `utterance_end` is a bare end-of-turn signal
    without text (Deepgram's UtteranceEnd).
    """

    text: str
    is_final: bool = True
    speech_final: bool = False
    utterance_end: bool = False
    confidence: float | None = None
    start_ms: int | None = None
    end_ms: int | None = None
    # Other readings of the same audio (pocketsphinx's second decoder): a judgement of the
    # words that must hold whatever was said checks these too.
    alternatives: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)


@dataclass(slots=True)
class STTOptions:
    language: str = "en-US"
    sample_rate: int = 8000
    # Words and phrases the caller is likely to say (the agent's own vocabulary): providers that
    # support biasing use them, the rest ignore them.
    vocabulary: list[str] = field(default_factory=list)
    endpointing_ms: int = 300
    utterance_end_ms: int = 1000


class STTStream(ABC):
    """One call's recognition stream."""

    # Words arrive while the caller is still speaking (interim results): the session can then
    # tell an "uh-huh" from an interruption before pausing the agent for good.
    hears_words_while_speaking: bool = False

    @abstractmethod
    def feed(self, ulaw: bytes) -> None:
        """Queue one frame of 8 kHz µ-law audio. Called per frame: O(1), never blocks."""

    def finalize(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """The call decided the caller's turn ended: flush what is pending as a final result."""

    def expect(self, phrases: Sequence[str]) -> None:  # noqa: B027 - optional hook
        """The agent just asked a question whose answers are likely `phrases` (() for none):
        a recogniser that can lean toward them does so from the caller's next turn on."""

    @abstractmethod
    def transcripts(self) -> AsyncIterator[Transcript]:
        """Async generator of results until the stream is closed."""

    @abstractmethod
    async def aclose(self) -> None:
        """Stop recognising and release resources. Safe to call twice."""


async def drain_results(results: asyncio.Queue) -> AsyncIterator[Transcript]:
    """A stream's `transcripts()` over the queue its worker fills: transcripts until `None`
    (the end, put back for later readers); an exception queued by the worker is raised here."""
    while True:
        item = await results.get()
        if item is None:
            results.put_nowait(None)
            return
        if isinstance(item, BaseException):
            raise item
        yield item


class STTProvider(ABC):
    name: str = "base"

    @abstractmethod
    async def open_stream(self, options: STTOptions) -> STTStream:
        """Open a recognition stream for one call."""
