"""A scripted caller: speaks lines (synthesized offline), presses keys, barges in, listens back.

Script lines (a file or `--say` options):
    plain text            say it once the agent has finished its turn
    barge <ms>: text      say it <ms> after the agent starts its next turn (interrupting it)
    dtmf: 1234#           press keys once the agent has finished its turn
    wait: 2.5             stay silent for 2.5 s
    # comment
"""

from __future__ import annotations

import asyncio
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from calls.realtime.audio import ulaw_to_pcm16
from calls.realtime.providers.registry import build_provider
from calls.realtime.providers.stt.base import STTOptions
from calls.realtime.providers.tts.base import TTSOptions
from calls.simulator.phone import FRAME_BYTES, AgentUtterance, MediaStreamPeer, TwilioPhone

LEAD_SILENCE = b"\xff" * (FRAME_BYTES * 10)  # 200 ms of line noise before each line


@dataclass
class Step:
    kind: str  # say | barge | dtmf | wait
    text: str = ""
    delay_ms: int = 0
    seconds: float = 0.0


def parse_script(lines: list[str]) -> list[Step]:
    steps: list[Step] = []
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        head, sep, rest = line.partition(":")
        head = head.strip().lower()
        if sep and head == "dtmf":
            steps.append(Step("dtmf", text=rest.strip()))
        elif sep and head == "wait":
            steps.append(Step("wait", seconds=float(rest)))
        elif sep and head.startswith("barge"):
            parts = head.split()
            delay = int(parts[1]) if len(parts) > 1 else 600
            steps.append(Step("barge", text=rest.strip(), delay_ms=delay))
        elif sep and head in ("say", "caller"):
            steps.append(Step("say", text=rest.strip()))
        elif sep and head not in ("", ) and head.isalpha() and len(head) < 8 and " " not in head:
            raise ValueError(f"script line {number}: unknown directive {head!r}")
        else:
            steps.append(Step("say", text=line))
    return steps


@dataclass
class TurnRecord:
    who: str
    text: str
    latency_ms: int | None = None
    interrupted: bool = False


@dataclass
class CallReport:
    call_sid: str
    turns: list[TurnRecord] = field(default_factory=list)
    marks_echoed: int = 0
    clears: int = 0
    frames_received: int = 0
    close_code: int | None = None
    wav_path: str | None = None
    # From Twilio's `start` message to the agent's first audio: the caller's dead air.
    greeting_ms: int | None = None

    @property
    def latencies_ms(self) -> list[int]:
        return [t.latency_ms for t in self.turns if t.who == "agent" and t.latency_ms is not None]


class Transcriber:
    """Transcribes the agent's audio back with an offline STT provider."""

    def __init__(self, provider: str = "pocketsphinx", vocabulary: list[str] | None = None):
        self.provider = build_provider("stt", provider)
        self.options = STTOptions(vocabulary=vocabulary or [])

    async def transcribe(self, ulaw: bytes) -> str:
        stream = await self.provider.open_stream(self.options)
        try:
            for start in range(0, len(ulaw) - FRAME_BYTES + 1, FRAME_BYTES):
                stream.feed(ulaw[start:start + FRAME_BYTES])
            stream.finalize()
            parts: list[str] = []
            async with asyncio.timeout(30):
                async for result in stream.transcripts():
                    if result.is_final and result.text:
                        parts.append(result.text)
                    if result.speech_final or result.utterance_end:
                        break
            return " ".join(parts)
        finally:
            await stream.aclose()


class ScriptedCaller:
    """`tts_seed` fixes the voice's noise (hibari draws fresh noise for every sentence): each
    line is then spoken the same way on every run, so a measure of the agent changes only when
    the agent does. None: a caller who never says a line quite the same way twice."""

    def __init__(self, phone: TwilioPhone | None, *, to: str, from_: str, voice: str = "",
                 tts_provider: str = "hibari", transcriber: Transcriber | None = None,
                 printer: Callable[[str], None] = print, turn_timeout_s: float = 30.0,
                 tts_seed: int | None = None) -> None:
        self.phone = phone
        self.to = to
        self.from_ = from_
        self.tts = build_provider("tts", tts_provider,
                                  **({} if tts_seed is None else {"seed": tts_seed}))
        self.tts_options = TTSOptions(voice=voice)
        self.transcriber = transcriber
        self.print = printer
        self.turn_timeout_s = turn_timeout_s
        self._pending_interrupted: tuple[float | None, float | None] = (None, None)
        self._printing: list[tuple[TurnRecord, asyncio.Future | None]] = []

    async def speech(self, text: str) -> bytes:
        audio = bytearray()
        async for chunk in self.tts.synthesize(text, self.tts_options):
            audio += chunk
        return LEAD_SILENCE + bytes(audio)

    async def run(self, steps: list[Step], *, wav_path: str | None = None,
                  call_sid: str | None = None) -> CallReport:
        info = await self.phone.dial(to=self.to, from_=self.from_, call_sid=call_sid)
        ws = await self.phone.open_stream(info)
        self.print(f"📞 {self.from_} → {self.to}  (CallSid {info.call_sid})")
        return await self.converse(MediaStreamPeer(ws, info), steps, wav_path=wav_path)

    async def converse(self, peer: MediaStreamPeer, steps: list[Step], *,
                       wav_path: str | None = None) -> CallReport:
        """The conversation on an open media stream (a call we dialled, or one the agent
        placed to us: calls/simulator/carrier.py), then hang up."""
        report = CallReport(call_sid=peer.info.call_sid)
        await peer.start()
        try:
            # The greeting first (unless the caller barges into it).
            await self._listen(peer, report, since=peer.t0, caller_end=None,
                               barge_next=bool(steps) and steps[0].kind == "barge")
            if peer.utterances:
                report.greeting_ms = int((peer.utterances[0].started_at - peer.t0) * 1000)
            await self._talk(peer, report, steps)
            if not peer.closed.is_set():
                await peer.hang_up()
        finally:
            await peer.stop()
            await self._finish_printing()
        report.marks_echoed = len(peer.marks_echoed)
        report.clears = peer.clears
        report.frames_received = peer.frames_received
        report.close_code = peer.close_code
        if wav_path:
            write_stereo_wav(wav_path, peer.caller_track, peer.agent_track)
            report.wav_path = wav_path
        return report

    async def _talk(self, peer: MediaStreamPeer, report: CallReport, steps: list[Step]) -> None:
        """The caller's part after the greeting: the steps in order."""
        for position, step in enumerate(steps):
            if peer.closed.is_set():
                break
            barge_next = position + 1 < len(steps) and steps[position + 1].kind == "barge"
            await self._step(peer, report, step, barge_next=barge_next)

    async def _step(self, peer: MediaStreamPeer, report: CallReport, step: Step, *,
                    barge_next: bool) -> None:
        if step.kind == "wait":
            since = time.monotonic()
            await asyncio.sleep(step.seconds)
            if peer.agent_speaking or (peer.utterances and peer.utterances[-1].started_at > since):
                await self._listen(peer, report, since=since, caller_end=None,
                                   barge_next=barge_next)
            return
        if step.kind == "dtmf":
            self._show(report, TurnRecord("caller", f"[presses {step.text}]"))
            pressed = time.monotonic()
            await peer.press(step.text)
            await self._listen(peer, report, since=pressed, caller_end=pressed,
                               barge_next=barge_next)
            return
        audio = await self.speech(step.text)
        if step.kind == "barge":
            await asyncio.sleep(step.delay_ms / 1000)
            interrupted = peer.agent_speaking
            suffix = "  ⟵ barges in" if interrupted else ""
            self._show(report, TurnRecord("caller", step.text + suffix))
        else:
            self._show(report, TurnRecord("caller", step.text))
        queued_at = time.monotonic()
        peer.say(audio)
        sent_at = await peer.wait_caller_done()
        # Answers are timed from the caller's last sound, not from the end of the clip's
        # trailing silence (hibari pads 300-500 ms), as the server times them.
        caller_end = peer.caller_voice_end if peer.caller_voice_end > queued_at else sent_at
        if step.kind == "barge":
            await self._report_interrupted(peer, report, before=caller_end)
        await self._listen(peer, report, since=caller_end, caller_end=caller_end,
                           barge_next=barge_next)

    async def _listen(self, peer: MediaStreamPeer, report: CallReport, *, since: float,
                      caller_end: float | None, barge_next: bool) -> None:
        """Wait for the agent's answer: all of it, or only its start when the caller will
        interrupt it."""
        if barge_next:
            if await peer.wait_agent_speaking(timeout_s=self.turn_timeout_s):
                self._pending_interrupted = (since, caller_end)
            else:
                self.print("   (no answer from the agent)")
            return
        utterance = await peer.wait_agent_turn(started_after=since,
                                               timeout_s=self.turn_timeout_s)
        if utterance is None:
            self.print("   (no answer from the agent)")
            return
        await self._report_agent(report, utterance, caller_end, interrupted=False)

    async def _report_interrupted(self, peer: MediaStreamPeer, report: CallReport, *,
                                  before: float) -> None:
        since, caller_end = self._pending_interrupted
        self._pending_interrupted = (None, None)
        if since is None:
            return
        candidates = [u for u in peer.utterances if since <= u.started_at < before]
        if candidates:
            await self._report_agent(report, candidates[0], caller_end, interrupted=True)

    async def _report_agent(self, report: CallReport, utterance: AgentUtterance,
                            caller_end: float | None, *, interrupted: bool) -> None:
        latency = (int((utterance.started_at - caller_end) * 1000)
                   if caller_end is not None else None)
        record = TurnRecord("agent", "…", latency_ms=latency, interrupted=interrupted)
        report.turns.append(record)
        # Transcribing takes a while: the caller goes on meanwhile; lines print in call order.
        task = asyncio.ensure_future(self._transcribe_into(record, utterance))
        self._printing.append((record, task))
        task.add_done_callback(lambda _: self._print_ready())

    async def _transcribe_into(self, record: TurnRecord, utterance: AgentUtterance) -> None:
        if self.transcriber is None:
            record.text = f"[{len(utterance.audio) / 8000:.1f} s of audio]"
            return
        try:
            record.text = await self.transcriber.transcribe(bytes(utterance.audio)) or "[unclear]"
        except Exception as exc:  # the transcript is a convenience; the call goes on
            record.text = f"[could not transcribe: {exc}]"

    def _show(self, report: CallReport, record: TurnRecord) -> None:
        report.turns.append(record)
        self._printing.append((record, None))
        self._print_ready()

    def _print_ready(self) -> None:
        while self._printing and (self._printing[0][1] is None or self._printing[0][1].done()):
            record, _ = self._printing.pop(0)
            self._print_turn(record)

    async def _finish_printing(self) -> None:
        for _, task in list(self._printing):
            if task is not None:
                await task
        self._print_ready()

    def _print_turn(self, record: TurnRecord) -> None:
        if record.who == "caller":
            self.print(f"  CALLER │ {record.text}")
        else:
            latency = f"  [{record.latency_ms} ms]" if record.latency_ms is not None else ""
            cut = "  ✂ interrupted" if record.interrupted else ""
            self.print(f"  AGENT  │ {record.text}{latency}{cut}")


def write_stereo_wav(path: str, caller: bytes | bytearray, agent: bytes | bytearray) -> None:
    length = max(len(caller), len(agent))
    left = ulaw_to_pcm16(bytes(caller).ljust(length, b"\xff"))
    right = ulaw_to_pcm16(bytes(agent).ljust(length, b"\xff"))
    stereo = np.empty(length * 2, dtype=np.int16)
    stereo[0::2] = left
    stereo[1::2] = right
    with wave.open(path, "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(stereo.tobytes())
