"""Semantic end of turn: has the caller finished, or only paused mid-sentence?

The model is Smart Turn v3.2 (Daily, BSD-2-Clause), an 8 MB ONNX classifier over the last 8 s of
the caller's voice, installed from the package registry inside the `pipecat-ai` wheel
(`requirements/models.txt`, `--no-deps`: only the file is used; no download at run time). It
hears 16 kHz: phone audio (8 kHz µ-law) is decoded and resampled up. Its input is Whisper's
log-mel spectrogram (80 mel bands, 25 ms windows every 10 ms), computed here with numpy.

A decision costs a few milliseconds of one CPU core (`make bench` reports it) and is made at most
once per pause, in a worker thread, never per frame.
"""

from __future__ import annotations

import importlib.util
import os
import threading

import numpy as np

from calls.realtime.audio import resample, ulaw_to_pcm16

MODEL_FILE = ("audio", "turn", "smart_turn", "data", "smart-turn-v3.2-cpu.onnx")
MODEL_RATE = 16_000
WINDOW_S = 8
_N_FFT = 400
_HOP = 160
_N_MELS = 80
# Below this the model's "complete" is not trusted: the caller gets the rest of the silence.
COMPLETE_THRESHOLD = 0.5


class TurnModelUnavailable(RuntimeError):
    """The model file is not installed (`make venv` installs it)."""


def model_path() -> str:
    spec = importlib.util.find_spec("pipecat")  # found, never imported (its code is not ours)
    if spec is None or not spec.submodule_search_locations:
        raise TurnModelUnavailable(
            "semantic end of turn needs the Smart Turn model: "
            "pip install --no-deps -r requirements/models.txt")
    path = os.path.join(list(spec.submodule_search_locations)[0], *MODEL_FILE)
    if not os.path.exists(path):
        raise TurnModelUnavailable(f"pipecat-ai is installed but {path} is missing")
    return path


def available() -> bool:
    try:
        model_path()
    except TurnModelUnavailable:
        return False
    return importlib.util.find_spec("onnxruntime") is not None


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    # The Slaney scale (Whisper's): linear below 1 kHz, logarithmic above.
    hz = np.asarray(hz, dtype=np.float64)
    linear = 3.0 * hz / 200.0
    logarithmic = 15.0 + np.log(np.maximum(hz, 1e-9) / 1000.0) * (27.0 / np.log(6.4))
    return np.where(hz >= 1000.0, logarithmic, linear)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    linear = 200.0 * mel / 3.0
    logarithmic = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0))
    return np.where(mel >= 15.0, logarithmic, linear)


def _mel_filters() -> np.ndarray:
    """(frequency bins, mel bands) triangular filters, each normalised to unit area."""
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(MODEL_RATE / 2), _N_MELS + 2))
    bins = np.linspace(0, MODEL_RATE / 2, _N_FFT // 2 + 1)
    rising = (bins[:, None] - edges[None, :-2]) / np.diff(edges)[None, :-1]
    falling = (edges[None, 2:] - bins[:, None]) / np.diff(edges)[None, 1:]
    triangles = np.maximum(0.0, np.minimum(rising, falling))
    return triangles * (2.0 / (edges[2:] - edges[:-2]))[None, :]


_FILTERS = _mel_filters()
_WINDOW = np.hanning(_N_FFT + 1)[:-1]  # periodic Hann


def log_mel(audio_16k: np.ndarray) -> np.ndarray:
    """Whisper's features of exactly `WINDOW_S` seconds of 16 kHz audio: (80, 800) float32."""
    x = audio_16k.astype(np.float32)
    x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    padded = np.pad(x.astype(np.float64), _N_FFT // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, _N_FFT)[::_HOP]
    power = np.abs(np.fft.rfft(frames * _WINDOW, axis=-1)) ** 2  # (frames, bins)
    mel = np.log10(np.maximum(power @ _FILTERS, 1e-10)).T[:, :-1]
    mel = np.maximum(mel, mel.max() - 8.0)
    return ((mel + 4.0) / 4.0).astype(np.float32)


def last_window(ulaw: bytes) -> np.ndarray:
    """The caller's last `WINDOW_S` seconds of phone audio as the model hears it: 16 kHz
    floats, silence-padded at the start."""
    pcm = ulaw_to_pcm16(ulaw[-WINDOW_S * 8000:])
    audio = resample(pcm, 8000, MODEL_RATE).astype(np.float32) / 32768.0
    wanted = WINDOW_S * MODEL_RATE
    if audio.size < wanted:
        audio = np.pad(audio, (wanted - audio.size, 0))
    return audio[-wanted:]


class TurnModel:
    """One ONNX session per process, used from worker threads one decision at a time each."""

    _lock = threading.Lock()
    _shared: TurnModel | None = None

    def __init__(self, path: str | None = None) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = onnxruntime.InferenceSession(
            path or model_path(), options, providers=["CPUExecutionProvider"])

    @classmethod
    def shared(cls) -> TurnModel:
        with cls._lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    def completion(self, ulaw: bytes) -> float:
        """How likely the caller has finished (0..1), from the µ-law audio of their turn."""
        features = log_mel(last_window(ulaw))[None, :, :]
        output = self._session.run(None, {"input_features": features})[0]
        return float(np.asarray(output).reshape(-1)[0])
