"""The call recorder leaves nothing behind: no descriptors, no caller audio on disk."""

from __future__ import annotations

import glob
import os
import tempfile
import wave

import pytest

from calls.realtime.recorder import CallRecorder

FRAME = b"\x10" * 160


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def audio_files() -> list[str]:
    return glob.glob(os.path.join(tempfile.gettempdir(), "aybiza-rec-*"))


@pytest.mark.asyncio
async def test_calls_that_record_nothing_leak_no_descriptors():
    # given 20 recorded calls that end before any audio (instant hang-ups, consent declined)
    before = open_fds()
    for n in range(20):
        recorder = CallRecorder()
        recorder.paused = n % 2 == 0  # after_consent: paused until a "yes" that never came
        recorder.add_inbound(FRAME)
        assert await recorder.finish() is None or not recorder.paused
        recorder.discard()

    # then every descriptor they opened is closed again
    assert open_fds() == before


@pytest.mark.asyncio
async def test_caller_audio_never_has_a_name_on_disk_during_the_call():
    before = set(audio_files())
    recorder = CallRecorder()
    for _ in range(50):
        recorder.add_inbound(FRAME)
        recorder.add_outbound(FRAME)

    # a crash or SIGTERM here would leave nothing: the tracks have no path
    assert set(audio_files()) == before

    path = await recorder.finish()
    with wave.open(path, "rb") as wav:
        assert (wav.getnchannels(), wav.getframerate()) == (2, 8000)
        assert wav.getnframes() >= 50 * 160
    recorder.discard()
    recorder.discard()  # twice is fine

    assert not os.path.exists(path)
    assert set(audio_files()) == before
