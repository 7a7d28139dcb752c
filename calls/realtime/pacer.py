"""Outbound audio pacing: one 20 ms clock per process for every call.

Each call queues agent audio (and marks at byte positions) in an `OutboundAudio`. A single
`Pacer` task per event loop wakes every 20 ms, and tops each speaking call up to a small lead
ahead of Twilio's playback clock, in messages of 20 ms (or more: DEFAULT_FRAMES_PER_MESSAGE).
Barge-in only has to drop a queue. The same clock drives each session's low-rate housekeeping
(silence and call-length timers) every 250 ms.
"""

from __future__ import annotations

import asyncio
import weakref
from bisect import bisect_left
from collections import deque
from collections.abc import Callable
from typing import Protocol

from calls.realtime.frames import BYTES_PER_S, FRAME_BYTES, FRAME_S
from calls.realtime.serializers.twilio import OutboundEncoder

ULAW_SILENCE = 0xFF
DEFAULT_LEAD_FRAMES = 4  # keep ≤ 80 ms queued at Twilio: low barge-in latency, no gaps
# Frames per outbound media message (settings.MEDIA_OUTBOUND_MESSAGE_MS): 160-byte 20 ms frames
# by default, as Twilio sends them; 40 ms messages halve the messages (and socket writes) of a
# speaking call, and Twilio plays whatever length a message carries. Ticks stay at 20 ms, so
# calls whose runs started on alternate ticks spread their sends over both.
DEFAULT_FRAMES_PER_MESSAGE = 1
HOUSEKEEPING_EVERY_S = 0.25
# Upper bounds (ms) of the tick-lag histogram buckets; one more bucket counts everything above.
LAG_BUCKETS_MS = (0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 40, 60, 80, 100, 150, 200, 300, 500, 1000)


class Ticking(Protocol):
    def tick(self, now: float) -> None: ...


class OutboundAudio:
    """One call's queued agent audio and marks, and what has been sent of it."""

    __slots__ = (
        "_buffer", "_encoder", "_marks", "_pacer", "_read", "_run_frames",
        "_run_sent_base", "clock_start", "closed", "first_frame_at", "frames_per_message",
        "lead_frames", "paused", "send", "tap", "total_enqueued", "total_sent",
        "waiting_first_frame",
    )

    def __init__(self, encoder: OutboundEncoder, send: Callable[[str], None],
                 *, pacer: Pacer, lead_frames: int = DEFAULT_LEAD_FRAMES,
                 frames_per_message: int = DEFAULT_FRAMES_PER_MESSAGE,
                 tap: Callable[[bytes], None] | None = None) -> None:
        if frames_per_message < 1 or frames_per_message > lead_frames + 1:
            raise ValueError("frames_per_message must be 1..lead_frames + 1")
        self._encoder = encoder
        self.send = send
        self._pacer = pacer
        self.lead_frames = lead_frames
        self.frames_per_message = frames_per_message
        self.tap = tap
        self._buffer = bytearray()
        self._read = 0
        self._marks: deque[tuple[int, str]] = deque()
        self.total_enqueued = 0
        self.total_sent = 0
        self.clock_start: float | None = None
        self._run_frames = 0
        self._run_sent_base = 0
        self.first_frame_at: float | None = None
        self.waiting_first_frame = False
        self.closed = False
        self.paused = False

    # --- producer side (the session) ---------------------------------------------------------
    def enqueue(self, ulaw: bytes) -> None:
        if self.closed or not ulaw:
            return
        self._buffer += ulaw
        self.total_enqueued += len(ulaw)
        self._pacer.activate(self)

    def enqueue_mark(self, name: str) -> None:
        """A mark after the audio queued so far (padded to a whole frame)."""
        if self.closed:
            return
        remainder = self.total_enqueued % FRAME_BYTES
        if remainder:
            pad = FRAME_BYTES - remainder
            self._buffer += bytes([ULAW_SILENCE]) * pad
            self.total_enqueued += pad
        self._marks.append((self.total_enqueued, name))
        self._pacer.activate(self)

    def expect_first_frame(self) -> None:
        """Record the time of the next frame sent (a turn's first audible audio)."""
        self.first_frame_at = None
        self.waiting_first_frame = True

    def pause(self) -> None:
        """Send nothing more until `resume`: the caller hears the lead already sent, then
        silence. Nothing queued is dropped, and no `clear` goes to Twilio."""
        self.paused = True

    def resume(self) -> None:
        """Carry on from the first byte not sent (a new run: Twilio played everything sent)."""
        if self.paused:
            self.paused = False
            if self.pending_bytes or self._marks:
                self._pacer.activate(self)

    def clear(self) -> list[str]:
        """Drop everything queued; returns the names of marks that will never be sent."""
        self.paused = False
        dropped = [name for _, name in self._marks]
        self._marks.clear()
        self._buffer.clear()
        self._read = 0
        self.total_enqueued = self.total_sent
        self.clock_start = None
        self.waiting_first_frame = False
        return dropped

    @property
    def pending_bytes(self) -> int:
        return len(self._buffer) - self._read

    @property
    def is_idle(self) -> bool:
        return self.pending_bytes == 0 and not self._marks

    def played_bytes(self, now: float) -> int:
        """Estimate of how much sent audio the caller has heard (Twilio plays in real time)."""
        if self.clock_start is None:
            return self.total_sent
        elapsed = int((now - self.clock_start) * BYTES_PER_S)
        return self._run_sent_base + min(self._run_frames * FRAME_BYTES, max(0, elapsed))

    # --- pacer side ---------------------------------------------------------------------------
    def starts_run(self, now: float) -> bool:
        """True when audio queued now would start a new run (Twilio has nothing left to play)."""
        return self.clock_start is None or now > self.clock_start + self._run_frames * FRAME_S

    # Complexity over the limit on purpose: the pacer's per-tick loop over every call: kept flat on
    # the hot path.
    def pump(self, now: float, *, anchor: float | None = None) -> bool:  # noqa: C901
        """Send what is due at `now`. Returns False once nothing is left to send.

        `anchor` (the pacer's last tick, ≤ now) starts a new run's clock on the tick grid, so
        the following ticks see whole frames due, not a rounding coin toss. Synchronous: `send`
        hands each message to the socket at once (`calls/realtime/outbox.py`), so a tick for
        every speaking call is one plain loop, with no coroutine per frame. `send` never calls
        back into the pacer, so a pump cannot re-enter itself.
        """
        if self.closed or self.paused:
            return False  # a paused call leaves the pacer's list; `resume` puts it back
        if anchor is None:
            anchor = now
        if self.starts_run(now):  # the first audio, or Twilio has played all we sent
            self.clock_start = anchor
            self._run_frames = 0
            self._run_sent_base = self.total_sent
        # Round, not truncate: a tick that wakes a hair early must not skip its frame (and send
        # two on the next tick: ±20 ms of jitter on every call).
        due = int((now - self.clock_start) / FRAME_S + 0.5) + 1 + self.lead_frames
        buffer = self._buffer
        per_message = self.frames_per_message
        marks = self._marks
        while self._run_frames + per_message <= due:
            start = self._read
            whole = (len(buffer) - start) // FRAME_BYTES
            if not whole:
                if marks and marks[0][0] <= self.total_sent:
                    self._send_due_marks()
                break
            count = per_message if whole >= per_message else whole
            if marks:  # a mark goes out right after the audio before it, not a frame later
                to_mark = (marks[0][0] - self.total_sent) // FRAME_BYTES
                if 0 < to_mark < count:
                    count = to_mark
            size = count * FRAME_BYTES
            chunk = bytes(buffer[start:start + size])
            self._read = start + size
            self.send(self._encoder.media(chunk))
            if self.waiting_first_frame:
                self.first_frame_at = now
                self.waiting_first_frame = False
            if self.tap is not None:
                self.tap(chunk)
            self._run_frames += count
            self.total_sent += size
            if marks and marks[0][0] <= self.total_sent:
                self._send_due_marks()
        if self._read > 65536:  # compact now and then, not per frame
            del buffer[:self._read]
            self._read = 0
        # Done when nothing whole is left. A partial frame waits for the next enqueue, and the
        # playback clock stays: Twilio is still playing the lead we sent, so audio arriving in
        # time continues this run at real time instead of bursting out a new lead (TTS streams
        # in chunks).
        return self.pending_bytes >= FRAME_BYTES or bool(self._marks)

    def _send_due_marks(self) -> None:
        marks = self._marks
        while marks and marks[0][0] <= self.total_sent:
            self.send(self._encoder.mark(marks.popleft()[1]))


class Pacer:
    """The process's 20 ms clock (one per event loop)."""

    _by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Pacer] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._active: dict[OutboundAudio, None] = {}
        self._sessions: dict[Ticking, None] = {}
        self._task: asyncio.Task | None = None
        self.max_tick_lag_s = 0.0
        self.ticks = 0
        self.last_tick = float("-inf")
        # How late each tick woke up is the event loop's lag: a bucket count per tick is cheap.
        self.lag_histogram = [0] * (len(LAG_BUCKETS_MS) + 1)
        self.busy_s = 0.0  # time spent pumping and ticking: the pacer's share of the loop

    def stats(self) -> dict:
        """Counters for monitoring and the benchmark (cumulative since the pacer started)."""
        return {"ticks": self.ticks, "max_tick_lag_ms": round(self.max_tick_lag_s * 1000, 3),
                "lag_buckets_ms": list(LAG_BUCKETS_MS), "lag_histogram": list(self.lag_histogram),
                "busy_s": round(self.busy_s, 6), "active_outbound": len(self._active),
                "sessions": len(self._sessions)}

    @classmethod
    def for_running_loop(cls) -> Pacer:
        loop = asyncio.get_running_loop()
        pacer = cls._by_loop.get(loop)
        if pacer is None:
            pacer = cls._by_loop[loop] = cls(loop)
        return pacer

    def outbound(self, encoder: OutboundEncoder, send: Callable[[str], None],
                 **kwargs) -> OutboundAudio:
        return OutboundAudio(encoder, send, pacer=self, **kwargs)

    def activate(self, outbound: OutboundAudio) -> None:
        if outbound not in self._active:
            self._active[outbound] = None
            self._ensure_running()
            if not outbound.closed:
                # Audio that arrives for an idle call (a turn's first, or the next TTS chunk after
                # the lead used up the last one) goes out now, not on the next tick up to 20 ms
                # later.
                self._pump_now(outbound)

    def _pump_now(self, outbound: OutboundAudio) -> None:
        now = self._loop.time()
        anchor = self.last_tick if now - self.last_tick < FRAME_S else now
        try:
            keep = outbound.pump(now, anchor=anchor)
        except Exception:  # the socket went away: the session's close path cleans up
            keep = False
            outbound.closed = True
        if not keep:
            self._active.pop(outbound, None)

    def register(self, session: Ticking) -> None:
        self._sessions[session] = None
        self._ensure_running()

    def unregister(self, session: Ticking) -> None:
        self._sessions.pop(session, None)

    def release(self, outbound: OutboundAudio) -> None:
        outbound.closed = True
        self._active.pop(outbound, None)

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = self._loop.create_task(self._run(), name="aybiza-pacer")

    async def _run(self) -> None:
        loop = self._loop
        next_tick = loop.time()
        next_housekeeping = next_tick
        while self._active or self._sessions:
            now = loop.time()
            lag = now - next_tick
            if lag > self.max_tick_lag_s:
                self.max_tick_lag_s = lag
            self.ticks += 1
            self.last_tick = now
            self.lag_histogram[bisect_left(LAG_BUCKETS_MS, lag * 1000)] += 1
            if self._active:
                for outbound in list(self._active):
                    try:
                        keep = outbound.pump(now)
                    except Exception:  # the socket went away: the session's close path cleans up
                        keep = False
                        outbound.closed = True
                    if not keep:
                        self._active.pop(outbound, None)
            if now >= next_housekeeping:
                next_housekeeping = now + HOUSEKEEPING_EVERY_S
                for session in list(self._sessions):
                    session.tick(now)
            self.busy_s += loop.time() - now
            next_tick += FRAME_S
            delay = next_tick - loop.time()
            if delay < -FRAME_S:  # fell behind by more than a frame: don't try to catch up
                next_tick = loop.time()
                delay = 0
            await asyncio.sleep(max(0.0, delay))


def pacer_metric_families() -> list:
    """Prometheus families of this process's pacers, read at scrape time (`/metrics`): how late
    the 20 ms ticks woke up (the event loop's lag, which is the outbound audio's jitter), and the
    calls and audio streams they carry. Nothing is recorded for this on the hot path beyond the
    bucket count the pacer keeps anyway."""
    from prometheus_client.metrics_core import GaugeMetricFamily, HistogramMetricFamily

    lag = HistogramMetricFamily("aybiza_pacer_tick_lag_seconds",
                                "How late each 20 ms pacer tick woke up (event-loop lag).")
    sessions = GaugeMetricFamily("aybiza_pacer_sessions", "Call sessions ticked by this "
                                 "process's pacers.")
    counts = [0] * (len(LAG_BUCKETS_MS) + 1)
    carried = 0
    for pacer in list(Pacer._by_loop.values()):
        counts = [total + n for total, n in zip(counts, pacer.lag_histogram, strict=True)]
        carried += len(pacer._sessions)
    cumulative, buckets = 0, []
    for bound_ms, count in zip((*LAG_BUCKETS_MS, float("inf")), counts, strict=True):
        cumulative += count
        buckets.append(("+Inf" if bound_ms == float("inf") else str(bound_ms / 1000),
                        cumulative))
    lag.add_metric([], buckets, sum_value=None)
    sessions.add_metric([], carried)
    return [lag, sessions]
