"""Text-to-speech: one small base every vendor implements.

`synthesize` is an async generator of raw 8 kHz µ-law bytes (any chunk size). The live call
slices them into 20 ms frames and paces them. Cancelling the consumer of the generator (barge-in)
must stop the vendor's work promptly.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass


@dataclass(slots=True)
class TTSOptions:
    voice: str = ""
    language: str = "en-US"
    speed: float = 1.0


class TTSProvider(ABC):
    name: str = "base"

    @abstractmethod
    def synthesize(self, text: str, options: TTSOptions) -> AsyncIterator[bytes]:
        """Yield 8 kHz µ-law audio for `text`, as soon as the first bytes exist."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release per-call resources (sockets). Default: nothing to release."""
