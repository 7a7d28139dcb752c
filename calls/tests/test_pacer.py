"""The process-wide pacer: 20 ms frames, real-time pacing with a small lead, marks, clear."""

import asyncio
import base64
import json

import pytest

from calls.realtime.pacer import FRAME_BYTES, OutboundAudio, Pacer
from calls.realtime.serializers.twilio import OutboundEncoder


class Wire:
    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.messages: list[tuple[float, dict]] = []

    def send(self, text: str) -> None:
        self.messages.append((self.loop.time(), json.loads(text)))

    def media(self) -> list[tuple[float, bytes]]:
        return [(t, base64.b64decode(m["media"]["payload"])) for t, m in self.messages
                if m["event"] == "media"]


def wired(**kwargs) -> tuple[Wire, Pacer, OutboundAudio]:
    """A wire, the loop's pacer and one call's outbound audio sending to the wire."""
    wire = Wire()
    pacer = Pacer.for_running_loop()
    return wire, pacer, pacer.outbound(OutboundEncoder("MZ1"), wire.send, **kwargs)


@pytest.mark.asyncio
async def test_audio_goes_out_in_160_byte_frames_paced_in_real_time():
    wire, pacer, outbound = wired()
    start = wire.loop.time()

    outbound.enqueue(b"\x10" * (FRAME_BYTES * 25))  # 500 ms of audio
    await asyncio.sleep(0.65)

    frames = wire.media()
    assert len(frames) == 25
    assert all(len(payload) == FRAME_BYTES for _, payload in frames)
    for index, (sent_at, _) in enumerate(frames):
        audio_time = index * 0.020
        # Never more than ~100 ms ahead of the playback clock, and never late by a gap.
        assert sent_at - start >= audio_time - 0.100
        assert sent_at - start <= audio_time + 0.060
    pacer.release(outbound)


@pytest.mark.asyncio
async def test_mark_follows_the_audio_before_it_and_pads_the_last_frame():
    wire, pacer, outbound = wired()

    outbound.enqueue(b"\x20" * 200)  # 1.25 frames
    outbound.enqueue_mark("t0.1")
    await asyncio.sleep(0.15)

    events = [m["event"] for _, m in wire.messages]
    assert events == ["media", "media", "mark"]
    last = wire.media()[-1][1]
    assert last == b"\x20" * 40 + b"\xff" * 120
    pacer.release(outbound)


@pytest.mark.asyncio
async def test_clear_drops_queued_audio_and_its_marks():
    wire, pacer, outbound = wired()
    outbound.enqueue(b"\x30" * (FRAME_BYTES * 100))  # 2 s
    outbound.enqueue_mark("t0.1")
    await asyncio.sleep(0.1)

    dropped = outbound.clear()
    sent_before = len(wire.media())
    await asyncio.sleep(0.1)

    assert dropped == ["t0.1"]
    assert len(wire.media()) == sent_before
    assert all(m["event"] != "mark" for _, m in wire.messages)
    assert outbound.is_idle
    pacer.release(outbound)


@pytest.mark.asyncio
async def test_played_bytes_follows_the_playback_clock():
    wire, pacer, outbound = wired()
    outbound.enqueue(b"\x40" * (FRAME_BYTES * 50))  # 1 s
    await asyncio.sleep(0.3)

    played = outbound.played_bytes(wire.loop.time())

    assert 0.2 * 8000 <= played <= 0.4 * 8000
    assert played <= outbound.total_sent
    pacer.release(outbound)


@pytest.mark.asyncio
async def test_one_clock_serves_many_calls():
    pacer = Pacer.for_running_loop()
    wires = [Wire() for _ in range(50)]
    outs = [pacer.outbound(OutboundEncoder(f"MZ{i}"), w.send) for i, w in enumerate(wires)]

    for out in outs:
        out.enqueue(b"\x50" * (FRAME_BYTES * 10))
    await asyncio.sleep(0.35)

    assert all(sum(len(p) for _, p in w.media()) == 10 * FRAME_BYTES for w in wires)
    assert pacer._task is not None
    for out in outs:
        pacer.release(out)


@pytest.mark.asyncio
async def test_40_ms_messages_keep_real_time_and_the_same_lead():
    wire, pacer, outbound = wired(frames_per_message=2)
    start = wire.loop.time()
    outbound.enqueue(b"\x10" * (FRAME_BYTES * 25))  # 500 ms: 12 messages of 40 ms and one of 20
    await asyncio.sleep(0.65)

    frames = wire.media()
    assert [len(p) for _, p in frames] == [2 * FRAME_BYTES] * 12 + [FRAME_BYTES]
    audio_time = 0.0
    for sent_at, payload in frames:
        # At most 100 ms ahead of the playback clock, and never late by a gap.
        assert audio_time - 0.100 - 1e-3 <= sent_at - start <= audio_time + 0.060
        audio_time += len(payload) / 8000
    pacer.release(outbound)


@pytest.mark.asyncio
async def test_a_mark_inside_a_message_splits_it_so_the_mark_follows_its_audio():
    wire, pacer, outbound = wired(frames_per_message=2)
    outbound.enqueue(b"\x20" * (FRAME_BYTES * 3))
    outbound.enqueue_mark("after-3")
    outbound.enqueue(b"\x21" * (FRAME_BYTES * 2))
    outbound.enqueue_mark("after-5")
    await asyncio.sleep(0.2)

    sizes = []
    for _, message in wire.messages:
        if message["event"] == "media":
            sizes.append(len(base64.b64decode(message["media"]["payload"])) // FRAME_BYTES)
        else:
            sizes.append(message["mark"]["name"])
    assert sizes == [2, 1, "after-3", 2, "after-5"]
    pacer.release(outbound)


def test_frames_per_message_must_fit_the_lead():
    loop = asyncio.new_event_loop()
    pacer = Pacer(loop)
    with pytest.raises(ValueError):
        pacer.outbound(OutboundEncoder("MZ1"), print, frames_per_message=0)
    with pytest.raises(ValueError):
        pacer.outbound(OutboundEncoder("MZ1"), print, lead_frames=2, frames_per_message=4)
    loop.close()
