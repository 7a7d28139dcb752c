"""The call simulator times the agent's answers from the caller's last sound, not from the end
of the clip it played (synthesised clips end in hundreds of milliseconds of their own silence,
which used to be counted as the agent's speed: `make demo` showed ~410 ms for answers the
server gave ~735 ms after the caller's voice stopped)."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from calls.realtime.audio import pcm16_to_ulaw
from calls.realtime.frames import FRAME_BYTES
from calls.simulator.phone import MediaStreamPeer, StreamInfo

FRAME_SAMPLES = FRAME_BYTES  # one µ-law byte per 8 kHz sample


class _Socket:
    """Stands in for the server's WebSocket: keeps what the peer sends, never answers."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))

    def __aiter__(self):
        return self

    async def __anext__(self):
        await asyncio.Event().wait()


def _clip(voiced_frames: int, silent_frames: int) -> bytes:
    tone = 8000 * np.sin(2 * np.pi * 300 * np.arange(voiced_frames * FRAME_SAMPLES) / 8000)
    quiet = np.random.default_rng(1).normal(0, 30, silent_frames * FRAME_SAMPLES)
    return pcm16_to_ulaw(np.concatenate([tone, quiet]).astype(np.int16))


async def _say(clip: bytes) -> tuple[MediaStreamPeer, float]:
    """The peer after it sent `clip` in real time, and when its last frame left."""
    peer = MediaStreamPeer(_Socket(), StreamInfo("CA1", "AC1", "wss://x/", {}, ""))
    await peer.start()
    try:
        peer.say(clip)
        return peer, await peer.wait_caller_done()
    finally:
        await peer.stop()


@pytest.mark.asyncio
async def test_the_caller_stopped_when_the_voice_ended_not_when_the_clip_did():
    peer, sent_at = await _say(_clip(voiced_frames=10, silent_frames=20))
    # The clip's 400 ms of trailing hiss went out after the voice ended.
    assert 0.30 <= sent_at - peer.caller_voice_end <= 0.50


@pytest.mark.asyncio
async def test_a_clip_without_voice_leaves_the_last_voice_end_alone():
    peer, _ = await _say(_clip(voiced_frames=0, silent_frames=5))
    assert peer.caller_voice_end == 0.0


@pytest.mark.asyncio
async def test_a_seeded_caller_says_a_line_the_same_way_every_time():
    from calls.simulator.caller import ScriptedCaller

    # given two callers with the same voice seed, and one without
    def caller(seed):
        return ScriptedCaller(None, to="", from_="", tts_seed=seed)

    line = "What's the wifi for visitors?"
    # when each says the same line
    first, again = await caller(0).speech(line), await caller(0).speech(line)
    unseeded = [await caller(None).speech(line) for _ in range(2)]
    # then the seeded ones are identical and the unseeded voice varies (hibari's noise)
    assert first == again
    assert unseeded[0] != unseeded[1]
