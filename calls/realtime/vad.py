"""Per-call voice activity detection on 8 kHz µ-law frames.

`VoiceActivityDetector.feed(frame)` says whether one frame is speech and keeps two run lengths the
turn logic reads: how long the caller has been speaking (`speech_run_ms`) and how long they have
been silent (`silence_run_ms`). One detector per call; not thread-safe.

`faint` says whether a frame the backend calls speech is far below the caller's recent voice
(`FAINT_RATIO`): the fading tail of a word and the backend's hangover. WebRTC keeps calling 60-80
ms of near-silence speech after the last word, and a word's decay adds more: 120-280 ms in all on
the demo's lines, every one of them added to the wait before the caller is answered. The turn's
end is timed from the last frame that is not faint; speech start and barge-in use `feed`'s answer.

Backends:
- ``"webrtc"`` (default): WebRTC's GMM VAD (package ``webrtcvad-wheels``). It takes 10/20/30 ms
  frames of 8 kHz PCM directly; a 20 ms frame costs about 3 µs including the µ-law decode.
- ``"silero"``: the Silero VAD ONNX model shipped inside the ``silero-vad`` wheel, run with
  onnxruntime at 8 kHz on 256-sample (32 ms) windows. More robust to noise, about 0.1 ms per
  window. The wheel declares torch as a dependency, which this module does not need: install it
  with ``pip install --no-deps silero-vad``. Without it, asking for this backend raises
  `VADUnavailable`; the module itself always imports.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from typing import Protocol

import numpy as np

from calls.realtime.audio import SAMPLE_RATE, ULAW_DECODE_TABLE, ulaw_frame_to_pcm_bytes

BACKENDS = ("webrtc", "silero")
# A speech frame whose peak is this many times below the caller's recent level (30 dB) is the
# voice fading out, not voice: the softest syllables of a phone call sit well within 30 dB of its
# loudest, and the recent level falls 20 dB a second, so a quieter next sentence is still voice.
FAINT_RATIO = 32
LEVEL_DECAY_PER_FRAME = 0.1 ** (20 / 1000)  # x0.1 (-20 dB) per second of 20 ms frames
# A µ-law byte's magnitude rises with (~byte & 0x7F): `translate` + `max` find a frame's peak in
# C (~1 µs), and the rank's linear peak comes from one lookup.
_MAGNITUDE_RANK = bytes((0xFF - code) & 0x7F for code in range(256))
_PEAK_OF_RANK = tuple(abs(int(ULAW_DECODE_TABLE[0xFF - rank])) for rank in range(128))
_WEBRTC_FRAME_BYTES = (80, 160, 240)  # 10, 20, 30 ms at 8 kHz: the only sizes WebRTC accepts


class VADUnavailable(RuntimeError):
    """The requested VAD backend is not installed."""


class _Backend(Protocol):
    def is_speech(self, ulaw_frame: bytes) -> bool: ...

    def reset(self) -> None: ...


class _WebRtcBackend:
    def __init__(self, aggressiveness: int) -> None:
        import webrtcvad

        if not 0 <= aggressiveness <= 3:
            raise ValueError(f"webrtc VAD aggressiveness must be 0..3, got {aggressiveness}")
        self._aggressiveness = aggressiveness
        self._vad = webrtcvad.Vad(aggressiveness)

    def is_speech(self, ulaw_frame: bytes) -> bool:
        if len(ulaw_frame) not in _WEBRTC_FRAME_BYTES:
            raise ValueError(f"webrtc VAD needs 10/20/30 ms frames, got {len(ulaw_frame)} bytes")
        return self._vad.is_speech(ulaw_frame_to_pcm_bytes(ulaw_frame), SAMPLE_RATE)

    def reset(self) -> None:
        import webrtcvad

        self._vad = webrtcvad.Vad(self._aggressiveness)


_SILERO_LOCK = threading.Lock()
_SILERO_SESSION = None
_SILERO_WINDOW = 256  # samples per inference at 8 kHz (32 ms)
_SILERO_CONTEXT = 32  # samples of the previous window the model sees at 8 kHz


def silero_model_path() -> str:
    """Path of the Silero ONNX file inside the installed ``silero-vad`` wheel.

    Found without importing the package (its ``__init__`` imports torch).
    """
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise VADUnavailable(
            "the silero VAD backend needs the silero-vad wheel: pip install --no-deps silero-vad"
        )
    path = os.path.join(list(spec.submodule_search_locations)[0], "data", "silero_vad.onnx")
    if not os.path.exists(path):
        raise VADUnavailable(f"silero-vad is installed but {path} is missing")
    return path


def _silero_session():  # -> onnxruntime.InferenceSession
    # One session per process: the recurrent state is an input, so calls share it safely.
    global _SILERO_SESSION
    with _SILERO_LOCK:
        if _SILERO_SESSION is None:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            _SILERO_SESSION = onnxruntime.InferenceSession(
                silero_model_path(), options, providers=["CPUExecutionProvider"]
            )
        return _SILERO_SESSION


class _SileroBackend:
    def __init__(self, threshold: float) -> None:
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"silero threshold must be in (0, 1), got {threshold}")
        self._session = _silero_session()
        self._threshold = threshold
        # Hysteresis as in Silero's own iterator: leave speech below threshold - 0.15.
        self._off_threshold = max(0.01, threshold - 0.15)
        self._sr = np.array(SAMPLE_RATE, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        # Model input is [context | window]; new samples are appended after the context.
        self._input = np.zeros((1, _SILERO_CONTEXT + _SILERO_WINDOW), dtype=np.float32)
        self._filled = 0
        self._speaking = False
        self.last_probability = 0.0

    def is_speech(self, ulaw_frame: bytes) -> bool:
        samples = ULAW_DECODE_TABLE[np.frombuffer(ulaw_frame, dtype=np.uint8)] / np.float32(32768)
        offset = 0
        while offset < samples.size:
            take = min(_SILERO_WINDOW - self._filled, samples.size - offset)
            start = _SILERO_CONTEXT + self._filled
            self._input[0, start : start + take] = samples[offset : offset + take]
            self._filled += take
            offset += take
            if self._filled == _SILERO_WINDOW:
                self._infer()
        return self._speaking

    def _infer(self) -> None:
        out, self._state = self._session.run(
            None, {"input": self._input, "state": self._state, "sr": self._sr}
        )
        self.last_probability = float(out[0, 0])
        if self.last_probability >= self._threshold:
            self._speaking = True
        elif self.last_probability < self._off_threshold:
            self._speaking = False
        self._input[0, :_SILERO_CONTEXT] = self._input[0, -_SILERO_CONTEXT:]
        self._filled = 0


class VoiceActivityDetector:
    """Speech / non-speech per frame, with the current speech and silence run lengths.

    `feed` is O(1) per frame, allocation-light and never logs: call it inline for every inbound
    frame. `speech_run_ms` counts consecutive speech frames (0 while silent), `silence_run_ms`
    consecutive non-speech frames (0 while speaking). `faint`: the last speech frame was 30 dB
    or more below the caller's recent level (the module docstring).

    aggressiveness: webrtc mode 0 (keeps most speech) .. 3 (drops most noise).
    threshold: silero speech probability to enter speech.
    """

    def __init__(
        self, backend: str = "webrtc", aggressiveness: int = 2, threshold: float = 0.5
    ) -> None:
        if backend == "webrtc":
            self._backend: _Backend = _WebRtcBackend(aggressiveness)
        elif backend == "silero":
            self._backend = _SileroBackend(threshold)
        else:
            raise ValueError(f"unknown VAD backend {backend!r}; choose one of {BACKENDS}")
        self.backend = backend
        self.is_speech = False
        self.faint = False
        self._level = 0.0
        self.speech_run_ms = 0
        self.silence_run_ms = 0
        self.speech_ms_total = 0

    def feed(self, ulaw_frame: bytes) -> bool:
        """Classify one 8 kHz µ-law frame (20 ms = 160 bytes) and update the run lengths."""
        speech = self._backend.is_speech(ulaw_frame)
        self._level *= LEVEL_DECAY_PER_FRAME
        frame_ms = len(ulaw_frame) // 8
        if speech:
            peak = _PEAK_OF_RANK[max(ulaw_frame.translate(_MAGNITUDE_RANK), default=0)]
            self.faint = peak * FAINT_RATIO < self._level
            if peak > self._level:
                self._level = peak
            self.speech_run_ms += frame_ms
            self.speech_ms_total += frame_ms
            self.silence_run_ms = 0
        else:
            self.faint = False
            self.silence_run_ms += frame_ms
            self.speech_run_ms = 0
        self.is_speech = speech
        return speech

    def reset(self) -> None:
        """Forget all state (e.g. after the agent spoke over an echoing line)."""
        self._backend.reset()
        self.is_speech = False
        self.faint = False
        self._level = 0.0
        self.speech_run_ms = 0
        self.silence_run_ms = 0
        self.speech_ms_total = 0


def silero_available() -> bool:
    """True when the silero backend can be used (wheel installed and onnxruntime present)."""
    try:
        silero_model_path()
    except VADUnavailable:
        return False
    return importlib.util.find_spec("onnxruntime") is not None
