"""Audio utilities of the live call: G.711 µ-law, resampling, WAV files, levels.

Twilio speaks 8 kHz mono µ-law, 160 bytes per 20 ms frame. Everything here works on numpy int16
PCM (`pcm16`) or on raw µ-law `bytes`. The µ-law codec is two lookup tables that match the
standard G.711 / `audioop.ulaw2lin` / `audioop.lin2ulaw` bit for bit, so a per-frame conversion is
one numpy fancy-index (a few microseconds), never a Python loop.
"""

from __future__ import annotations

import functools
import io
import math
import warnings
import wave
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soxr

from calls.realtime.frames import FRAME_BYTES, FRAME_MS, SAMPLE_RATE, ULAW_SILENCE

__all__ = ["FRAME_BYTES", "FRAME_MS", "SAMPLE_RATE", "ULAW_SILENCE"]  # re-exported for codecs

# G.711 µ-law constants: 14-bit magnitudes biased by 0x84 (33 in 14-bit units), clipped at 8159.
_BIAS = 0x84
_CLIP_14 = 8159
_SEG_END_14 = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)


def _build_decode_table() -> np.ndarray:
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = ((mantissa << 3) + _BIAS) << exponent
    pcm = np.where(codes & 0x80, _BIAS - magnitude, magnitude - _BIAS)
    return pcm.astype(np.int16)


def _build_encode_table() -> np.ndarray:
    # Index i is an int16 sample reinterpreted as uint16, so the table covers every input.
    pcm = np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int32) >> 2  # 14-bit
    negative = pcm < 0
    mask = np.where(negative, 0x7F, 0xFF)
    magnitude = np.minimum(np.where(negative, -pcm, pcm), _CLIP_14) + (_BIAS >> 2)
    segment = np.searchsorted(_SEG_END_14, magnitude, side="left")
    code = (segment << 4) | ((magnitude >> (np.minimum(segment, 7) + 1)) & 0x0F)
    code = np.where(segment >= 8, 0x7F, code)
    return (code ^ mask).astype(np.uint8)


ULAW_DECODE_TABLE: np.ndarray = _build_decode_table()  # 256 µ-law codes -> int16
ULAW_ENCODE_TABLE: np.ndarray = _build_encode_table()  # 65536 int16 (as uint16) -> µ-law code


try:  # the stdlib's C codec: 0.3 µs a frame against 4 µs for numpy's fancy index
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # removed in 3.13 (audioop-lts)
        from audioop import ulaw2lin as _ulaw2lin
except ImportError:  # pragma: no cover - Python 3.13+ without the audioop-lts backport
    _ulaw2lin = None


def ulaw_frame_to_pcm_bytes(ulaw: bytes) -> bytes:
    """Decode one small µ-law frame to native int16 PCM bytes: the per-frame path (VAD)."""
    if _ulaw2lin is not None:
        return _ulaw2lin(ulaw, 2)
    return ULAW_DECODE_TABLE[np.frombuffer(ulaw, dtype=np.uint8)].tobytes()


def ulaw_to_pcm16(ulaw: bytes | bytearray | memoryview) -> np.ndarray:
    """Decode µ-law bytes to int16 samples (same rate, one sample per byte)."""
    return ULAW_DECODE_TABLE[np.frombuffer(ulaw, dtype=np.uint8)]


def pcm16_to_ulaw(pcm: np.ndarray) -> bytes:
    """Encode int16 samples to µ-law bytes. Other dtypes are rejected rather than wrapped."""
    if pcm.dtype != np.int16:
        raise TypeError(f"pcm16_to_ulaw expects int16 samples, got {pcm.dtype}")
    return ULAW_ENCODE_TABLE[pcm.view(np.uint16)].tobytes()


def float_to_pcm16(samples: np.ndarray) -> np.ndarray:
    """Float audio in [-1, 1] to int16, clipping what lies outside."""
    scaled = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0) * 32767.0
    return np.round(scaled).astype(np.int16)


def resample(pcm: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Resample a whole mono int16 signal with soxr (HQ: proper anti-alias low-pass).

    Use `StreamingResampler` for audio that arrives in chunks: resampling chunks one by one
    with this function clicks at every boundary.
    """
    if pcm.dtype != np.int16:
        raise TypeError(f"resample expects int16 samples, got {pcm.dtype}")
    if src_rate == dst_rate or pcm.size == 0:
        return pcm.copy()
    return soxr.resample(pcm, src_rate, dst_rate, quality="HQ")


class StreamingResampler:
    """Resample a mono int16 stream that arrives in chunks (filter state kept between chunks).

    soxr has a small algorithmic delay: the first chunks return fewer samples than their share,
    and `flush()` returns the tail. Not thread-safe; one per stream.
    """

    def __init__(self, src_rate: int, dst_rate: int, quality: str = "HQ") -> None:
        self.src_rate = src_rate
        self.dst_rate = dst_rate
        self._stream = soxr.ResampleStream(src_rate, dst_rate, 1, dtype="int16", quality=quality)

    def process(self, pcm: np.ndarray) -> np.ndarray:
        """Feed one chunk of int16 samples; return the resampled samples available so far."""
        return self._stream.resample_chunk(np.ascontiguousarray(pcm, dtype=np.int16))

    def flush(self) -> np.ndarray:
        """End of the stream: return the pending tail and reset for a fresh stream."""
        tail = self._stream.resample_chunk(np.zeros(0, dtype=np.int16), last=True)
        self._stream.clear()
        return tail


def rms_dbfs(pcm: np.ndarray) -> float:
    """RMS level of int16 samples in dBFS (full-scale square wave = 0 dB); -120.0 for silence."""
    if pcm.size == 0:
        return -120.0
    rms = math.sqrt(float(np.mean(np.square(pcm, dtype=np.float64))))
    if rms <= 0.0:
        return -120.0
    return max(-120.0, 20.0 * math.log10(rms / 32768.0))


# A 20 ms frame whose peak reaches this (16-bit PCM) holds voice; quieter is a line's hiss or a
# synthesised clip's padding. How the simulator and `make eval` find a clip's voice.
VOICE_PEAK = 500


def loud_frames(ulaw: bytes, peak: int = VOICE_PEAK) -> np.ndarray:
    """Whether each whole 20 ms frame of `ulaw` peaks at `peak` or above (a partial tail frame
    is left out)."""
    whole = len(ulaw) // FRAME_BYTES * FRAME_BYTES
    pcm = ulaw_to_pcm16(ulaw[:whole])
    return np.abs(pcm.reshape(-1, FRAME_BYTES)).max(axis=1) >= peak if whole \
        else np.zeros(0, dtype=bool)


def read_wav(source: str | Path | bytes | BinaryIO, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read a 16-bit PCM WAV (path, bytes or file object) as mono int16 at `rate`.

    Stereo is averaged to mono; other sample rates are resampled with `resample`.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(bytes(source))
    with wave.open(source if not isinstance(source, Path) else str(source), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise ValueError(f"only 16-bit PCM WAV is supported, got {8 * wav.getsampwidth()}-bit")
        channels = wav.getnchannels()
        src_rate = wav.getframerate()
        frames = wav.readframes(wav.getnframes())
    pcm = np.frombuffer(frames, dtype="<i2").astype(np.int16)
    if channels > 1:
        pcm = pcm[: pcm.size - pcm.size % channels].reshape(-1, channels)
        pcm = pcm.mean(axis=1).round().astype(np.int16)
    return resample(pcm, src_rate, rate)


def write_wav(target: str | Path | BinaryIO, pcm: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """Write mono int16 samples as a 16-bit PCM WAV file (path or file object)."""
    if pcm.dtype != np.int16:
        raise TypeError(f"write_wav expects int16 samples, got {pcm.dtype}")
    with wave.open(target if not isinstance(target, Path) else str(target), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm.astype("<i2").tobytes())


def frames(ulaw: bytes, frame_bytes: int = FRAME_BYTES) -> list[bytes]:
    """Split µ-law audio into frames of `frame_bytes`, padding the last one with silence."""
    if not ulaw:
        return []
    remainder = len(ulaw) % frame_bytes
    if remainder:
        ulaw = ulaw + bytes([ULAW_SILENCE]) * (frame_bytes - remainder)
    return [ulaw[i : i + frame_bytes] for i in range(0, len(ulaw), frame_bytes)]


class Upsampler2x:
    """8 -> 16 kHz for the recogniser: soxr's own HQ filter (its impulse response), applied as
    a polyphase FIR in exact integer arithmetic, so the same audio gives the same samples
    however it is split.

    soxr's streaming output differed by up to 2 LSB from run to run with how the chunks fell
    (and even with the same chunks: its SIMD paths follow the buffers' memory alignment), and
    some sentences sit so near a tie in the recogniser that such a difference changed their
    words ("at four, please" read "at four free" in one call, "at for three" in the next). The
    response is soxr's, which the acoustic model's phone-line adaptation was estimated with.
    Not thread-safe; one per stream.
    """

    SHIFT = 24  # coefficients in Q24: the filter's tails (1e-6) are kept; int64 cannot overflow

    def __init__(self) -> None:
        self._even, self._odd, self._delay = _soxr_upsampling_phases(self.SHIFT)
        self._history = np.zeros(self._even.size - 1, dtype=np.int64)
        self._skip = self._delay  # the filter's delay is dropped, as soxr does

    def process(self, pcm: np.ndarray) -> np.ndarray:
        """Feed int16 samples; return the upsampled ones available so far (twice as many,
        less the filter's delay at the start of the stream)."""
        if pcm.size == 0:
            return np.zeros(0, dtype=np.int16)
        signal = np.concatenate((self._history, pcm.astype(np.int64)))
        self._history = signal[signal.size - self._history.size:]
        out = np.empty(2 * pcm.size, dtype=np.int64)
        out[0::2] = np.convolve(signal, self._even, mode="valid")
        out[1::2] = np.convolve(signal, self._odd, mode="valid")
        if self._skip:
            skipped = min(self._skip, out.size)
            out, self._skip = out[skipped:], self._skip - skipped
        rounded = (out + (1 << (self.SHIFT - 1))) >> self.SHIFT
        return np.clip(rounded, -32768, 32767).astype(np.int16)

    def flush(self) -> np.ndarray:
        """End of the stream: the last samples (twice the input in all), and a fresh start."""
        pending = self._delay - self._skip
        tail = self.process(np.zeros(self._history.size, dtype=np.int16))[:pending]
        self._history[:] = 0
        self._skip = self._delay
        return tail


@functools.lru_cache(maxsize=2)
def _soxr_upsampling_phases(shift: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The even and odd phases (int64, Q`shift`) of soxr HQ's 8 -> 16 kHz filter — its response
    to one impulse, in double precision, down to 1e-7 of the peak — and its delay in samples."""
    impulse = np.zeros(1024)
    impulse[512] = 1.0
    response = soxr.resample(impulse, 8000, 16000, quality="HQ")
    kept = np.flatnonzero(np.abs(response) > 1e-7)
    taps = response[kept.min() : kept.max() + 1]
    if taps.size % 2:
        taps = np.append(taps, 0.0)
    quantised = np.round(taps * (1 << shift)).astype(np.int64)
    delay = 2 * 512 - int(kept.min())  # where the impulse's output centre lies in `taps`
    return quantised[0::2].copy(), quantised[1::2].copy(), delay
