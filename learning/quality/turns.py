"""Does the Smart Turn model (calls/realtime/turn_model.py) tell a finished caller from one who
paused mid-sentence, on 8 kHz phone audio? Measured before it may decide a live call's turns.

Samples: utterances of the evaluation sets of four words or more, synthesised by both offline
voices over the phone line; each whole (complete) and cut at a quiet moment between 40 % and
75 % of its speech (a pause mid-sentence), with 200 ms of silence after — the moment a
semantic end-of-turn decision would be made. Reported: how often each is judged complete, and
the CPU time of one decision.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import numpy as np

from calls.dashboard import percentile
from calls.realtime.audio import ulaw_to_pcm16
from calls.realtime.wer import phone_band
from learning.quality.dataset import Utterance
from learning.quality.text import Tally

PAUSE = b"\xff" * 1600  # 200 ms of µ-law silence


@dataclass
class TurnReport:
    voice: str
    complete_judged_complete: Tally
    cut_judged_complete: Tally  # false cut-offs, had the model decided
    decision_cpu_ms: list[float]

    def as_dict(self) -> dict:
        p50, p95 = (percentile(self.decision_cpu_ms, q) for q in (0.5, 0.95))
        return {"voice": self.voice, "samples": self.complete_judged_complete.total,
                "complete_recall": self.complete_judged_complete.rate,
                "false_cut_offs": self.cut_judged_complete.rate,
                "decision_cpu_ms_p50": None if p50 is None else round(p50, 1),
                "decision_cpu_ms_p95": None if p95 is None else round(p95, 1)}


def mid_sentence_cut(ulaw: bytes) -> bytes | None:
    """The audio up to the quietest 20 ms frame between 40 % and 75 % of the speech."""
    pcm = ulaw_to_pcm16(ulaw).astype(np.float64)
    frames = pcm[: len(pcm) // 160 * 160].reshape(-1, 160)
    energy = np.sqrt((frames ** 2).mean(axis=1))
    voiced = np.flatnonzero(energy > 300)
    if voiced.size < 20:
        return None
    first, last = voiced[0], voiced[-1]
    low, high = first + int(0.4 * (last - first)), first + int(0.75 * (last - first))
    cut = low + int(np.argmin(energy[low:high]))
    return ulaw[: cut * 160]


def evaluate_turns(utterances: list[Utterance], voices: tuple[str, ...]) -> list[TurnReport]:
    from calls.realtime.turn_model import COMPLETE_THRESHOLD, TurnModel

    model = TurnModel.shared()
    reports = []
    samples = [u for u in utterances if len(u.text.split()) >= 4]
    for voice in voices:
        report = TurnReport(voice, Tally(), Tally(), [])
        for utterance in samples:
            ulaw = asyncio.run(phone_band(utterance.text, voice))
            cut = mid_sentence_cut(ulaw)
            if cut is None:
                continue
            started = time.process_time()
            whole = model.completion(ulaw + PAUSE)
            report.decision_cpu_ms.append((time.process_time() - started) * 1000)
            report.complete_judged_complete.add(whole >= COMPLETE_THRESHOLD)
            report.cut_judged_complete.add(model.completion(cut + PAUSE) >= COMPLETE_THRESHOLD)
        reports.append(report)
    return reports
