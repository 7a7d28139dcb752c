"""The load generator: N simulated Twilio calls in one process, driven by one 20 ms ticker.

    python -m calls.bench.generator step.json result.json

Each call dials like Twilio (signed voice webhook, then the signed Media Streams handshake and
`start` with the TwiML's token) and then behaves like Twilio's media server and a caller at once:
a 20 ms µ-law frame every tick (speech clips or line silence; payloads precomputed), agent audio
played on a per-call playback clock, marks echoed when the audio before them has played, every
pending mark echoed on `clear`. The caller answers each agent turn after a short pause and every
`barge_every`-th utterance starts `barge_after_s` into the agent's reply instead.

There is no task per call: one ticker walks the calls (spread over `phases` slots of the 20 ms
period, as real streams are not phase-aligned) and `wsclient` hands received frames straight to
the call. Measurements (see `stats.py` for the definitions) are kept for the window only.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import os
import random
import secrets
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

import httpx
import orjson
import psutil
from twilio.request_validator import RequestValidator

from calls.bench import stats
from calls.bench.speech import Clip
from calls.bench.wsclient import HandshakeError, WebSocketClient, connect
from calls.realtime.frames import FRAME_S
from calls.realtime.serializers.twilio import (
    twilio_connected,
    twilio_mark,
    twilio_start,
    twilio_stop,
)

SILENCE_PAYLOAD = base64.b64encode(b"\xff" * 160)  # 20 ms of line silence
MEDIA_TEMPLATE = (b'{"event":"media","sequenceNumber":"%d","media":{"track":"inbound","chunk":"%d",'
                  b'"timestamp":"%d","payload":"%s"},"streamSid":"%s"}')
MEDIA_PREFIX = b'{"event":"media"'
PAYLOAD_KEY = b'"payload":"'
AGENT_TURN_IDLE_S = 0.5  # agent audio finished playing this long ago: its turn is over
BARGE_CLEAR_TIMEOUT_S = 2.0

# Call modes (the caller's side of the conversation).
CONNECTING, GREETING, IDLE, PAUSE, WAIT_REPLY, LISTEN, HUNG_UP = range(7)


@dataclass
class StepConfig:
    """One step of the ramp, as the runner hands it to the generator process."""

    host: str
    port: int
    public_base_url: str
    auth_token: str
    to_number: str
    calls: int
    clips_path: str
    provider_ms: float
    end_of_turn_ms: float
    barge_in_min_speech_ms: float
    server_pid: int | None = None
    stats_path: str = "/_bench/pacer"
    connect_rate_per_s: float = 50.0
    connect_concurrency: int = 16
    greeting_timeout_s: float = 20.0
    idle_measure_s: float = 3.0
    warmup_s: float = 4.0
    measure_s: float = 20.0
    barge_every: int = 4
    barge_after_s: float = 0.5
    pause_s: tuple[float, float] = (0.3, 0.8)
    reply_timeout_s: float = 6.0
    skip_audio_s: float = 0.1  # the pacer's lead burst: lead frames + the first due frame
    phases: int = 4
    seed: int = 1
    profile_path: str | None = None
    py_spy: str | None = None
    trace_calls: int = 0  # record every message of the first calls (debugging the generator)
    server_core: int | None = None  # to tell how busy other processes kept the server's core
    generator_core: int | None = None


@dataclass
class AgentTurnRecord:
    first_t: float
    kind: str
    arrivals: list[float] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)
    barge_at: float | None = None


@dataclass
class Measurements:
    """What the window collected, across calls."""

    jitter_ms: list[float] = field(default_factory=list)
    overhead_ms: list[float] = field(default_factory=list)
    barge_ms: list[float] = field(default_factory=list)
    tick_lag_ms: list[float] = field(default_factory=list)
    gaps: int = 0
    underruns: int = 0
    agent_turns: int = 0
    agent_frames: int = 0
    caller_turns: int = 0
    frames_sent: int = 0
    messages_received: int = 0
    max_write_buffer: int = 0
    gap_examples: list[dict] = field(default_factory=list)  # where glitches happen, for debugging
    overhead_samples: list[tuple[float, bool]] = field(default_factory=list)  # (ms, after barge)


class BenchCall:
    """One call: Twilio's media server and the caller. Handler of its `WebSocketClient`."""

    def __init__(self, gen: Generator, index: int) -> None:
        self.gen = gen
        self.index = index
        self.rng = random.Random(gen.config.seed * 100_003 + index)
        self.stream_sid = "MZ" + secrets.token_hex(16)
        self.call_sid = "CA" + secrets.token_hex(16)
        self.account_sid = gen.account_sid
        self._sid = self.stream_sid.encode()
        self.client: WebSocketClient | None = None
        self.seq = 1
        self.chunk = 0
        self.mode = CONNECTING
        self.talking = False
        self.clip: Clip | None = None
        self.clip_payloads: list[bytes] = []
        self.clip_pos = 0
        self.clip_is_barge = False
        self.next_speech_at = math.inf
        self.speech_end_t: float | None = None
        self.barge_start_t: float | None = None
        self.caller_turns = 0
        self.play_end = 0.0
        self.marks: deque[tuple[float, str]] = deque()
        self.turn: AgentTurnRecord | None = None
        self.closed = False
        self.trace: list[tuple] | None = [] if index < gen.config.trace_calls else None

    # --- the ticker -----------------------------------------------------------------------------
    # Complexity over the limit on purpose: one pass of the load generator per tick; splitting it
    # adds calls per simulated frame.
    def tick(self, now: float) -> None:  # noqa: C901
        """Every 20 ms: one inbound frame, the marks that played, the caller's next move."""
        client = self.client
        if client is None or self.closed or self.mode == HUNG_UP:
            return  # (a clip still being spoken at hang-up must not move the call on)
        gen = self.gen
        if self.clip is not None:
            pos = self.clip_pos
            payload = self.clip_payloads[pos]
            self.clip_pos = pos + 1
            # A frame goes out once its 20 ms were "captured", as Twilio's do: the trimmed
            # clip's first (voiced) frame started FRAME_S before it is sent, and its last voiced
            # frame ends as it is sent.
            if pos == 0 and self.clip_is_barge:
                self.barge_start_t = time.monotonic() - FRAME_S
            if self.clip_pos == len(self.clip_payloads):
                self.speech_end_t = time.monotonic()
                self.clip = None
                self._speech_finished()
        else:
            payload = SILENCE_PAYLOAD
        self.chunk += 1
        self.seq += 1
        client.send_text(MEDIA_TEMPLATE % (self.seq, self.chunk, self.chunk * 20, payload,
                                           self._sid))
        if gen.measuring:
            gen.m.frames_sent += 1
        marks = self.marks
        while marks and marks[0][0] <= now:
            self._echo_mark(marks.popleft()[1])
        turn = self.turn
        if turn is not None:
            if now > self.play_end + AGENT_TURN_IDLE_S:
                self._close_turn()
            elif (turn.barge_at is not None and now >= turn.barge_at and self.clip is None):
                turn.barge_at = None
                self._speak(gen.barge_clips[self.caller_turns % len(gen.barge_clips)], barge=True)
        mode = self.mode
        if mode == PAUSE:
            if now >= self.next_speech_at and self.clip is None:
                clips = gen.turn_clips
                self._speak(clips[self.rng.randrange(len(clips))], barge=False)
        elif mode == WAIT_REPLY and self.speech_end_t is not None:
            if now - self.speech_end_t > gen.config.reply_timeout_s:
                gen.error("reply_timeout", self.speech_end_t)
                self._pause(now)
        elif mode == LISTEN and self.turn is None and self.clip is None:
            self._pause(now)

    def _speak(self, clip: Clip, *, barge: bool) -> None:
        if self.trace is not None:
            self.trace.append((round(time.monotonic(), 4), self.mode, f"speak barge={barge}"))
        self.clip = clip
        self.clip_payloads = self.gen.payload_bytes[id(clip)]
        self.clip_pos = 0
        self.clip_is_barge = barge
        self.speech_end_t = None
        self.caller_turns += 1
        if self.gen.measuring:
            self.gen.m.caller_turns += 1
        if not barge:
            self.mode = WAIT_REPLY  # from its last frame on; the reply arrives after it

    def _speech_finished(self) -> None:
        if self.clip_is_barge and self.barge_start_t is not None:
            self.gen.error("barge_in_missed", self.barge_start_t)  # no clear during the words
            self.barge_start_t = None
        self.mode = WAIT_REPLY

    def _pause(self, now: float) -> None:
        self.mode = PAUSE
        low, high = self.gen.config.pause_s
        self.next_speech_at = now + self.rng.uniform(low, high)

    # --- the server's messages ------------------------------------------------------------------
    def ws_text(self, payload: bytes, now: float) -> None:
        gen = self.gen
        if gen.measuring:
            gen.m.messages_received += 1
        if self.trace is not None:
            self.trace.append((round(now, 4), self.mode, payload[:60].decode(errors="replace")))
        if payload.startswith(MEDIA_PREFIX):
            start = payload.find(PAYLOAD_KEY) + len(PAYLOAD_KEY)
            end = payload.find(b'"', start)
            audio_bytes = (end - start) // 4 * 3 - payload.count(b"=", end - 2, end)
            self._agent_audio(now, audio_bytes / 8000)
            return
        message = orjson.loads(payload)
        event = message.get("event")
        if event == "mark":
            name = message["mark"]["name"]
            if self.play_end <= now:
                self._echo_mark(name)
            else:
                self.marks.append((self.play_end, name))
        elif event == "clear":
            self._on_clear(now)
        elif event == "media":  # another field order: the slow path
            encoded = message["media"]["payload"]
            self._agent_audio(now, (len(encoded) // 4 * 3 - encoded.count("=")) / 8000)

    def _agent_audio(self, now: float, duration: float) -> None:
        turn = self.turn
        if turn is None:
            turn = self._open_turn(now)
        turn.arrivals.append(now)
        turn.durations.append(duration)
        self.play_end = (now if now > self.play_end else self.play_end) + duration

    def _open_turn(self, now: float) -> AgentTurnRecord:
        gen = self.gen
        if not self.talking:
            kind = "greeting"
        elif self.mode == WAIT_REPLY and self.speech_end_t is not None and self.clip is None:
            kind = "reply"
            if gen.in_window(self.speech_end_t):
                overhead = stats.turn_overhead_ms(
                    speech_end_t=self.speech_end_t, first_frame_t=now,
                    provider_ms=gen.config.provider_ms, end_of_turn_ms=gen.config.end_of_turn_ms)
                gen.m.overhead_ms.append(overhead)
                gen.m.overhead_samples.append((round(overhead, 1), self.clip_is_barge))
            self.mode = LISTEN
        else:
            kind = "other"
        self.turn = AgentTurnRecord(first_t=now, kind=kind)
        every = gen.config.barge_every
        # The caller's 2nd, 6th, 10th... utterance (every 4th) interrupts the reply before it,
        # so short windows see barge-ins too.
        if kind == "reply" and every and self.caller_turns % every == 1:
            self.turn.barge_at = now + gen.config.barge_after_s
        return self.turn

    def _close_turn(self) -> None:
        turn, self.turn = self.turn, None
        if turn is None:
            return
        gen = self.gen
        if self.mode == GREETING:
            self.mode = IDLE
        if not gen.in_window(turn.first_t):
            return
        m = gen.m
        m.agent_turns += 1
        m.agent_frames += len(turn.arrivals)
        m.jitter_ms.extend(stats.turn_jitter_ms(turn.arrivals, turn.durations,
                                                skip_audio_s=gen.config.skip_audio_s))
        gaps = stats.turn_gaps(turn.arrivals, turn.durations)
        m.gaps += gaps
        if gaps and len(m.gap_examples) < 20:
            deltas = [round((b - a) * 1000, 1) for a, b in zip(turn.arrivals, turn.arrivals[1:],
                                                                strict=False)]
            worst = max(range(len(deltas)), key=deltas.__getitem__)
            m.gap_examples.append({"call": self.index, "kind": turn.kind, "frame": worst + 1,
                                   "frames": len(turn.arrivals), "gap_ms": deltas[worst],
                                   "around_ms": deltas[max(0, worst - 3):worst + 4]})
        m.underruns += stats.playback_underruns(turn.arrivals, turn.durations)

    def _on_clear(self, now: float) -> None:
        while self.marks:  # Twilio echoes every pending mark on clear
            self._echo_mark(self.marks.popleft()[1])
        self.play_end = now
        self._close_turn()
        gen = self.gen
        if self.barge_start_t is not None:
            if gen.in_window(self.barge_start_t):
                gen.m.barge_ms.append(stats.barge_in_reaction_ms(
                    speech_start_t=self.barge_start_t, clear_t=now,
                    min_speech_ms=gen.config.barge_in_min_speech_ms))
            self.barge_start_t = None

    def _echo_mark(self, name: str) -> None:
        self.seq += 1
        if self.client is not None:
            self.client.send_text(twilio_mark(stream_sid=self.stream_sid, name=name,
                                              sequence=self.seq).encode())

    # --- lifecycle --------------------------------------------------------------------------
    def start(self, client: WebSocketClient, parameters: dict[str, str]) -> None:
        self.client = client
        client.send_text(twilio_connected().encode())
        client.send_text(twilio_start(stream_sid=self.stream_sid, call_sid=self.call_sid,
                                      account_sid=self.account_sid,
                                      custom_parameters=parameters, sequence=1).encode())
        self.mode = GREETING

    def start_talking(self, at: float) -> None:
        self.talking = True
        if self.turn is not None:
            self._close_turn()
        self.mode = PAUSE
        self.next_speech_at = at

    def hang_up(self) -> None:
        """Twilio's side of a caller hanging up: `stop`, then the closing handshake."""
        if self.client is None or self.closed:
            return
        self.mode = HUNG_UP
        self._close_turn()
        self.seq += 1
        self.client.send_text(twilio_stop(stream_sid=self.stream_sid, call_sid=self.call_sid,
                                          account_sid=self.account_sid,
                                          sequence=self.seq).encode())
        self.client.close()

    def ws_closed(self, code: int | None) -> None:
        if self.closed or self.client is None:  # never started: the dial counted the failure
            self.closed = True
            return
        self.closed = True
        if self.mode != HUNG_UP:
            self.gen.error("dropped", time.monotonic(),
                           detail=f"call {self.index} closed by the server with {code} "
                                  f"(mode {self.mode}, {self.caller_turns} utterances)")
        self.gen.call_closed(self)


class Generator:
    """One step: connect N calls, let them idle, talk, measure a window, hang up."""

    def __init__(self, config: StepConfig) -> None:
        self.config = config
        with open(config.clips_path) as handle:
            clips = json.load(handle)
        self.turn_clips = [Clip.from_dict(c) for c in clips["turns"]]
        self.barge_clips = [Clip.from_dict(c) for c in clips["barges"]]
        self.payload_bytes = {id(c): [p.encode("ascii") for p in c.payloads]
                              for c in self.turn_clips + self.barge_clips}
        self.account_sid = "AC" + secrets.token_hex(16)
        self.validator = RequestValidator(config.auth_token)
        self.public_host = urlsplit(config.public_base_url).netloc
        self.calls: list[BenchCall] = []
        self.slots: list[list[BenchCall]] = [[] for _ in range(max(1, config.phases))]
        self.live = 0
        self.window = (math.inf, -math.inf)
        self.measuring = False
        self.m = Measurements()
        self.errors: Counter[str] = Counter()
        self.error_details: list[str] = []
        self.running = True
        self.server = psutil.Process(config.server_pid) if config.server_pid else None
        # One client, built before the ticker runs: creating an httpx client (its SSL context)
        # blocks the loop for 100–250 ms, which would show up as a gap in every call.
        self.http = httpx.AsyncClient(base_url=f"http://{config.host}:{config.port}",
                                      timeout=30.0)

    # --- bookkeeping -------------------------------------------------------------------------
    def in_window(self, t: float) -> bool:
        return self.window[0] <= t <= self.window[1]

    def error(self, kind: str, t: float, detail: str = "") -> None:
        """Errors count whenever they happen (a failing step must show), details are capped."""
        self.errors[kind] += 1
        if detail and len(self.error_details) < 20:
            self.error_details.append(f"{kind}: {detail}")

    def call_closed(self, call: BenchCall) -> None:
        self.live -= 1
        with contextlib.suppress(ValueError):
            self.slots[call.index % len(self.slots)].remove(call)

    # --- the ticker ----------------------------------------------------------------------------
    async def _ticker(self) -> None:
        loop = asyncio.get_running_loop()
        slot_s = FRAME_S / len(self.slots)
        next_t = loop.time()
        slot = 0
        while self.running:
            now = loop.time()
            if self.measuring:
                self.m.tick_lag_ms.append((now - next_t) * 1000)
            for call in list(self.slots[slot]):
                call.tick(now)
            slot = (slot + 1) % len(self.slots)
            next_t += slot_s
            delay = next_t - loop.time()
            if delay < -FRAME_S:  # fell behind: measured as lag above, don't burst to catch up
                next_t = loop.time()
                delay = 0.0
            await asyncio.sleep(delay if delay > 0 else 0)

    # --- dialling ------------------------------------------------------------------------------
    async def _dial(self, http: httpx.AsyncClient, call: BenchCall) -> None:
        config = self.config
        params = {"CallSid": call.call_sid, "AccountSid": self.account_sid, "From": "+15550100100",
                  "To": config.to_number, "CallStatus": "ringing", "ApiVersion": "2010-04-01",
                  "Direction": "inbound"}
        path = "/twilio/voice/"
        signature = self.validator.compute_signature(config.public_base_url + path, params)
        try:
            response = await http.post(path, data=params, headers={
                "X-Twilio-Signature": signature, "Host": self.public_host,
                "X-Forwarded-Proto": "https"})
        except httpx.HTTPError as exc:
            self.error("dial_failed", time.monotonic(), detail=repr(exc)[:200])
            return
        if response.status_code != 200:
            self.error("dial_failed", time.monotonic(),
                       detail=f"{response.status_code} {response.text[:200]}")
            return
        stream = ET.fromstring(response.text).find("./Connect/Stream")
        if stream is None:
            self.error("dial_failed", time.monotonic(), detail="no <Connect><Stream>")
            return
        parameters = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
        url = stream.get("url", "")
        headers = {"X-Twilio-Signature": self.validator.compute_signature(url, {})}
        try:
            client = await connect(call, address=(config.host, config.port),
                                   host=self.public_host, path=urlsplit(url).path,
                                   headers=headers)
        except (OSError, HandshakeError, TimeoutError) as exc:
            self.error("handshake_failed", time.monotonic(), detail=repr(exc)[:200])
            return
        call.start(client, parameters)
        self.live += 1
        self.slots[call.index % len(self.slots)].append(call)

    async def _connect_all(self, http: httpx.AsyncClient) -> None:
        config = self.config
        limit = asyncio.Semaphore(config.connect_concurrency)
        interval = 1.0 / config.connect_rate_per_s
        pending: set[asyncio.Task] = set()

        async def dial_one(call: BenchCall) -> None:
            async with limit:
                await self._dial(http, call)

        for index in range(config.calls):
            call = BenchCall(self, index)
            self.calls.append(call)
            pending.add(asyncio.create_task(dial_one(call)))
            await asyncio.sleep(interval)
        await asyncio.gather(*pending)

    # --- sampling ------------------------------------------------------------------------------
    async def _pacer_stats(self) -> dict:
        try:
            response = await self.http.get(self.config.stats_path)
            return response.json()
        except (httpx.HTTPError, ValueError):
            return {}

    def _server_sample(self) -> tuple[float, int]:
        if self.server is None:
            return 0.0, 0
        times = self.server.cpu_times()
        return times.user + times.system, self.server.memory_info().rss

    async def _window(self, seconds: float, *, record: bool) -> dict:
        """Measure for `seconds`: server and own CPU, server RSS (max), pacer deltas."""
        loop = asyncio.get_running_loop()
        profiler = None
        if record and self.config.profile_path and self.config.py_spy and self.server:
            profiler = await asyncio.create_subprocess_exec(
                self.config.py_spy, "record", "--pid", str(self.server.pid), "--duration",
                str(int(seconds)), "--rate", "200", "--nonblocking", "--gil", "--format", "raw",
                "--output", self.config.profile_path,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        pacer_before = await self._pacer_stats()
        cores_before = _core_times()
        server_cpu_before, rss_max = self._server_sample()
        own_before = time.process_time()
        t0 = loop.time()
        if record:
            self.window = (t0, t0 + seconds)
            self.measuring = True
        while (remaining := t0 + seconds - loop.time()) > 0:
            await asyncio.sleep(min(1.0, remaining))
            rss_max = max(rss_max, self._server_sample()[1])
            buffers = [c.client.write_buffer_size for c in self.calls if c.client and not c.closed]
            self.m.max_write_buffer = max([self.m.max_write_buffer, *buffers])
        wall = loop.time() - t0
        self.measuring = False
        own_after = time.process_time()
        server_cpu_after, rss_end = self._server_sample()
        cores_after = _core_times()
        cores = _core_busy_pct(cores_before, cores_after)
        steal_ms = _core_steal_ms(cores_before, cores_after)
        pacer_after = await self._pacer_stats()
        if profiler is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(profiler.wait(), 30)
        server_cpu_pct = stats.cpu_percent(server_cpu_before, server_cpu_after, wall)
        generator_cpu_pct = stats.cpu_percent(own_before, own_after, wall)
        core, gen_core = self.config.server_core, self.config.generator_core
        return {
            "wall_s": round(wall, 3),
            "server_cpu_pct": round(server_cpu_pct, 1),
            "core_busy_pct": cores,
            # Other processes on the server's core (tests of colleagues...): noise when high.
            "others_on_server_core_pct": (round(max(0.0, cores[core] - server_cpu_pct), 1)
                                          if core is not None and core < len(cores) else None),
            "others_on_generator_core_pct": (
                round(max(0.0, cores[gen_core] - generator_cpu_pct), 1)
                if gen_core is not None and gen_core < len(cores) else None),
            "generator_cpu_pct": round(generator_cpu_pct, 1),
            # Included in the busy figures above; a stall of every call at once with steal in
            # the window is the host's, not ours.
            "steal_ms_server_core": (steal_ms[core] if core is not None and core < len(steal_ms)
                                     else None),
            "steal_ms_generator_core": (steal_ms[gen_core]
                                        if gen_core is not None and gen_core < len(steal_ms)
                                        else None),
            "server_rss_end": rss_end, "server_rss_max": max(rss_max, rss_end),
            "pacer": _pacer_delta(pacer_before, pacer_after, wall),
        }

    async def _wait_until(self, done, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if done():
                return True
            await asyncio.sleep(0.1)
        return done()

    # --- the step --------------------------------------------------------------------------
    async def run(self) -> dict:
        config = self.config
        loop = asyncio.get_running_loop()
        ticker = asyncio.create_task(self._ticker())
        _, rss_before = self._server_sample()
        started = time.monotonic()
        await self._connect_all(self.http)
        connected = self.live
        connect_s = time.monotonic() - started
        greeted = await self._wait_until(
            lambda: all(c.mode != GREETING for c in self.calls if c.client and not c.closed),
            config.greeting_timeout_s)
        if not greeted:
            stuck = [c for c in self.calls if c.mode == GREETING and c.client and not c.closed]
            for _ in stuck:
                self.error("no_greeting", time.monotonic())
            self.error_details.append(f"no_greeting: {len(stuck)} calls heard no greeting")
        await asyncio.sleep(0.5)
        idle = await self._window(config.idle_measure_s, record=False)

        now = loop.time()
        for call in self.calls:
            if call.client is not None and not call.closed:
                call.start_talking(now + call.rng.uniform(0, 2.0))
        await asyncio.sleep(config.warmup_s)
        talk = await self._window(config.measure_s, record=True)
        for call in self.calls:  # turns still open at the end count if they started in time
            if call.turn is not None and not call.closed:
                call._close_turn()

        for call in self.calls:
            call.hang_up()
        closed_cleanly = await self._wait_until(lambda: self.live <= 0, 20.0)
        if not closed_cleanly:
            self.error("hangup_timeout", time.monotonic(), detail=f"{self.live} still open")
            for call in self.calls:
                if call.client is not None and not call.closed:
                    call.client.abort()
        self.running = False
        await ticker
        await self.http.aclose()
        return self._results(connected=connected, connect_s=connect_s, rss_before=rss_before,
                             idle=idle, talk=talk)

    def _results(self, *, connected: int, connect_s: float, rss_before: int, idle: dict,
                 talk: dict) -> dict:
        m = self.m
        failed = self.errors["dial_failed"] + self.errors["handshake_failed"]
        dropped = self.errors["dropped"]
        calls = self.config.calls
        return {
            "calls": calls, "connected": connected, "connect_s": round(connect_s, 2),
            "errors": dict(self.errors), "error_details": self.error_details,
            # Failures per call: calls that never connected or dropped, plus replies and
            # barge-ins that never came (a call can fail more than once).
            "error_rate": round((failed + dropped + self.errors["reply_timeout"]
                                 + self.errors["barge_in_missed"] + self.errors["no_greeting"])
                                / max(1, calls), 4),
            "jitter_ms": stats.summarize(m.jitter_ms),
            "gaps_over_60ms": m.gaps, "underruns": m.underruns,
            "agent_turns": m.agent_turns, "agent_frames": m.agent_frames,
            "caller_turns": m.caller_turns,
            "caller_turns_total": sum(c.caller_turns for c in self.calls),
            "turn_overhead_ms": stats.summarize(m.overhead_ms),
            "turn_overhead_samples": sorted(m.overhead_samples),
            "barge_in_ms": stats.summarize(m.barge_ms),
            "generator_tick_lag_ms": stats.summarize(m.tick_lag_ms),
            "frames_sent_per_s": round(m.frames_sent / talk["wall_s"], 1),
            "messages_received_per_s": round(m.messages_received / talk["wall_s"], 1),
            "max_write_buffer_bytes": m.max_write_buffer, "gap_examples": m.gap_examples,
            "server_rss_before": rss_before, "idle": idle, "talk": talk,
            "traces": {c.index: c.trace for c in self.calls if c.trace is not None},
        }


def _core_times() -> list[tuple[int, int, int]]:
    """(busy, total, steal) jiffies per CPU from /proc/stat (empty where it does not exist).
    Steal is time the hypervisor ran something else while this virtual CPU wanted to run."""
    try:
        with open("/proc/stat") as handle:
            lines = [line.split() for line in handle if line.startswith("cpu")]
    except OSError:
        return []
    result = []
    for fields in lines[1:]:  # cpu0, cpu1, ... (the first line is the sum)
        values = [int(v) for v in fields[1:]]
        idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
        steal = values[7] if len(values) > 7 else 0
        result.append((sum(values) - idle, sum(values), steal))
    return result


def _core_busy_pct(before: list[tuple[int, int, int]],
                   after: list[tuple[int, int, int]]) -> list[float]:
    return [round(100 * (b1 - b0) / max(1, t1 - t0), 1)
            for (b0, t0, _), (b1, t1, _) in zip(before, after, strict=False)]


def _core_steal_ms(before: list[tuple[int, int, int]],
                   after: list[tuple[int, int, int]]) -> list[int]:
    tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
    return [round((s1 - s0) * tick_ms) for (_, _, s0), (_, _, s1) in zip(before, after,
                                                                         strict=False)]


def _pacer_delta(before: dict, after: dict, wall_s: float) -> dict:
    """The pacer's counters over the window: ticks, lag percentiles (bucket bounds), busy %."""
    if not before or not after:
        return {}
    bounds = after["lag_buckets_ms"]
    counts = stats.histogram_delta(before["lag_histogram"], after["lag_histogram"])

    def bound(q: float) -> float | None:
        value = stats.histogram_percentile(bounds, counts, q)
        return None if value is None else (value if math.isfinite(value) else float(bounds[-1]) * 2)

    highest = max((i for i, c in enumerate(counts) if c), default=None)
    return {
        "ticks": after["ticks"] - before["ticks"],
        "lag_p50_ms_le": bound(50), "lag_p99_ms_le": bound(99),
        "lag_max_ms_le": (None if highest is None else
                          (bounds[highest] if highest < len(bounds) else bounds[-1] * 2)),
        "busy_pct": round(100 * (after["busy_s"] - before["busy_s"]) / wall_s, 1),
        "tasks": after.get("tasks"), "sessions": after.get("sessions"),
        "gc_collections": stats.histogram_delta(before.get("gc_collections", [0, 0, 0]),
                                                after.get("gc_collections", [0, 0, 0])),
        # time spent in collections per generation within the window, and the longest pause
        # per generation since the server started (including its start-up collection)
        "gc_pause_ms_in_window": [
            round(a - b, 1) for b, a in zip((before.get("gc_pauses") or {}).get("total_ms", []),
                                            (after.get("gc_pauses") or {}).get("total_ms", []),
                                            strict=False)],
        "gc_collected_in_window": [
            a - b for b, a in zip((before.get("gc_pauses") or {}).get("collected", []),
                                  (after.get("gc_pauses") or {}).get("collected", []),
                                  strict=False)],
        "gc_max_pause_ms": [round(ms, 1) for ms in (after.get("gc_pauses") or {}).get(
            "max_ms", [])],
        "gc_tracked": after.get("gc_tracked"), "gc_frozen": after.get("gc_frozen"),
    }


def main(argv: list[str]) -> int:
    with open(argv[1]) as handle:
        raw = json.load(handle)
    raw["pause_s"] = tuple(raw.get("pause_s", (0.3, 0.8)))
    config = StepConfig(**raw)
    results = asyncio.run(Generator(config).run())
    results["config"] = asdict(config)
    with open(argv[2], "w") as handle:
        json.dump(results, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
