"""The simulated callers' voice: real synthesized speech as 8 kHz µ-law 20 ms frames.

Generated once per bench run: espeak-ng → WAV → soxr to 8 kHz → µ-law. Each clip carries the
per-frame decisions of the server's VAD, so the generator knows which frame the server will hear
as the first and the last voiced one (turn overhead and barge-in reaction are measured from
them). Without espeak-ng a harmonic "voiced" signal stands in; either way the clips are verified
against the VAD and refused if it does not hear them as speech.
"""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
import wave
from dataclasses import dataclass, field

import numpy as np

from calls.realtime.audio import FRAME_BYTES, SAMPLE_RATE, pcm16_to_ulaw, resample

CALLER_LINES = (
    "Hi, what time do you open tomorrow morning?",
    "I would like to book an appointment for next Tuesday.",
    "Do you have parking near the office?",
    "Can I move my booking to Friday afternoon instead?",
    "How much does a cleaning cost?",
)
# Barge-ins start with a long voiced run, so the VAD's minimum speech is met promptly.
BARGE_LINES = ("Sorry, wait, one more question about that.",)
MIN_VOICED_FRACTION = 0.5
LEAD_SILENCE_FRAMES = 10
SILENCE_FRAME = b"\xff" * FRAME_BYTES


class SpeechUnavailable(RuntimeError):
    """The VAD does not hear the generated audio as speech."""


@dataclass
class Clip:
    """One utterance: base64 payloads per 20 ms frame and what the server's VAD hears in it."""

    text: str
    payloads: list[str]
    voiced: list[bool] = field(default_factory=list)

    @property
    def first_voiced(self) -> int:
        return self.voiced.index(True)

    @property
    def last_voiced(self) -> int:
        return len(self.voiced) - 1 - self.voiced[::-1].index(True)

    @property
    def duration_s(self) -> float:
        return len(self.payloads) * FRAME_BYTES / SAMPLE_RATE

    def as_dict(self) -> dict:
        return {"text": self.text, "payloads": self.payloads, "voiced": self.voiced}

    @classmethod
    def from_dict(cls, data: dict) -> Clip:
        return cls(text=data["text"], payloads=list(data["payloads"]), voiced=list(data["voiced"]))


def synthesize_espeak(text: str, *, voice: str = "en-us", words_per_minute: int = 170) -> bytes:
    """µ-law 8 kHz audio of `text` from espeak-ng (raises SpeechUnavailable without it)."""
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise SpeechUnavailable("espeak-ng is not installed")
    wav_bytes = subprocess.run([binary, "-v", voice, "-s", str(words_per_minute), "--stdout", text],
                               check=True, capture_output=True, timeout=30).stdout
    with wave.open(io.BytesIO(wav_bytes)) as wav:
        rate = wav.getframerate()
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    return pcm16_to_ulaw(resample(pcm, rate, SAMPLE_RATE))


def synthesize_voiced_signal(seconds: float, *, seed: int = 0) -> bytes:
    """A speech-like stand-in: a 110–140 Hz harmonic series with syllable-rate loudness."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    f0 = 125 + 15 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    signal = sum(np.sin(k * phase) / k for k in range(1, 25) if k * 140 < 3600)
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 4.0 * t) ** 2
    samples = signal * envelope / np.max(np.abs(signal)) * 0.5 * 32767
    return pcm16_to_ulaw(samples.astype(np.int16))


def vad_decisions(ulaw: bytes) -> list[bool]:
    """Whether the server hears each frame of `ulaw` as the caller's voice (its VAD's speech,
    not faint: a word's fading tail is not where a turn's end is counted from), heard after a
    little line silence."""
    vad = _server_vad()
    for _ in range(LEAD_SILENCE_FRAMES):
        vad.feed(SILENCE_FRAME)
    return [vad.feed(ulaw[i:i + FRAME_BYTES]) and not vad.faint
            for i in range(0, len(ulaw) - FRAME_BYTES + 1, FRAME_BYTES)]


def make_clip(text: str, ulaw: bytes) -> Clip:
    """Frame `ulaw` (padding the last frame with silence) and check the VAD hears speech."""
    remainder = len(ulaw) % FRAME_BYTES
    if remainder:
        ulaw += b"\xff" * (FRAME_BYTES - remainder)
    voiced = vad_decisions(ulaw)
    if not voiced or sum(voiced) / len(voiced) < MIN_VOICED_FRACTION:
        raise SpeechUnavailable(f"the VAD hears too little speech in {text!r}")
    payloads = [base64.b64encode(ulaw[i:i + FRAME_BYTES]).decode("ascii")
                for i in range(0, len(ulaw), FRAME_BYTES)]
    clip = Clip(text=text, payloads=payloads, voiced=voiced)
    # Drop the silence around the words: the generator adds its own pauses.
    first, last = clip.first_voiced, clip.last_voiced
    return Clip(text=text, payloads=payloads[first:last + 1], voiced=voiced[first:last + 1])


def caller_clips() -> tuple[list[Clip], list[Clip]]:
    """(turn clips, barge-in clips): espeak-ng speech, or the voiced stand-in without it."""
    try:
        turns = [make_clip(line, synthesize_espeak(line)) for line in CALLER_LINES]
        barges = [make_clip(line, synthesize_espeak(line)) for line in BARGE_LINES]
    except (SpeechUnavailable, subprocess.SubprocessError, OSError):
        turns = [make_clip(f"voiced signal {n}", synthesize_voiced_signal(1.2 + 0.3 * n, seed=n))
                 for n in range(len(CALLER_LINES))]
        barges = [make_clip("voiced barge-in", synthesize_voiced_signal(1.5, seed=99))]
    return turns, barges


def _server_vad():
    """The VAD the live call uses by default (`loader.build_vad()` without options)."""
    from calls.realtime.vad import VoiceActivityDetector

    return VoiceActivityDetector()
