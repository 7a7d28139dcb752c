"""Pure statistics of the benchmark: from arrival times and timestamps to the reported numbers.

Everything here is a plain function of numbers (seconds in, milliseconds out), so the generator,
the report and `calls/tests/test_bench_stats.py` share one definition of each metric.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from calls.realtime.frames import FRAME_S

GAP_THRESHOLD_S = 0.060  # a frame later than this after the previous one is an audible glitch


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank percentile `q` (0–100) of `values`; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summarize(values: Sequence[float]) -> dict[str, float | int | None]:
    """count, p50, p95, p99 and max of `values`, rounded to 0.1 (None when empty)."""
    ordered = sorted(values)

    def at(q: float) -> float | None:
        value = percentile(ordered, q)
        return None if value is None else round(value, 1)

    return {"count": len(ordered), "p50": at(50), "p95": at(95), "p99": at(99),
            "max": round(ordered[-1], 1) if ordered else None}


def turn_jitter_ms(arrivals: Sequence[float], durations: Sequence[float] | None = None, *,
                   skip_audio_s: float = 0.1) -> list[float]:
    """|Δ − expected| in ms for each frame of one agent turn after the initial lead burst.

    `arrivals[i]` is when frame i arrived; `durations[i]` its audio length (20 ms if omitted).
    The pacer sends a burst of `skip_audio_s` of audio at once, then paces: the expected gap
    before frame i is the length of frame i − 1. Frames that start within the burst are skipped.
    """
    if durations is None:
        durations = [FRAME_S] * len(arrivals)
    jitter: list[float] = []
    offset = 0.0  # audio start of frame i within the turn
    for i, arrival in enumerate(arrivals):
        if i and offset >= skip_audio_s - 1e-9:
            expected = durations[i - 1]
            jitter.append(abs(arrival - arrivals[i - 1] - expected) * 1000)
        offset += durations[i]
    return jitter


def turn_gaps(arrivals: Sequence[float], durations: Sequence[float] | None = None, *,
              threshold_s: float = GAP_THRESHOLD_S) -> int:
    """How many messages of one turn came more than `threshold_s` after the previous one, for
    20 ms frames; a message after a longer one (40 ms) is allowed that much more time, so the
    rule is "late by more than `threshold_s` − 20 ms" whatever each message carries."""
    if durations is None:
        durations = [FRAME_S] * len(arrivals)
    allowed = threshold_s - FRAME_S
    return sum(1 for previous, current, duration in zip(arrivals, arrivals[1:], durations,
                                                        strict=False)
               if current - previous - duration > allowed)


def playback_underruns(arrivals: Sequence[float], durations: Sequence[float] | None = None, *,
                       tolerance_s: float = 0.001) -> int:
    """How often a turn's audio ran dry at the phone: a frame arrived (more than `tolerance_s`)
    after the previous ones had finished playing (Twilio plays them in real time, back to back).
    """
    if durations is None:
        durations = [FRAME_S] * len(arrivals)
    underruns = 0
    play_end = None
    for arrival, duration in zip(arrivals, durations, strict=True):
        if play_end is not None and arrival > play_end + tolerance_s:
            underruns += 1
        play_end = max(arrival, play_end or arrival) + duration
    return underruns


def turn_overhead_ms(*, speech_end_t: float, first_frame_t: float, provider_ms: float,
                     end_of_turn_ms: float) -> float:
    """The server's own share of a turn's latency: caller's last voiced frame → first agent
    frame, minus the simulated provider time and the agent's end-of-turn silence."""
    return (first_frame_t - speech_end_t) * 1000 - provider_ms - end_of_turn_ms


def barge_in_reaction_ms(*, speech_start_t: float, clear_t: float, min_speech_ms: float) -> float:
    """Caller's first voiced frame → `clear` received, minus the VAD's minimum speech."""
    return (clear_t - speech_start_t) * 1000 - min_speech_ms


def cpu_percent(cpu_before_s: float, cpu_after_s: float, wall_s: float) -> float:
    """CPU time over wall time, in percent of one core."""
    return 100.0 * (cpu_after_s - cpu_before_s) / wall_s if wall_s > 0 else 0.0


def histogram_delta(before: Sequence[int], after: Sequence[int]) -> list[int]:
    """The counts added between two snapshots of a cumulative histogram."""
    return [a - b for a, b in zip(after, before, strict=True)]


def histogram_percentile(bounds_ms: Sequence[float], counts: Sequence[int],
                         q: float) -> float | None:
    """Upper bound of the bucket holding the `q` percentile (`counts` has one bucket more than
    `bounds_ms`: the last one is everything above; it reports as infinity)."""
    total = sum(counts)
    if total == 0:
        return None
    rank = max(1, math.ceil(q / 100 * total))
    seen = 0
    for index, count in enumerate(counts):
        seen += count
        if seen >= rank:
            return bounds_ms[index] if index < len(bounds_ms) else math.inf
    return math.inf

