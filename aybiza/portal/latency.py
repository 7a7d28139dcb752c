"""An agent turn's latency breakdown as bar segments (STT final → first token → first audio →
first frame). Every mark is measured from the end of the caller's speech (calls.models.Turn)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# (attribute on Turn, stage name, css class): each stage ends at its mark.
STAGES = (
    ("stt_final_ms", "Speech to text", "stt"),
    ("llm_first_token_ms", "Language model", "llm"),
    ("tts_first_audio_ms", "Speech synthesis", "tts"),
    ("first_frame_ms", "First frame sent", "send"),
)


@dataclass(frozen=True)
class Segment:
    name: str
    css: str
    duration_ms: int
    # Share of the call's widest bar, in percent (for the bar's width).
    width_pct: float


@dataclass(frozen=True)
class LatencyBar:
    segments: list[Segment]
    total_ms: int

    @property
    def summary(self) -> str:
        parts = ", ".join(f"{s.name} {s.duration_ms} ms" for s in self.segments)
        return f"{self.total_ms} ms until the caller heard the agent: {parts}"


def _marks(turn) -> list[tuple[str, str, int]]:
    return [(name, css, value) for attr, name, css in STAGES
            if (value := getattr(turn, attr, None)) is not None]


def latency_bars(turns: Iterable) -> dict[int, LatencyBar]:
    """Turn index → its bar, for turns with at least one mark, scaled to the slowest turn."""
    marked = [(turn, marks) for turn in turns if (marks := _marks(turn))]
    scale_ms = max((max(value for _, _, value in marks) for _, marks in marked), default=0) or 1
    bars = {}
    for turn, marks in marked:
        segments, previous = [], 0
        for name, css, value in marks:
            # A mark earlier than the one before it (clock skew) is a zero-length stage.
            duration = max(value - previous, 0)
            previous = max(previous, value)
            segments.append(Segment(name=name, css=css, duration_ms=duration,
                                    width_pct=round(100 * duration / scale_ms, 2)))
        bars[turn.index] = LatencyBar(segments=segments, total_ms=previous)
    return bars
