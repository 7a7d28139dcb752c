"""Two-channel call recording (left: caller, right: agent), buffered to temp files, not RAM.

The tracks are nameless temporary files (O_TMPFILE): no path ever reaches the file system, so a
crash or SIGTERM mid-call leaves no caller audio behind, and the kernel frees them with the
process. The assembled WAV exists under a name only between the end of the call and its
encrypted storage; `discard()` removes it and closes everything, whatever happened.

Frames are appended in memory in small blocks and written with `os.pwrite` at their own offsets
by a bounded thread pool, so writes never block the event loop and may finish in any order.
The WAV is assembled at the end of the call, in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import wave
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from calls.realtime.audio import ulaw_to_pcm16
from calls.realtime.frames import FRAME_BYTES

FLUSH_BYTES = 16 * 1024
_io_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="aybiza-recorder")


class _Track:
    __slots__ = ("block", "block_offset", "fd", "futures", "length")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.block = bytearray()
        self.block_offset = 0
        self.length = 0
        self.futures: list[Future] = []

    def write_at(self, offset: int, data: bytes) -> None:
        # Per frame: an append in the common (contiguous) case; the length is kept per flush.
        block = self.block
        if offset != self.block_offset + len(block):
            self.flush()
            self.block_offset = offset
            block = self.block
        block += data
        if len(block) >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        if self.block:
            data, offset = bytes(self.block), self.block_offset
            self.length = max(self.length, offset + len(data))
            self.futures = [f for f in self.futures if not f.done()]
            self.futures.append(_io_pool.submit(os.pwrite, self.fd, data, offset))
            self.block_offset += len(self.block)
            self.block = bytearray()


class CallRecorder:
    """Caller frames go at their arrival index; agent frames at the caller clock when sent."""

    def __init__(self) -> None:
        self._inbound = _Track(_nameless_file())
        self._outbound = _Track(_nameless_file())
        self._wav_path: str | None = None
        self._fds_open = True
        self._in_frames = 0
        self._out_frames = 0
        self.paused = False
        self.closed = False

    def add_inbound(self, ulaw: bytes) -> None:
        index = self._in_frames
        self._in_frames += 1
        if not self.paused and not self.closed:
            self._inbound.write_at(index * FRAME_BYTES, ulaw)

    def add_outbound(self, ulaw: bytes) -> None:
        """Agent audio as sent (one message: whole 20 ms frames)."""
        # Agent audio plays from the moment it is sent, but never overlaps itself.
        index = max(self._out_frames, self._in_frames)
        self._out_frames = index + len(ulaw) // FRAME_BYTES
        if not self.paused and not self.closed:
            self._outbound.write_at(index * FRAME_BYTES, ulaw)

    @property
    def duration_s(self) -> float:
        return max(self._in_frames, self._out_frames) * FRAME_BYTES / 8000

    async def finish(self) -> str | None:
        """Write the stereo WAV (in a thread); returns its path, or None if nothing was heard."""
        if self.closed:
            return None
        self.closed = True
        for track in (self._inbound, self._outbound):
            track.flush()
        return await asyncio.get_running_loop().run_in_executor(_io_pool, self._assemble)

    def _assemble(self) -> str | None:
        for track in (self._inbound, self._outbound):
            for future in track.futures:
                future.result()
        frames = max(self._inbound.length, self._outbound.length)
        if frames == 0:  # nothing heard (an instant hang-up, consent declined)
            self.discard()
            return None
        left = _read_track(self._inbound, frames)
        right = _read_track(self._outbound, frames)
        stereo = np.empty(frames * 2, dtype=np.int16)
        stereo[0::2] = ulaw_to_pcm16(left.tobytes())
        stereo[1::2] = ulaw_to_pcm16(right.tobytes())
        fd, path = tempfile.mkstemp(prefix="aybiza-rec-", suffix=".wav")
        self._wav_path = path
        with os.fdopen(fd, "wb") as handle, wave.open(handle, "wb") as wav:
            wav.setnchannels(2)
            wav.setsampwidth(2)
            wav.setframerate(8000)
            wav.writeframes(stereo.tobytes())
        self._close_tracks()
        return path

    def discard(self) -> None:
        """Close the tracks and remove the WAV (after it was stored, or when there is nothing).
        Safe to call more than once."""
        self._close_tracks()
        if self._wav_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._wav_path)
            self._wav_path = None

    def _close_tracks(self) -> None:
        if self._fds_open:
            self._fds_open = False
            for track in (self._inbound, self._outbound):
                os.close(track.fd)


def _nameless_file() -> int:
    """A read-write temporary file without a name (Linux O_TMPFILE; elsewhere created and
    unlinked at once): only this process can reach it, and only while it is open."""
    directory = tempfile.gettempdir()
    if hasattr(os, "O_TMPFILE"):
        with contextlib.suppress(OSError):  # a file system without O_TMPFILE support
            return os.open(directory, os.O_TMPFILE | os.O_RDWR, 0o600)
    fd, path = tempfile.mkstemp(prefix="aybiza-rec-", dir=directory)
    os.unlink(path)
    return fd


def _read_track(track: _Track, length: int) -> np.ndarray:
    data = os.pread(track.fd, length, 0)
    buf = np.frombuffer(data.ljust(length, b"\x00"), dtype=np.uint8)
    # Unwritten time reads as 0x00 (file holes): make it µ-law silence. A real 0x00 sample is a
    # full-scale negative peak that telephone audio practically never contains.
    return np.where(buf == 0, np.uint8(0xFF), buf)
