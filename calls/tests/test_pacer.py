"""The process-wide pacer: 20 ms frames, real-time pacing with a small lead, marks, clear.

Pacing is checked on a virtual clock (`ManualClock` ticks the call's outbound audio exactly as
the pacer does, every 20 ms): exact, and immune to a busy test machine. The pacer's own loop is
checked on the real event loop for what does not depend on timing (order, fan-out to calls).
"""

import asyncio
import base64
import json

import pytest

from calls.realtime.pacer import FRAME_BYTES, FRAME_S, OutboundAudio, Pacer
from calls.realtime.serializers.twilio import OutboundEncoder


class Wire:
    def __init__(self, clock=None) -> None:
        self.time = clock.time if clock is not None else asyncio.get_running_loop().time
        self.messages: list[tuple[float, dict]] = []

    def send(self, text: str) -> None:
        self.messages.append((self.time(), json.loads(text)))

    def media(self) -> list[tuple[float, bytes]]:
        return [(t, base64.b64decode(m["media"]["payload"])) for t, m in self.messages
                if m["event"] == "media"]


class ManualClock:
    """Stands in for the Pacer: virtual time, advanced by the test one 20 ms tick at a time;
    audio arriving for an idle call is pumped at once, as `Pacer.activate` does."""

    def __init__(self) -> None:
        self.ticks = 0
        self.now = 0.0
        self.active: dict[OutboundAudio, None] = {}

    def time(self) -> float:
        return self.now

    def activate(self, outbound: OutboundAudio) -> None:
        if outbound not in self.active:
            self.active[outbound] = None
            if not outbound.pump(self.now):
                self.active.pop(outbound)

    def advance(self, seconds: float) -> None:
        for _ in range(round(seconds / FRAME_S)):
            self.ticks += 1
            self.now = self.ticks * FRAME_S  # no drift from summing 0.02
            for outbound in list(self.active):
                if not outbound.pump(self.now):
                    self.active.pop(outbound)


def clocked(**kwargs) -> tuple[Wire, ManualClock, OutboundAudio]:
    """A wire, a virtual clock and one call's outbound audio sending to the wire."""
    clock = ManualClock()
    wire = Wire(clock)
    return wire, clock, OutboundAudio(OutboundEncoder("MZ1"), wire.send, pacer=clock, **kwargs)


def wired(**kwargs) -> tuple[Wire, Pacer, OutboundAudio]:
    """A wire, the loop's pacer and one call's outbound audio sending to the wire."""
    wire = Wire()
    pacer = Pacer.for_running_loop()
    return wire, pacer, pacer.outbound(OutboundEncoder("MZ1"), wire.send, **kwargs)


def test_audio_goes_out_in_160_byte_frames_paced_in_real_time():
    wire, clock, outbound = clocked()
    start = clock.time()

    outbound.enqueue(b"\x10" * (FRAME_BYTES * 25))  # 500 ms of audio
    clock.advance(0.65)

    frames = wire.media()
    assert len(frames) == 25
    assert all(len(payload) == FRAME_BYTES for _, payload in frames)
    for index, (sent_at, _) in enumerate(frames):
        audio_time = index * 0.020
        # At most 100 ms (the lead: 4 frames + the one playing) ahead of the playback clock,
        # and never behind it: no gap in what the caller hears.
        assert audio_time - 0.100 - 1e-9 <= sent_at - start <= audio_time + 1e-9
    assert frames[4][0] == start and frames[5][0] > start  # the lead goes out at once


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


def test_played_bytes_follows_the_playback_clock():
    wire, clock, outbound = clocked()
    outbound.enqueue(b"\x40" * (FRAME_BYTES * 50))  # 1 s
    clock.advance(0.3)

    # Twilio plays in real time from the first frame: 300 ms heard, more already sent.
    assert abs(outbound.played_bytes(clock.time()) - 0.3 * 8000) <= 1  # float rounding
    assert outbound.total_sent == (0.3 / FRAME_S + 5) * FRAME_BYTES


@pytest.mark.asyncio
async def test_one_clock_serves_many_calls():
    pacer = Pacer.for_running_loop()
    wires = [Wire() for _ in range(50)]
    outs = [pacer.outbound(OutboundEncoder(f"MZ{i}"), w.send) for i, w in enumerate(wires)]

    for out in outs:
        out.enqueue(b"\x50" * (FRAME_BYTES * 10))
    await asyncio.sleep(0.35)

    assert all(sum(len(p) for _, p in w.media()) == 10 * FRAME_BYTES for w in wires)
    for out in outs:
        pacer.release(out)


def test_40_ms_messages_keep_real_time_and_the_same_lead():
    wire, clock, outbound = clocked(frames_per_message=2)
    start = clock.time()
    outbound.enqueue(b"\x10" * (FRAME_BYTES * 25))  # 500 ms: 12 messages of 40 ms and one of 20
    clock.advance(0.65)

    frames = wire.media()
    assert [len(p) for _, p in frames] == [2 * FRAME_BYTES] * 12 + [FRAME_BYTES]
    audio_time = 0.0
    for sent_at, payload in frames:
        # At most 100 ms ahead of the playback clock, and never behind it.
        assert audio_time - 0.100 - 1e-9 <= sent_at - start <= audio_time + 1e-9
        audio_time += len(payload) / 8000


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


def test_pause_sends_nothing_more_and_resume_carries_on_from_the_next_byte():
    wire, clock, outbound = clocked()
    audio = bytes(range(256)) * 25  # 6,400 bytes: 0.8 s, every frame different
    outbound.enqueue(audio)
    outbound.enqueue_mark("end")
    clock.advance(0.2)
    outbound.pause()
    sent = len(wire.media())
    clock.advance(0.5)
    assert len(wire.media()) == sent  # held: Twilio plays its lead, then silence
    assert outbound.played_bytes(clock.time()) == outbound.total_sent  # the lead has played
    assert not outbound.is_idle  # still the agent's turn: nothing was dropped

    outbound.resume()
    clock.advance(1.0)
    frames = b"".join(chunk for _, chunk in wire.media())
    assert frames == audio  # every byte, in order, none twice
    assert [m["event"] for _, m in wire.messages][-1] == "mark"
    resumed_at = wire.media()[sent][0]
    assert resumed_at == pytest.approx(0.7)  # straight after resume, as a new run


def test_clear_ends_a_pause():
    wire, clock, outbound = clocked()
    outbound.enqueue(b"\x22" * 1600)
    outbound.pause()
    outbound.clear()
    assert not outbound.paused
    outbound.enqueue(b"\x33" * 160)
    clock.advance(0.02)
    assert wire.media()[-1][1] == b"\x33" * 160
