"""A CallSession wired to in-memory parts, driven frame by frame in real time.

The providers here are tiny deterministic doubles for the session's own logic; provider behaviour
is tested against each provider (and the whole stack through the consumer and daphne).
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from calls.realtime.pacer import FRAME_BYTES, Pacer
from calls.realtime.providers.llm.base import Conversation, LLMProvider, ToolSpec
from calls.realtime.providers.stt.base import STTOptions, STTProvider, STTStream, Transcript
from calls.realtime.providers.tts.base import TTSOptions, TTSProvider
from calls.realtime.serializers.twilio import OutboundEncoder
from calls.realtime.session import CallSession, SessionConfig

SPEECH = b"\x10" * FRAME_BYTES
SILENCE = b"\xff" * FRAME_BYTES


# Speech the detector calls faint: a word's fading tail, the detector's hangover (vad.py).
FAINT_SPEECH = b"\x7e" * FRAME_BYTES


class EnergyVAD:
    """Speech = most samples are not µ-law zero (0xFF / 0x7F); `FAINT_SPEECH` is faint."""

    faint = False

    def feed(self, ulaw_frame: bytes) -> bool:
        quiet = ulaw_frame.count(b"\xff") + ulaw_frame.count(b"\x7f")
        self.faint = ulaw_frame == FAINT_SPEECH
        return quiet < len(ulaw_frame) // 2


class ScriptedSTTStream(STTStream):
    def __init__(self, lines: list[str], fail: bool = False) -> None:
        self.lines = lines
        self.fail = fail
        self.frames = 0
        self.queue: asyncio.Queue[Transcript | None] = asyncio.Queue()
        self.closed = False
        self.expected: list[tuple[str, ...]] = []  # each `expect` the session made

    def feed(self, ulaw: bytes) -> None:
        self.frames += 1

    def expect(self, phrases) -> None:
        self.expected.append(tuple(phrases))

    def finalize(self) -> None:
        if self.fail:
            self.queue.put_nowait(None)
            return
        text = self.lines.pop(0) if self.lines else ""
        self.queue.put_nowait(Transcript(text=text, is_final=True, speech_final=True,
                                         confidence=0.9))

    async def transcripts(self) -> AsyncIterator[Transcript]:
        while True:
            item = await self.queue.get()
            if item is None:
                raise RuntimeError("recogniser crashed")
            yield item

    async def aclose(self) -> None:
        self.closed = True


class ScriptedSTT(STTProvider):
    def __init__(self, lines: list[str], fail: bool = False) -> None:
        self.stream = ScriptedSTTStream(list(lines), fail)

    async def open_stream(self, options: STTOptions) -> STTStream:
        return self.stream


class WordTTS(TTSProvider):
    """100 ms of audio per word, in 50 ms chunks."""

    def __init__(self) -> None:
        self.spoken: list[str] = []

    async def synthesize(self, text: str, options: TTSOptions) -> AsyncIterator[bytes]:
        self.spoken.append(text)
        for _ in range(len(text.split()) * 2):
            await asyncio.sleep(0)
            yield b"\x22" * 400


@dataclass
class MemoryStore:
    turns: dict[int, dict[str, Any]] = field(default_factory=dict)
    events: list[tuple[str, dict]] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    kept_for_resume: list[dict] | None = None
    closed: dict[str, Any] | None = None

    def save_turn(self, *, index: int, role: str, text: str, **fields: Any) -> None:
        self.turns[index] = {"role": role, "text": text, **fields}

    def record_event(self, type: str, payload: dict | None = None,
                     offset_ms: int | None = None) -> None:
        self.events.append((type, payload or {}))

    async def close(self, *, outcome: str, metrics: dict, recording_path=None,
                    cost=None) -> None:
        self.closed = {"outcome": outcome, "metrics": metrics, "cost": cost}

    def remember(self, *, key: str, value: str) -> None:
        self.events.append(("remembered", {"key": key, "value": value}))

    def caller_asked_to_be_forgotten(self) -> None:
        self.events.append(("forgotten", {}))

    def note_state(self, state: str) -> None:
        self.states.append(state)

    def keep_for_resume(self, messages: list[dict]) -> None:
        self.kept_for_resume = messages

    def keep_for_transfer(self, messages: list[dict]) -> None:
        self.kept_for_transfer = messages

    def ordered_turns(self) -> list[dict[str, Any]]:
        return [self.turns[i] for i in sorted(self.turns)]


class TwilioWire:
    """Collects what the server sends and echoes marks the way Twilio does."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.session: CallSession | None = None
        self.echo_marks = True

    def send(self, text: str) -> None:
        message = json.loads(text)
        self.sent.append(message)
        if message["event"] == "mark" and self.echo_marks and self.session is not None:
            # Twilio echoes a mark after the audio before it has played (about the lead later).
            name = message["mark"]["name"]
            asyncio.get_running_loop().call_later(0.08, self.session.on_mark, name)
        if message["event"] == "clear" and self.session is not None:
            pass

    def events(self) -> list[str]:
        return [m["event"] for m in self.sent]

    def media_frames(self) -> list[bytes]:
        return [base64.b64decode(m["media"]["payload"]) for m in self.sent
                if m["event"] == "media"]


async def make_session(*, llm: LLMProvider, stt_lines: list[str] | None = None,
                       stt_fail: bool = False, greeting: str = "Hello there, how can I help?",
                       stt: STTProvider | None = None, tools: Any = None,
                       tool_specs: list[ToolSpec] | None = None,
                       before_start: Any = None, hangup: Any = None,
                       tts: TTSProvider | None = None, **config: Any,
                       ) -> tuple[CallSession, TwilioWire, MemoryStore, TTSProvider]:
    wire = TwilioWire()
    store = MemoryStore()
    tts = tts or WordTTS()
    encoder = OutboundEncoder("MZtest")
    pacer = Pacer.for_running_loop()
    outbound = pacer.outbound(encoder, wire.send)
    session = CallSession(
        config=SessionConfig(call_id=1, tenant_id=1, agent_id=1, greeting=greeting,
                             conversation=Conversation(system_prompt="test",
                                                       tools=list(tool_specs or [])),
                             end_of_turn_silence_ms=config.pop("end_of_turn_silence_ms", 200),
                             barge_in_min_speech_ms=config.pop("barge_in_min_speech_ms", 120),
                             **config),
        stt=stt or ScriptedSTT(stt_lines or [], stt_fail), llm=llm, tools=tools, tts=tts,
        vad=EnergyVAD(),
        outbound=outbound, send_control=wire.send, clear_message=encoder.clear(), store=store,
        pacer=pacer, hangup=hangup,
    )
    wire.session = session
    if before_start is not None:  # e.g. wire a failover chain's callback, as the consumer does
        before_start(session)
    await session.start()
    return session, wire, store, tts


async def feed(session: CallSession, frame: bytes, seconds: float) -> None:
    """Feed `frame` every 20 ms for `seconds`, like Twilio does."""
    loop = asyncio.get_running_loop()
    next_t = loop.time()
    for _ in range(int(seconds / 0.02)):
        session.on_audio(frame)
        next_t += 0.02
        await asyncio.sleep(max(0.0, next_t - loop.time()))
