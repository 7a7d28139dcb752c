"""What a live call needs from outside its state machine: the stores, recorder, VAD and tool
runner it is handed (protocols, so tests and the bench pass their own), and its configuration."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from calls.realtime.providers.llm.base import Conversation, ToolCall, ToolResult
from calls.realtime.providers.stt.base import STTOptions
from calls.realtime.providers.tts.base import TTSOptions


class VoiceActivity(Protocol):
    def feed(self, ulaw_frame: bytes) -> bool: ...


class Recorder(Protocol):
    paused: bool

    def add_inbound(self, ulaw: bytes) -> None: ...
    def add_outbound(self, ulaw: bytes) -> None: ...
    async def finish(self) -> str | None: ...


class Store(Protocol):
    def save_turn(self, *, index: int, role: str, text: str, **fields: Any) -> None: ...
    def record_event(self, type: str, payload: dict[str, Any] | None = None,
                     offset_ms: int | None = None) -> None: ...
    async def close(self, *, outcome: str, metrics: dict[str, Any],
                    recording_path: str | None = None,
                    cost: dict[str, Any] | None = None) -> None: ...
    # The caller's memory (memory/): written off the loop, like everything else.
    def remember(self, *, key: str, value: str) -> None: ...
    def caller_asked_to_be_forgotten(self) -> None: ...
    # What the call is doing now, for live dashboards (listening / thinking / speaking / tool).
    def note_state(self, state: str) -> None: ...
    # The conversation of a call that dropped mid-conversation, for a call back ([]: none).
    def keep_for_resume(self, messages: list[dict[str, Any]]) -> None: ...
    # The conversation when the caller went on hold for a warm transfer (calls/transfers.py).
    def keep_for_transfer(self, messages: list[dict[str, Any]]) -> None: ...


class Tools(Protocol):
    async def run(self, calls: list[ToolCall]) -> list[ToolResult]: ...


class Knowledge(Protocol):
    """The agent's documents (calls/realtime/knowledge.py): passages about the caller's words."""

    async def passages(self, text: str) -> list[str]: ...



@dataclass
class SessionConfig:
    """Everything a call needs from the database, loaded once when the stream starts."""

    call_id: int
    tenant_id: int
    agent_id: int
    conversation: Conversation
    greeting: str = ""
    # The greeting as spoken, line by line (a personal welcome, then the agent's greeting);
    # empty: the greeting in one line.
    greeting_lines: list[str] = field(default_factory=list)
    end_of_turn_silence_ms: int = 700
    # End the turn sooner when the caller's words sound finished, later when they plainly go on
    # (turn_taking.py); off: silence alone ends turns.
    smart_end_of_turn: bool = False
    barge_in_min_speech_ms: int = 250
    reprompt_after_s: float = 8.0
    hangup_after_s: float = 25.0
    max_call_seconds: float = 1800.0
    reprompt_text: str = "Are you still there?"
    # Recording policy: "off", "on" (disclosed first), "after_consent" (asked first).
    recording_mode: str = "off"
    recording_disclosure: str = ""
    consent_prompt: str = ""
    goodbye_text: str = "I haven't heard anything, so I'll end the call now. Goodbye!"
    stt_options: STTOptions = field(default_factory=STTOptions)
    tts_options: TTSOptions = field(default_factory=TTSOptions)
    tool_fillers: dict[str, str] = field(default_factory=dict)
    # The agent remembers callers and this caller may be remembered (memory/).
    remembers_caller: bool = False
    # The knowledge documents the call's version answers from (searched per caller turn).
    document_ids: list[int] = field(default_factory=list)
    # This call continues a dropped one (memory/working.py): that call's id.
    resumed_from_call_id: int | None = None
    # The index of this stream's first turn (after a warm transfer, the call's turns go on).
    first_turn_index: int = 0
    # Where this stream starts on the call's timeline (ms): after a warm transfer, the time
    # since the call's first stream began, so the turns' and events' offsets go on too.
    first_offset_ms: int = 0
    # Prepared audio of the opening's clauses (calls/realtime/opening_audio.py): clause → µ-law.
    opening_audio: dict[str, bytes] = field(default_factory=dict)
    # Clauses of the agent's own opening lines not prepared yet (never a caller's name): the
    # call keeps their audio once synthesised, under (provider, voice, language).
    opening_to_keep: frozenset[str] = frozenset()
    opening_audio_key: tuple[str, str, str] = ("", "", "")
    # Outbound calls: what to leave on an answering machine (empty: hang up), and the machine
    # result if Twilio reported it before the stream started.
    voicemail_message: str = ""
    answered_by: str = ""
    # Twilio was asked whether a person or a machine answered and has not said yet: the agent
    # holds its replies (calls/realtime/voicemail.py) rather than answer a machine's greeting.
    awaiting_machine_verdict: bool = False

