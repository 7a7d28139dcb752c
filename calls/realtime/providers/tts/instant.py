"""InstantTTS: a fake voice with configurable latency, for tests and the load benchmark.

After `first_audio_ms` it yields a 400 Hz tone (audible, not silence, so VAD/echo paths behave as
with speech) of `ms_per_char` per character of text, capped at `max_ms`, in `chunk_ms` chunks like
a streaming vendor. Consecutive chunks are `chunk_interval_ms` apart (0: as fast as the consumer
takes them, still yielding to the loop between chunks). Cancelling the consumer stops it at once:
the only awaits are sleeps, and the chunks are slices of one precomputed buffer.
"""

from __future__ import annotations

import asyncio
import functools
import math
from collections.abc import AsyncIterator

import numpy as np

from calls.realtime.audio import FRAME_MS, SAMPLE_RATE, pcm16_to_ulaw
from calls.realtime.providers.tts.base import TTSOptions, TTSProvider

TONE_HZ = 400  # 20 samples per period at 8 kHz: any 20 ms multiple loops without a click


@functools.lru_cache(maxsize=8)
def tone_ulaw(duration_ms: int, level_dbfs: float = -20.0) -> bytes:
    """`duration_ms` of a 400 Hz sine at `level_dbfs` (peak), as µ-law."""
    samples = SAMPLE_RATE * duration_ms // 1000
    amplitude = 32767 * 10 ** (level_dbfs / 20)
    t = np.arange(samples) / SAMPLE_RATE
    return pcm16_to_ulaw(np.round(amplitude * np.sin(2 * math.pi * TONE_HZ * t)).astype(np.int16))


class InstantTTS(TTSProvider):
    """Tone-speaking TTS fake.

    first_audio_ms: delay before the first chunk (a vendor's time to first byte).
    ms_per_char: audio length per character of text; max_ms caps one utterance.
    chunk_ms: size of each yielded chunk (a multiple of 20 ms); the last one may be shorter.
    chunk_interval_ms: delay between chunks after the first.
    """

    name = "instant"

    def __init__(
        self,
        *,
        first_audio_ms: float = 50.0,
        ms_per_char: float = 60.0,
        max_ms: int = 10_000,
        chunk_ms: int = 100,
        chunk_interval_ms: float = 0.0,
        level_dbfs: float = -20.0,
    ) -> None:
        if chunk_ms <= 0 or chunk_ms % FRAME_MS:
            raise ValueError(f"chunk_ms must be a positive multiple of {FRAME_MS}")
        self.first_audio_ms = first_audio_ms
        self.ms_per_char = ms_per_char
        self.max_ms = max_ms
        self.chunk_ms = chunk_ms
        self.chunk_interval_ms = chunk_interval_ms
        self._chunk = tone_ulaw(chunk_ms, level_dbfs)

    def duration_ms(self, text: str) -> int:
        """Audio length for `text`, rounded up to whole 20 ms frames."""
        raw = min(self.max_ms, len(text.strip()) * self.ms_per_char)
        return math.ceil(raw / FRAME_MS) * FRAME_MS

    async def synthesize(self, text: str, options: TTSOptions) -> AsyncIterator[bytes]:
        """Yield the tone for `text` (nothing for empty text)."""
        remaining = self.duration_ms(text) * SAMPLE_RATE // 1000
        if not remaining:
            return
        await asyncio.sleep(self.first_audio_ms / 1000.0)
        interval = self.chunk_interval_ms / 1000.0
        first = True
        while remaining > 0:
            if not first:
                await asyncio.sleep(interval)
            first = False
            size = min(remaining, len(self._chunk))
            remaining -= size
            yield self._chunk if size == len(self._chunk) else self._chunk[:size]
