"""Offline text-to-speech with the espeak-ng command (robotic but tiny and always available).

Runs ``espeak-ng --stdout --stdin`` as an asyncio subprocess per utterance (nothing blocks the
event loop), reads its streamed WAV (22.05 kHz, 16-bit), resamples with a streaming soxr filter
to 8 kHz and yields µ-law every `chunk_ms`. Closing the generator kills the process.

Voices are espeak-ng voice names (``en-us``, ``en-gb``, ``en-gb-scotland``...; ``espeak-ng
--voices=en`` lists them) or the aliases ``american`` / ``british``.
"""

from __future__ import annotations

import asyncio
import shutil
import struct
from collections.abc import AsyncIterator

import numpy as np

from calls.realtime.audio import SAMPLE_RATE, StreamingResampler, pcm16_to_ulaw
from calls.realtime.providers.tts.base import TTSOptions, TTSProvider

VOICE_ALIASES = {"": "en-us", "american": "en-us", "british": "en-gb"}
DEFAULT_WORDS_PER_MINUTE = 175


class EspeakNotInstalled(RuntimeError):
    """The espeak-ng executable is not on PATH."""


async def _read_wav_header(stdout: asyncio.StreamReader) -> int:
    """Consume a streamed WAV header; return the sample rate (mono 16-bit PCM required)."""
    riff = await stdout.readexactly(12)
    if riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
        raise RuntimeError("espeak-ng did not write a WAV stream")
    rate = 0
    while True:
        chunk_id, size = struct.unpack("<4sI", await stdout.readexactly(8))
        if chunk_id == b"data":
            break  # size is a placeholder in a stream; read to EOF instead
        body = await stdout.readexactly(size + (size & 1))
        if chunk_id == b"fmt ":
            fmt, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
            if fmt != 1 or channels != 1 or bits != 16:
                raise RuntimeError(f"unexpected espeak-ng WAV format {fmt}/{channels}/{bits}")
    if not rate:
        raise RuntimeError("espeak-ng WAV stream has no fmt chunk")
    return rate


class EspeakTTS(TTSProvider):
    """espeak-ng as 8 kHz µ-law. Raises EspeakNotInstalled at construction without the binary."""

    name = "espeak"

    def __init__(
        self, voice: str = "en-us", *, executable: str = "espeak-ng", chunk_ms: int = 100
    ) -> None:
        path = shutil.which(executable)
        if path is None:
            raise EspeakNotInstalled(
                f"{executable} is not installed (Debian/Ubuntu: apt-get install espeak-ng)"
            )
        self.executable = path
        self.voice = voice
        self.chunk_ms = chunk_ms

    async def synthesize(self, text: str, options: TTSOptions) -> AsyncIterator[bytes]:
        """Yield µ-law chunks while espeak-ng speaks. ValueError for an unknown voice."""
        requested = options.voice or self.voice
        voice = VOICE_ALIASES.get(requested.lower(), requested)
        words_per_minute = round(DEFAULT_WORDS_PER_MINUTE * min(3.0, max(0.5, options.speed)))
        process = await asyncio.create_subprocess_exec(
            self.executable, "-v", voice, "-s", str(words_per_minute), "--stdout", "--stdin",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            # Text on stdin, never argv: a leading "-" must not read as an option.
            try:
                process.stdin.write(text.encode("utf-8"))
                await process.stdin.drain()
                process.stdin.close()
            except (BrokenPipeError, ConnectionResetError):
                pass  # it exited without reading (an unknown voice): the header read says why
            try:
                rate = await _read_wav_header(process.stdout)
            except asyncio.IncompleteReadError:
                error = (await process.stderr.read()).decode(errors="replace").strip()
                await process.wait()
                raise ValueError(f"espeak-ng failed for voice {voice!r}: {error}") from None
            resampler = StreamingResampler(rate, SAMPLE_RATE)
            chunk_bytes = 2 * rate * self.chunk_ms // 1000
            carry = b""
            while True:
                data = await process.stdout.read(chunk_bytes)
                if not data:
                    break
                data = carry + data
                usable = len(data) - len(data) % 2
                carry = data[usable:]
                pcm = resampler.process(np.frombuffer(data[:usable], dtype="<i2"))
                if pcm.size:
                    yield pcm16_to_ulaw(pcm)
            tail = resampler.flush()
            if tail.size:
                yield pcm16_to_ulaw(tail)
            await process.wait()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
