"""InstantSTT: a scripted recogniser with configurable latency, for tests and the load benchmark.

It does no recognition. Per frame it only counts loud µ-law samples (one `bytes.translate` and one
`bytes.count`, both C loops: well under a microsecond for 160 bytes), so hundreds of calls cost
almost nothing. On `finalize()` it answers, after `final_latency_ms`, with exactly one
`Transcript(is_final=True, speech_final=True)`:

- if the caller was heard since the previous finalize, the text is the next line of `script`
  (a sequence, cycled turn by turn) or `script(turn_index, speech_ms)` when it is a callable;
- otherwise the text is "" (same contract as the pocketsphinx provider).

`turn_index` counts the finalizes that had speech, from 0. A frame "has speech" when at least
`min_loud_samples` of its samples exceed `threshold` (linear 16-bit amplitude).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence

from calls.realtime.audio import ULAW_DECODE_TABLE
from calls.realtime.providers.stt.base import (
    STTOptions,
    STTProvider,
    STTStream,
    Transcript,
    drain_results,
)

Script = Sequence[str] | Callable[[int, int], str]


def loudness_table(threshold: int) -> bytes:
    """bytes.translate table: µ-law code -> 1 if |sample| >= threshold else 0."""
    return bytes(1 if abs(int(v)) >= threshold else 0 for v in ULAW_DECODE_TABLE)


class InstantSTTStream(STTStream):
    """One call's scripted recognition (see the module docstring)."""

    def __init__(
        self,
        script: Script,
        final_latency_ms: float,
        table: bytes,
        min_loud_samples: int,
    ) -> None:
        self._script = script
        self._latency_s = final_latency_ms / 1000.0
        self._table = table
        self._min_loud = min_loud_samples
        self._loop = asyncio.get_running_loop()
        self._results: asyncio.Queue[Transcript | None] = asyncio.Queue()
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._speech_ms = 0
        self._stream_ms = 0
        self._turn = 0
        self._turn_key = 0
        self._closed = False

    def feed(self, ulaw: bytes) -> None:
        frame_ms = len(ulaw) >> 3
        self._stream_ms += frame_ms
        if ulaw.translate(self._table).count(1) >= self._min_loud:
            self._speech_ms += frame_ms

    def finalize(self) -> None:
        if self._closed:
            return
        text = ""
        if self._speech_ms:
            script = self._script
            if callable(script):
                text = script(self._turn, self._speech_ms)
            else:
                text = script[self._turn % len(script)]
            self._turn += 1
        transcript = Transcript(
            text, is_final=True, speech_final=True, confidence=1.0 if text else None,
            end_ms=self._stream_ms, extra={"speech_ms": self._speech_ms},
        )
        self._speech_ms = 0
        # A timer, not a task: finalize runs on the hot path of the session.
        key = self._turn_key = self._turn_key + 1
        self._timers[key] = self._loop.call_later(self._latency_s, self._deliver, key, transcript)

    def _deliver(self, key: int, transcript: Transcript) -> None:
        self._timers.pop(key, None)
        self._results.put_nowait(transcript)

    def transcripts(self) -> AsyncIterator[Transcript]:
        return drain_results(self._results)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        self._results.put_nowait(None)


class InstantSTT(STTProvider):
    """Scripted STT fake.

    script: lines answered turn after turn (cycled), or callable(turn_index, speech_ms) -> text.
    final_latency_ms: delay between `finalize()` and the final transcript.
    threshold: amplitude a sample must reach to count as loud (500 is about -36 dBFS).
    min_loud_samples: loud samples needed in a frame for it to count as speech.
    """

    name = "instant"

    def __init__(
        self,
        script: Script = ("Hello, I would like to book an appointment.",),
        *,
        final_latency_ms: float = 100.0,
        threshold: int = 500,
        min_loud_samples: int = 8,
    ) -> None:
        if not callable(script) and not script:
            raise ValueError("script needs at least one line")
        self.script = script
        self.final_latency_ms = final_latency_ms
        self.min_loud_samples = min_loud_samples
        self._table = loudness_table(threshold)

    async def open_stream(self, options: STTOptions) -> InstantSTTStream:
        return InstantSTTStream(
            self.script, self.final_latency_ms, self._table, self.min_loud_samples
        )
