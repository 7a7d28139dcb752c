"""Offline text-to-speech with hibari (PyPI ``hibari-tts``, import ``hibari``): embedded default.

hibari runs an 8 MB ONNX model at about 100x real time on one core and produces 24 kHz float audio;
this provider synthesises one sentence at a time in a bounded thread pool, resamples it to 8 kHz
with soxr and yields it as µ-law as soon as it exists, so the first audio of a reply costs one
sentence's synthesis (10-60 ms), not the whole text's.

Voices (``TTSOptions.voice`` or the constructor's default): hibari names ``heart`` (American
female, inside the wheel), ``fenrir`` (American male), ``kore`` (American female), ``emma``
(British female), ``fable`` (British male), or the aliases ``american`` / ``en-us`` -> heart and
``british`` / ``en-gb`` -> emma. Only ``heart`` ships in the wheel; the others are 8 MB files
hibari downloads on first use. Offline installs must pre-fetch them (``HIBARI_HOME``); with
``allow_download=False`` (the default) a voice that is not on disk is refused with a ValueError
at construction (default voice) or when synthesis starts (per-call voice), never a hang on a
network call in the middle of a phone call.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import AsyncIterator
from typing import Any

import numpy as np

from calls.realtime.audio import SAMPLE_RATE, float_to_pcm16, pcm16_to_ulaw, resample
from calls.realtime.providers.tts.base import TTSOptions, TTSProvider

DEFAULT_VOICE = "heart"
VOICE_ALIASES = {
    "": DEFAULT_VOICE,
    "american": "heart",
    "en-us": "heart",
    "british": "emma",
    "en-gb": "emma",
}

_EXECUTOR = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="hibari")
_MODELS_LOCK = threading.Lock()
_MODELS: dict[str, _Voice] = {}


class _Voice:
    """One loaded hibari voice. The ONNX session is thread-safe; the G2P is guarded by a lock."""

    def __init__(self, name: str) -> None:
        from hibari import Hibari

        self.tts = Hibari(voice=name, threads=1)
        self.sample_rate: int = self.tts.sample_rate
        self._g2p_lock = threading.Lock()
        self.phonemize("Warm up.")  # loads the G2P tables now, not in the first call's reply

    def phonemize(self, text: str) -> list[str]:
        with self._g2p_lock:
            return self.tts.phonemize(text)

    def synthesize(self, phonemes: str, speed: float, rng: np.random.Generator) -> bytes:
        audio = self.tts.from_ids(self.tts.ids(phonemes), speed, rng)
        pcm = resample(float_to_pcm16(audio), self.sample_rate, SAMPLE_RATE)
        return pcm16_to_ulaw(pcm)


def resolve_voice(voice: str) -> str:
    """The hibari voice name for a voice option or alias; ValueError when unknown."""
    from hibari.voices import VOICES

    name = VOICE_ALIASES.get(voice.strip().lower(), voice.strip().lower())
    if name not in VOICES:
        known = ", ".join([*VOICES, *[a for a in VOICE_ALIASES if a]])
        raise ValueError(f"unknown hibari voice {voice!r}; choose one of {known}")
    return name


def voice_installed(name: str) -> bool:
    """True when the voice's model file is on disk (no download needed)."""
    from hibari.voices import voice_path

    try:
        return os.path.exists(voice_path(name, download_missing=False))
    except FileNotFoundError:
        return False


def _load(name: str) -> _Voice:
    # Loading takes ~0.7 s; a per-process lock makes concurrent first calls share one load.
    with _MODELS_LOCK:
        voice = _MODELS.get(name)
        if voice is None:
            voice = _MODELS[name] = _Voice(name)
        return voice


class HibariTTS(TTSProvider):
    """hibari voices as 8 kHz µ-law, one chunk per sentence.

    voice: default voice when `TTSOptions.voice` is empty (see the module docstring).
    seed: fixes hibari's noise component (tests and WER measurements); None = fresh noise.
    allow_download: let hibari fetch a missing voice from its model hub on first use.
    """

    name = "hibari"

    def __init__(
        self, voice: str = DEFAULT_VOICE, *, seed: int | None = None, allow_download: bool = False
    ) -> None:
        self.voice = self._checked(voice or DEFAULT_VOICE, allow_download)
        self.seed = seed
        self.allow_download = allow_download

    @staticmethod
    def _checked(voice: str, allow_download: bool) -> str:
        name = resolve_voice(voice)
        if not allow_download and not voice_installed(name):
            raise ValueError(
                f"hibari voice {name!r} is not installed and downloads are off: fetch it once "
                f"(hibari --voice {name} 'hi') into HIBARI_HOME, or use 'heart'"
            )
        return name

    async def warmup(self) -> None:
        """Load the default voice now instead of on the first reply."""
        await asyncio.get_running_loop().run_in_executor(_EXECUTOR, _load, self.voice)

    async def synthesize(self, text: str, options: TTSOptions) -> AsyncIterator[bytes]:
        """Yield µ-law audio per sentence. Closing the generator stops after the current one."""
        name = self._checked(options.voice, self.allow_download) if options.voice else self.voice
        speed = min(2.0, max(0.5, options.speed or 1.0))
        loop = asyncio.get_running_loop()
        voice = _MODELS.get(name) or await loop.run_in_executor(_EXECUTOR, _load, name)
        rng = np.random.default_rng(self.seed)
        sentences = await loop.run_in_executor(_EXECUTOR, voice.phonemize, text)
        for phonemes in sentences:
            chunk: Any = await loop.run_in_executor(
                _EXECUTOR, voice.synthesize, phonemes, speed, rng
            )
            if chunk:
                yield chunk
