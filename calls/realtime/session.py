"""One live call: the state machine that listens, thinks and speaks, and the only place deciding.

Inbound is synchronous and cheap: the consumer hands each 20 ms frame to `on_audio`, which feeds
the VAD and the STT stream and counts. Everything slower runs in a few long-lived tasks per call
(transcripts, one agent turn at a time, the store's writer); the process-wide pacer sends the
audio and ticks `tick()` for timers. Control overtakes data: a barge-in drops the queued audio,
sends `clear` first and cancels the reply that produced it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from aybiza.core.spoken import luhn_valid, yes_no
from calls.models import Outcome, Role
from calls.realtime.call_control import END_CALL, GOODBYE_LINE
from calls.realtime.chunker import ClauseChunker
from calls.realtime.costs import CostMeter
from calls.realtime.pacer import BYTES_PER_S, FRAME_S, OutboundAudio, Pacer
from calls.realtime.providers.failover import auth_error_of
from calls.realtime.providers.llm.base import (
    Conversation,
    Done,
    LLMProvider,
    Message,
    TextDelta,
    ToolCall,
    ToolResult,
)
from calls.realtime.providers.stt.base import STTOptions, STTProvider, STTStream
from calls.realtime.providers.tts.base import TTSOptions, TTSProvider

logger = logging.getLogger(__name__)

SPEECH_START_MS = 60  # voiced audio needed before we call it the caller speaking
STT_PREROLL_FRAMES = 20  # 400 ms of audio before speech was detected goes to the recogniser
DTMF_GAP_S = 1.5  # digits pressed closer than this form one input ("1 2 3 #")
MAX_TOOL_ROUNDS = 4
PLAYBACK_GRACE_S = 1.5  # how long past the expected end of audio to wait for the last mark
TURN_FILLER = "One moment, please."
SECURE_CAPTURE_TIMEOUT_S = 60.0
SECURE_CAPTURE_ATTEMPTS = 3
DEFAULT_SECURE_PROMPT = "Please enter the number on your keypad, then press the pound key."
# What the caller hears when a provider fails (never silence): once, asked to repeat; twice in a
# row, or when we cannot hear at all, handed to a person if the agent can transfer, else goodbye.
SORRY_REPEAT = "Sorry, I had a problem on my side. Could you say that again?"
CANNOT_HEAR = "I'm sorry, we're having a technical problem and I can't hear you right now."
CANNOT_ANSWER = "I'm sorry, we're having a technical problem on our side."
HANDING_OVER = "Let me put you through to a colleague."
CALL_BACK = "Please call back in a few minutes. Goodbye."
TRANSFER_TOOL = "transfer_call"


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


class Tools(Protocol):
    async def run(self, calls: list[ToolCall]) -> list[ToolResult]: ...


@dataclass
class SessionConfig:
    """Everything a call needs from the database, loaded once when the stream starts."""

    call_id: int
    tenant_id: int
    agent_id: int
    conversation: Conversation
    greeting: str = ""
    end_of_turn_silence_ms: int = 700
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


@dataclass
class Segment:
    """One spoken clause: its text and where its audio sits in the outbound byte stream."""

    mark: str
    text: str
    start: int
    end: int
    played: bool = False


@dataclass
class AgentTurn:
    index: int
    kind: str  # "reply", "greeting", "reprompt", "goodbye"
    caller_end_t: float | None
    stt_final_t: float | None = None
    first_token_t: float | None = None
    first_audio_t: float | None = None
    segments: list[Segment] = field(default_factory=list)
    generated_all: bool = False
    playback_done: asyncio.Event = field(default_factory=asyncio.Event)
    end_call: bool = False
    transfer_to: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    closed: bool = False


class CallSession:
    def __init__(
        self, *, config: SessionConfig, stt: STTProvider, llm: LLMProvider, tts: TTSProvider,
        vad: VoiceActivity, outbound: OutboundAudio, send_control: Callable[[str], None],
        clear_message: str, store: Store, tools: Tools | None = None,
        recorder: Recorder | None = None, hangup: Callable[[], Awaitable[None]] | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.config = config
        self.conversation = config.conversation
        self._stt_provider = stt
        self._llm = llm
        self._tts = tts
        self._vad = vad
        self._outbound = outbound
        self._send_control = send_control
        self._clear_message = clear_message
        self.store = store
        self._tools = tools
        self._recorder = recorder
        self._hangup = hangup
        self._pacer = pacer
        self._loop = asyncio.get_running_loop()
        self._now = self._loop.time
        self.t0 = self._now()

        self._stt: STTStream | None = None
        self._stt_open = False
        self._awaiting_final = False
        self._preroll: deque[bytes] = deque(maxlen=STT_PREROLL_FRAMES)
        self._tasks: set[asyncio.Task] = set()
        self._turn_task: asyncio.Task | None = None
        self._agent_turn: AgentTurn | None = None
        self._next_index = 0
        self._marks: dict[str, tuple[AgentTurn, Segment]] = {}
        self._mark_seq = 0

        # Caller speech tracking (per frame, in memory only).
        self._speech_frames = 0
        self._silence_frames = 0
        self._caller_speaking = False
        self._caller_start_t = 0.0
        self._caller_end_t = 0.0
        self._last_voice_t = 0.0
        self._barged_this_run = False
        self._caller_parts: list[str] = []
        self._caller_confidences: list[float] = []
        self._last_activity_t = self.t0
        self._reprompted = False
        self._dtmf: list[str] = []
        self._dtmf_last_t = 0.0

        self._awaiting_consent = False
        self._consent_asked_twice = False
        self._secure: SecureCapture | None = None
        self._tool_specs = {spec.name: spec for spec in self.conversation.tools}
        self.finished = False
        self._closed = asyncio.Event()
        self._ending = False
        self.outcome: str | None = None
        self._pending_outcome: str | None = None
        self.costs = CostMeter()
        self._failed_turns_in_a_row = 0
        self._auth_alerts: set[tuple[str, str]] = set()
        self._speaker: _Speaker | None = None
        self.metrics: dict[str, Any] = {
            "frames_in": 0, "frames_out": 0, "speech_frames": 0, "barge_ins": 0,
            "barge_in_reaction_ms": [], "turn_latency_ms": [], "dtmf_digits": 0,
            "provider_errors": 0, "reprompts": 0, "provider_failovers": 0,
            # Frames streamed to the recogniser (speech-gated: what a cloud STT bills).
            "stt_frames": 0,
        }
        self._stt_frames_billed = 0

    # --- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the STT stream, start listening; disclose recording, then greet."""
        if self._pacer is not None:
            self._pacer.register(self)
        try:
            self._stt = await self._stt_provider.open_stream(self.config.stt_options)
        except Exception as exc:
            # Every recogniser refused (a revoked key, an outage): the caller still hears us.
            # Nothing is recorded: the recording disclosure is not what they will hear.
            if self._recorder is not None:
                self._recorder.paused = True
            self._provider_failed("stt", exc)
            self._start_turn(self._give_up_politely(CANNOT_HEAR, greet=True))
            return
        self._spawn(self._transcripts(), "transcripts")
        config = self.config
        if config.recording_mode == "after_consent" and self._recorder is not None:
            # Nothing is recorded until the caller agrees.
            self._recorder.paused = True
            self._awaiting_consent = True
            self._start_turn(self._speak_lines(
                [line for line in (config.recording_disclosure, config.consent_prompt) if line],
                kind="consent"))
            return
        opening = [config.greeting] if config.greeting else []
        if config.recording_mode == "on" and config.recording_disclosure:
            opening.insert(0, config.recording_disclosure)
            self._consent(granted=True, method="implicit")
        self._greet(opening)

    def _greet(self, lines: list[str]) -> None:
        if self.config.greeting:
            self.conversation.messages.append(Message(role="assistant",
                                                      text=self.config.greeting))
        if lines:
            self._start_turn(self._speak_lines(lines, kind="greeting"))

    def _consent(self, *, granted: bool, method: str) -> None:
        record = getattr(self.store, "record_consent", None)
        if record is not None:
            disclosure = " ".join(line for line in (self.config.recording_disclosure,
                                                    self.config.consent_prompt) if line)
            record(kind="recording", granted=granted, method=method, disclosure_text=disclosure)

    def _answer_consent(self, text: str) -> None:
        """The caller's answer to the recording question: yes, no, or unclear (asked once)."""
        answer = consent_answer(text)
        if answer is None and not self._consent_asked_twice:
            self._consent_asked_twice = True
            self._start_turn(self._speak_lines(
                ["Sorry, I didn't catch that. " + self.config.consent_prompt], kind="consent"))
            return
        granted = bool(answer)
        self._awaiting_consent = False
        self._consent(granted=granted, method="dtmf" if text.startswith("[DTMF") else "speech")
        if granted and self._recorder is not None:
            self._recorder.paused = False
        lead = "Thank you." if granted else "No problem, this call will not be recorded."
        self._greet([lead, self.config.greeting] if self.config.greeting else [lead])

    def ending_because(self, outcome: str) -> None:
        """Whatever closes the call next records `outcome` (unless one is already pending)."""
        self._pending_outcome = self._pending_outcome or outcome

    async def finish(self, outcome: str) -> None:
        """Close everything and persist what happened. Idempotent; first outcome wins."""
        if self.finished:
            if asyncio.current_task() not in self._tasks:
                await self._closed.wait()
            return
        self.finished = True
        self.outcome = self._pending_outcome or outcome
        if self._pacer is not None:
            self._pacer.unregister(self)
            self._pacer.release(self._outbound)
        turn = self._agent_turn
        if turn is not None and not turn.closed:
            self._close_agent_turn(turn, interrupted=not self._turn_fully_played(turn))
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()
        for task in list(self._tasks):
            if task is not current:
                with contextlib.suppress(BaseException):
                    await task
        self._flush_caller_turn_on_exit()
        for closer in (self._stt.aclose() if self._stt else None, self._tts.aclose()):
            if closer is not None:
                try:
                    await closer
                except Exception:
                    logger.exception("Provider close failed")
        recording_path = None
        if self._recorder is not None:
            try:
                recording_path = await self._recorder.finish()
            except Exception:
                logger.exception("Recording failed for call %s", self.config.call_id)
        self.metrics["frames_out"] = self._outbound.total_sent // 160
        self._bill_stt(_active_name(self._stt_provider))
        try:
            await self.store.close(outcome=self.outcome, metrics=self._metrics_summary(),
                                    recording_path=recording_path, cost=self.costs.estimate())
        finally:
            self._closed.set()
            # Always: an empty or failed recording still holds temporary files.
            if self._recorder is not None and hasattr(self._recorder, "discard"):
                with contextlib.suppress(OSError):
                    self._recorder.discard()

    # --- inbound (sync, per frame) --------------------------------------------------------------
    def on_audio(self, ulaw: bytes) -> None:
        """One inbound frame. O(1): VAD, STT feed, counters; rare transitions spawn work."""
        if self.finished:
            return
        metrics = self.metrics
        metrics["frames_in"] += 1
        if self._recorder is not None:
            self._recorder.add_inbound(ulaw)
        # The recogniser hears the caller's turns (with a short pre-roll), not the silences
        # between them: less CPU, fewer hallucinated words, lower cloud STT bills.
        if self._stt_open:
            self._stt.feed(ulaw)
            metrics["stt_frames"] += 1
        else:
            self._preroll.append(ulaw)
        if self._vad.feed(ulaw):
            metrics["speech_frames"] += 1
            self._speech_frames += 1
            self._silence_frames = 0
            now = self._now()
            self._last_voice_t = now
            speech_ms = self._speech_frames * 20
            if not self._caller_speaking and speech_ms >= SPEECH_START_MS:
                self._caller_speaking = True
                self._caller_start_t = now - speech_ms / 1000
                self._barged_this_run = False
                if self._secure is None:  # spoken card digits must not reach a transcript
                    self._open_stt()
            if (not self._barged_this_run and speech_ms >= self.config.barge_in_min_speech_ms
                    and self._secure is None and self._agent_is_audible_or_pending()):
                self._barged_this_run = True
                self._barge_in(now, speech_start_t=now - speech_ms / 1000)
        else:
            self._silence_frames += 1
            if self._silence_frames >= 2:  # a lone unvoiced frame doesn't end a speech run
                self._speech_frames = 0
            if (self._caller_speaking
                    and self._silence_frames * 20 >= self.config.end_of_turn_silence_ms):
                self._caller_speaking = False
                self._caller_end_t = self._last_voice_t
                self._last_activity_t = self._now()
                if self._stt_open:
                    self._stt_open = False
                    self._awaiting_final = True  # the next final result ends the turn
                    self._stt.finalize()

    def _open_stt(self) -> None:
        """Caller speech began: hand the recogniser the pre-roll, then every frame."""
        stt = self._stt
        if stt is None or self._stt_open:
            return
        self._stt_open = True
        self.metrics["stt_frames"] += len(self._preroll)
        for frame in self._preroll:
            stt.feed(frame)
        self._preroll.clear()

    def on_dtmf(self, digit: str) -> None:
        if self.finished:
            return
        if self._secure is not None:
            self._secure.key(digit)  # only to the payment tool: no event, turn or log
            return
        now = self._now()
        self.metrics["dtmf_digits"] += 1
        self.store.record_event("dtmf", {"digit": digit}, self._offset_ms(now))
        self._last_activity_t = now
        if self._agent_is_audible_or_pending():
            self._barge_in(now, speech_start_t=now)
        self._dtmf.append(digit)
        self._dtmf_last_t = now
        if digit == "#":
            self._flush_dtmf()

    def on_mark(self, name: str) -> None:
        entry = self._marks.pop(name, None)
        if entry is None:
            return  # unknown, or dropped by a clear (Twilio echoes those too)
        turn, segment = entry
        segment.played = True
        if turn.generated_all and turn.segments and turn.segments[-1] is segment:
            turn.playback_done.set()

    def on_provider_failover(self, kind: str, from_name: str, to_name: str,
                             error: BaseException) -> None:
        """A provider chain switched vendors mid-call: record it; fill the silence."""
        self.metrics["provider_failovers"] += 1
        if kind == "stt":  # the audio streamed so far was billed by the one that failed
            self._bill_stt(from_name)
        at = self._offset_ms(self._now())
        self.store.record_event("provider_failover", {"kind": kind, "from": from_name,
                                                      "to": to_name, "error": str(error)[:300]},
                                at)
        self._alert_if_auth(kind, error, at)
        speaker = self._speaker
        if kind in ("llm", "tts") and speaker is not None and not speaker.turn.segments:
            speaker.say(TURN_FILLER)

    def on_tool_result(self, message: dict[str, Any]) -> None:
        on_result = getattr(self._tools, "on_result", None)
        if on_result is not None:
            on_result(message)

    def tick(self, now: float) -> None:
        """Timers, every 250 ms from the pacer: DTMF gaps, silence, maximum call length."""
        if self.finished:
            return
        if self._dtmf and now - self._dtmf_last_t >= DTMF_GAP_S:
            self._flush_dtmf()
        if now - self.t0 >= self.config.max_call_seconds:
            self._end(Outcome.MAX_DURATION, "max_duration")
            return
        busy = (self._caller_speaking or self._turn_running() or self._caller_parts
                or self._dtmf)
        if busy:
            return
        silent_for = now - self._last_activity_t
        if silent_for >= self.config.hangup_after_s:
            self._pending_outcome = Outcome.NO_INPUT
            self._start_turn(self._speak_lines([self.config.goodbye_text], kind="goodbye",
                                               end_call=True))
        elif silent_for >= self.config.reprompt_after_s and not self._reprompted:
            self._reprompted = True
            self.metrics["reprompts"] += 1
            self._start_turn(self._speak_lines([self.config.reprompt_text], kind="reprompt"))

    # --- caller turns ---------------------------------------------------------------------------
    async def _transcripts(self) -> None:
        assert self._stt is not None
        try:
            async for result in self._stt.transcripts():
                if result.is_final and result.text.strip():
                    self._caller_parts.append(result.text.strip())
                    if result.confidence is not None:
                        self._caller_confidences.append(result.confidence)
                ended = (result.speech_final or result.utterance_end
                         or (result.is_final and self._awaiting_final))
                if ended:
                    self._awaiting_final = False
                    if self._caller_parts:
                        self._caller_turn_complete()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception("STT failed on call %s", self.config.call_id)
            self._provider_failed("stt", exc)
            self._stt_open = False
            self._start_turn(self._give_up_politely(CANNOT_HEAR))

    def _caller_turn_complete(self) -> None:
        if self._secure is not None:  # words said during keypad entry are never kept
            self._caller_parts.clear()
            self._caller_confidences.clear()
            return
        now = self._now()
        text = " ".join(self._caller_parts)
        confidence = (sum(self._caller_confidences) / len(self._caller_confidences)
                      if self._caller_confidences else None)
        self._caller_parts.clear()
        self._caller_confidences.clear()
        end_t = self._caller_end_t if self._caller_end_t >= self._caller_start_t else now
        self._save_caller_turn(text, self._caller_start_t, end_t, confidence)
        self._last_activity_t = now
        self._reprompted = False
        self._reply(text, caller_end_t=end_t, stt_final_t=now)

    def _flush_dtmf(self) -> None:
        digits = "".join(self._dtmf)
        self._dtmf.clear()
        if not digits:
            return
        now = self._now()
        text = f"[DTMF {digits}]"
        self._save_caller_turn(text, now, now, None)
        self._reply(text, caller_end_t=now, stt_final_t=now)

    def _save_caller_turn(self, text: str, start_t: float, end_t: float,
                          confidence: float | None) -> None:
        index = self._take_index()
        self.store.save_turn(index=index, role=Role.CALLER, text=text,
                              start_ms=self._offset_ms(start_t), end_ms=self._offset_ms(end_t),
                              confidence=confidence)

    def _flush_caller_turn_on_exit(self) -> None:
        # Words recognised but not yet answered when the call ended are still the caller's turn.
        if self._caller_parts:
            now = self._now()
            self._save_caller_turn(" ".join(self._caller_parts), self._caller_start_t, now, None)
            self._caller_parts.clear()

    # --- agent turns ----------------------------------------------------------------------------
    def _reply(self, caller_text: str, *, caller_end_t: float, stt_final_t: float) -> None:
        if self._awaiting_consent:
            self._answer_consent(caller_text)
            return
        self.conversation.messages.append(Message(role="user", text=caller_text))
        self._start_turn(self._generate_reply(caller_end_t, stt_final_t))

    def _start_turn(self, coro) -> None:
        """Run one agent turn at a time: a new one replaces (cancels) the running one."""
        previous = self._turn_task
        if previous is not None and not previous.done():
            previous.cancel()
        self._turn_task = self._spawn(self._after(previous, coro), "agent-turn")

    async def _after(self, previous: asyncio.Task | None, coro) -> None:
        if previous is not None:
            with contextlib.suppress(BaseException):
                await previous
        await coro

    async def _generate_reply(self, caller_end_t: float, stt_final_t: float) -> None:
        turn = self._new_agent_turn("reply", caller_end_t)
        turn.stt_final_t = stt_final_t
        speaker = _Speaker(self, turn)
        try:
            for _round in range(MAX_TOOL_ROUNDS + 1):
                chunker = ClauseChunker()
                said: list[str] = []
                tool_calls: list[ToolCall] = []
                done = Done()
                async for event in self._llm.respond(self.conversation):
                    if isinstance(event, TextDelta):
                        if turn.first_token_t is None:
                            turn.first_token_t = self._now()
                        said.append(event.text)
                        for clause in chunker.push(event.text):
                            speaker.say(clause)
                    elif isinstance(event, ToolCall):
                        tool_calls.append(event)
                    elif isinstance(event, Done):
                        done = event
                for clause in chunker.flush():
                    speaker.say(clause)
                _add_usage(turn.usage, done)
                self.costs.add_llm(_active_name(self._llm), done.usage)
                self.conversation.messages.append(
                    Message(role="assistant", text="".join(said).strip(), tool_calls=tool_calls))
                turn.end_call = turn.end_call or done.end_call
                turn.transfer_to = turn.transfer_to or done.transfer_to
                if not tool_calls:
                    break
                if all(call.name == END_CALL for call in tool_calls):
                    # Hanging up needs no second round: end once the goodbye has played.
                    turn.end_call = True
                    self.conversation.messages.append(Message(role="tool", tool_results=[
                        _hung_up(call) for call in tool_calls]))
                    if not "".join(said).strip():
                        speaker.say(GOODBYE_LINE)
                    break
                if any(call.name == END_CALL for call in tool_calls):
                    turn.end_call = True  # after the other tools' results are spoken
                if not "".join(said).strip():
                    speaker.say(self._filler_for(tool_calls))
                results = await self._run_tools(tool_calls)
                self.conversation.messages.append(Message(role="tool", tool_results=results))
            await speaker.finished()
        except asyncio.CancelledError:
            speaker.cancel()
            self._abandon_turn(turn)
            raise
        except Exception as exc:
            speaker.cancel()
            logger.exception("Agent turn failed on call %s", self.config.call_id)
            self._provider_failed("llm_or_tts", exc)
            if turn.segments:
                self._close_agent_turn(turn, interrupted=True)
            await self._recover_turn()
            return
        self._failed_turns_in_a_row = 0
        await self._finish_turn(turn)

    def _bill_stt(self, provider: str) -> None:
        """Charge the frames streamed since the last charge to `provider`."""
        frames = self.metrics["stt_frames"] - self._stt_frames_billed
        self._stt_frames_billed = self.metrics["stt_frames"]
        if frames:
            self.costs.add_stt(provider, seconds=frames * FRAME_S)

    # --- provider failures: never silence ---------------------------------------------------
    def _provider_failed(self, kind: str, exc: BaseException) -> None:
        self.metrics["provider_errors"] += 1
        at = self._offset_ms(self._now())
        self.store.record_event("provider_error", {"kind": kind, "error": str(exc)[:300]}, at)
        self._alert_if_auth(kind, exc, at)

    def _alert_if_auth(self, kind: str, exc: BaseException, at: int) -> None:
        """Refused credentials get their own event (once per vendor and call): the tenant's
        alerting picks it up through the event stream (calls.services.events_record)."""
        auth = auth_error_of(exc)
        if auth is None or (kind, auth.provider) in self._auth_alerts:
            return
        self._auth_alerts.add((kind, auth.provider))
        logger.error("%s provider %s refused our credentials on call %s (HTTP %s)", kind,
                     auth.provider, self.config.call_id, auth.status)
        self.store.record_event("provider_auth_failed", {
            "kind": kind, "provider": auth.provider, "status": auth.status}, at)

    async def _recover_turn(self) -> None:
        """A reply failed: apologise and ask again; twice in a row, hand over or say goodbye."""
        self._failed_turns_in_a_row += 1
        if self._failed_turns_in_a_row == 1:
            self.conversation.messages.append(Message(role="assistant", text=SORRY_REPEAT))
            await self._speak_lines([SORRY_REPEAT], kind="recovery")
            return
        await self._give_up_politely(CANNOT_ANSWER)

    async def _give_up_politely(self, apology: str, *, greet: bool = False) -> None:
        """Say what went wrong; transfer to a person when the agent has the tool, else ask the
        caller to call back and end the call (outcome `error`: it did not go as it should)."""
        self._pending_outcome = self._pending_outcome or Outcome.ERROR
        opening = [self.config.greeting] if greet and self.config.greeting else []
        if TRANSFER_TOOL in self._tool_specs and self._tools is not None:
            await self._speak_lines([*opening, apology, HANDING_OVER], kind="recovery")
            [result] = await self._run_tools([ToolCall(
                id="recovery-transfer", name=TRANSFER_TOOL,
                arguments={"summary": "The assistant had a technical problem during this call."})])
            content = result.content if isinstance(result.content, dict) else {}
            if not result.is_error and content.get("transferred"):
                self._end(Outcome.TRANSFERRED, "transfer_after_provider_error")
                return
        await self._speak_lines([*opening, apology, CALL_BACK], kind="recovery", end_call=True)

    async def _speak_lines(self, lines: list[str], *, kind: str, end_call: bool = False) -> None:
        turn = self._new_agent_turn(kind, None)
        turn.end_call = end_call
        speaker = _Speaker(self, turn)
        try:
            for line in lines:
                chunker = ClauseChunker()  # long lines start sounding sooner, clause by clause
                for clause in chunker.push(line) + chunker.flush():
                    speaker.say(clause)
            await speaker.finished()
        except asyncio.CancelledError:
            speaker.cancel()
            self._abandon_turn(turn)
            raise
        except Exception as exc:
            speaker.cancel()
            self.metrics["provider_errors"] += 1
            self.store.record_event("provider_error", {"kind": "tts", "error": str(exc)[:300]},
                                     self._offset_ms(self._now()))
            if end_call:
                self._end(self._pending_outcome or Outcome.ERROR, kind)
            return
        await self._finish_turn(turn)

    async def _finish_turn(self, turn: AgentTurn) -> None:
        """Wait until the caller heard the whole turn, persist it, then act on its ending."""
        turn.generated_all = True
        if turn.segments and not turn.segments[-1].played:
            expected = max(0, turn.segments[-1].end - self._outbound.played_bytes(self._now()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(turn.playback_done.wait(),
                                       expected / BYTES_PER_S + PLAYBACK_GRACE_S)
        self._close_agent_turn(turn, interrupted=False)
        self._last_activity_t = self._now()
        if turn.transfer_to:
            self.store.record_event("transfer_requested", {"to": turn.transfer_to},
                                     self._offset_ms(self._now()))
            self._end(Outcome.TRANSFERRED, "transfer")
        elif turn.end_call:
            self._end(self._pending_outcome or Outcome.AGENT_ENDED, "agent_ended")

    def _new_agent_turn(self, kind: str, caller_end_t: float | None) -> AgentTurn:
        turn = AgentTurn(index=self._take_index(), kind=kind, caller_end_t=caller_end_t)
        self._agent_turn = turn
        self._outbound.expect_first_frame()
        return turn

    def _close_agent_turn(self, turn: AgentTurn, *, interrupted: bool) -> None:
        if turn.closed:
            return
        turn.closed = True
        now = self._now()
        text = self._played_text(turn, now) if interrupted else " ".join(
            s.text for s in turn.segments)
        for segment in turn.segments:
            self._marks.pop(segment.mark, None)
        if self._agent_turn is turn:
            self._agent_turn = None
        if not turn.segments:
            return
        first_frame_t = self._outbound.first_frame_at
        start_t = first_frame_t or now
        base = turn.caller_end_t
        latency = {
            "stt_final_ms": _ms_between(base, turn.stt_final_t),
            "llm_first_token_ms": _ms_between(base, turn.first_token_t),
            "tts_first_audio_ms": _ms_between(base, turn.first_audio_t),
            "first_frame_ms": _ms_between(base, first_frame_t),
        }
        if latency["first_frame_ms"] is not None:
            self.metrics["turn_latency_ms"].append(latency["first_frame_ms"])
        self.store.save_turn(
            index=turn.index, role=Role.AGENT, text=text, start_ms=self._offset_ms(start_t),
            end_ms=self._offset_ms(now), interrupted=interrupted, usage=turn.usage,
            **latency,
        )

    def _abandon_turn(self, turn: AgentTurn) -> None:
        """A turn replaced before it finished: silence what it queued, keep what was heard."""
        if turn.closed:
            return
        if self._agent_is_audible_or_pending():
            self._outbound.clear()
            self._send_control(self._clear_message)
        self._close_agent_turn(turn, interrupted=True)

    def _played_text(self, turn: AgentTurn, now: float) -> str:
        """The words the caller actually heard: whole segments before the playback point and
        the heard fraction of the one being played."""
        played_bytes = self._outbound.played_bytes(now)
        words: list[str] = []
        for segment in turn.segments:
            if segment.played or played_bytes >= segment.end:
                words.append(segment.text)
                continue
            span = segment.end - segment.start
            heard = (played_bytes - segment.start) / span if span > 0 else 0.0
            if heard > 0:
                seg_words = segment.text.split()
                count = int(len(seg_words) * heard)
                if count:
                    words.append(" ".join(seg_words[:count]))
            break
        return " ".join(words)

    def _turn_fully_played(self, turn: AgentTurn) -> bool:
        if not turn.generated_all:
            return False
        played = self._outbound.played_bytes(self._now())
        return all(s.played or played >= s.end for s in turn.segments)

    # --- barge-in and ending --------------------------------------------------------------------
    def _agent_is_audible_or_pending(self) -> bool:
        turn = self._agent_turn
        if turn is None or turn.closed:
            return False
        if not self._outbound.is_idle:
            return True
        return self._outbound.played_bytes(self._now()) < self._outbound.total_sent

    def _barge_in(self, now: float, *, speech_start_t: float) -> None:
        turn = self._agent_turn
        self._outbound.clear()
        self._send_control(self._clear_message)
        reaction_ms = int((self._now() - speech_start_t) * 1000)
        self.metrics["barge_ins"] += 1
        self.metrics["barge_in_reaction_ms"].append(reaction_ms)
        if turn is not None:
            played = self._played_text(turn, now)
            self._close_agent_turn(turn, interrupted=True)
            self.store.record_event("barge_in", {"turn": turn.index, "heard": played,
                                                  "reaction_ms": reaction_ms},
                                     self._offset_ms(now))
            # The model must know what the caller actually heard.
            for message in reversed(self.conversation.messages):
                if message.role == "assistant":
                    message.text = played
                    break
        task = self._turn_task
        if task is not None and not task.done():
            task.cancel()

    def _end(self, outcome: str, reason: str) -> None:
        if self.finished or self._ending:
            return
        self._ending = True
        self._pending_outcome = self._pending_outcome or outcome
        self._spawn(self._hang_up(outcome, reason), "hangup")

    async def _hang_up(self, outcome: str, reason: str) -> None:
        self.store.record_event("call_ended_by_agent", {"reason": reason},
                                 self._offset_ms(self._now()))
        if self._hangup is not None:
            try:
                await self._hangup()
            except Exception:
                logger.exception("Hang-up failed on call %s", self.config.call_id)
        await self.finish(outcome)

    # --- helpers --------------------------------------------------------------------------------
    async def _run_tools(self, calls: list[ToolCall]) -> list[ToolResult]:
        now = self._now()
        self.store.record_event("tool_calls", {"calls": [{"id": c.id, "name": c.name}
                                                          for c in calls]}, self._offset_ms(now))
        if self._tools is None:
            return [ToolResult(c.id, c.name, "No tools are available on this call.", True)
                    for c in calls]
        refused: dict[str, ToolResult] = {}
        dispatch: list[ToolCall] = []
        for call in calls:
            if call.name == END_CALL:  # with other tools: they run, then the call ends
                refused[call.id] = _hung_up(call)
                continue
            spec = self._tool_specs.get(call.name)
            if spec is not None and spec.secure_argument:
                digits = await self._secure_capture(spec)
                if digits is None:
                    refused[call.id] = ToolResult(
                        call.id, call.name, "The caller did not key in a valid number, so "
                        "nothing was done.", is_error=True)
                    continue
                # A copy: the conversation's ToolCall (what any brain sees) never holds them.
                call = ToolCall(call.id, call.name,
                                {**call.arguments, spec.secure_argument: digits})
            dispatch.append(call)
        ran = {r.call_id: r for r in await self._tools.run(dispatch)} if dispatch else {}
        results = [refused.get(c.id) or ran[c.id] for c in calls]
        for result in results:
            content = result.content if isinstance(result.content, dict) else {}
            # Twilio ends our stream after a transfer or hang-up tool: say why before it does.
            if not result.is_error and content.get("transferred"):
                self._pending_outcome = Outcome.TRANSFERRED
            elif not result.is_error and content.get("ended"):
                self._pending_outcome = self._pending_outcome or Outcome.AGENT_ENDED
        self.store.record_event(
            "tool_results",
            {"results": [{"id": r.call_id, "name": r.name, "is_error": r.is_error}
                         for r in results]},
            self._offset_ms(self._now()))
        return results

    async def _secure_capture(self, spec) -> str | None:
        """PCI-safe keypad entry: recording paused, speech not transcribed, digits kept only
        in memory for the tool call. Returns the digits, or None after failed attempts."""
        recorder = self._recorder
        was_paused = recorder.paused if recorder is not None else True
        if recorder is not None:
            recorder.paused = True
        self._close_stt_for_capture()
        prompt = spec.secure_prompt or DEFAULT_SECURE_PROMPT
        self.store.record_event("secure_capture_started", {"argument": spec.secure_argument},
                                self._offset_ms(self._now()))
        outcome = "failed"
        try:
            for attempt in range(SECURE_CAPTURE_ATTEMPTS):
                self._secure = SecureCapture()
                speaker = self._speaker
                if speaker is not None:
                    speaker.say(prompt if attempt == 0
                                else "That number doesn't look right. " + prompt)
                try:
                    digits = await asyncio.wait_for(self._secure.done,
                                                    SECURE_CAPTURE_TIMEOUT_S)
                except TimeoutError:
                    outcome = "timeout"
                    return None
                if secure_digits_valid(spec.secure_argument, digits):
                    outcome = "captured"
                    return digits
            return None
        finally:
            self._secure = None
            if recorder is not None:
                recorder.paused = was_paused
            self.store.record_event("secure_capture_ended", {"outcome": outcome},
                                    self._offset_ms(self._now()))

    def _close_stt_for_capture(self) -> None:
        if self._stt_open:
            self._stt_open = False
            self._stt.finalize()
        self._caller_parts.clear()
        self._preroll.clear()

    def _filler_for(self, calls: list[ToolCall]) -> str:
        for call in calls:
            filler = self.config.tool_fillers.get(call.name)
            if filler:
                return filler
        return TURN_FILLER

    def _turn_running(self) -> bool:
        return self._turn_task is not None and not self._turn_task.done()

    def _take_index(self) -> int:
        index = self._next_index
        self._next_index += 1
        return index

    def _offset_ms(self, t: float) -> int:
        return max(0, int((t - self.t0) * 1000))

    def _spawn(self, coro, name: str) -> asyncio.Task:
        task = self._loop.create_task(coro, name=f"call-{self.config.call_id}-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _metrics_summary(self) -> dict[str, Any]:
        summary = dict(self.metrics)
        for key in ("barge_in_reaction_ms", "turn_latency_ms"):
            values = sorted(summary.pop(key))
            if values:
                summary[f"{key}_p50"] = values[len(values) // 2]
                summary[f"{key}_max"] = values[-1]
        summary["duration_s"] = round(self._now() - self.t0, 2)
        return summary


class _Speaker:
    """Speaks one agent turn's clauses in order: TTS → outbound queue, a mark after each."""

    def __init__(self, session: CallSession, turn: AgentTurn) -> None:
        self._session = session
        self.turn = turn
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._task = session._spawn(self._run(), f"speak-{turn.index}")
        session._speaker = self

    def say(self, text: str) -> None:
        if text.strip():
            self._queue.put_nowait(text.strip())

    async def finished(self) -> None:
        self._queue.put_nowait(None)
        await self._task

    def cancel(self) -> None:
        self._task.cancel()

    async def _synthesize(self, text: str) -> None:
        session, turn = self._session, self.turn
        async for audio in session._tts.synthesize(text, session.config.tts_options):
            if turn.first_audio_t is None:
                turn.first_audio_t = session._now()
            session._outbound.enqueue(audio)

    async def _run(self) -> None:
        session, turn = self._session, self.turn
        outbound = session._outbound
        while (text := await self._queue.get()) is not None:
            start = outbound.total_enqueued
            try:
                await self._synthesize(text)
            except Exception as exc:
                options = session.config.tts_options
                if outbound.total_enqueued != start or not options.voice:
                    raise
                # The agent's voice does not exist for its provider (a left-over name, a voice
                # not installed): the provider's default voice, for the rest of the call.
                session.config.tts_options = replace(options, voice="")
                session.store.record_event("voice_fallback", {
                    "voice": options.voice, "error": str(exc)[:300]},
                    session._offset_ms(session._now()))
                await self._synthesize(text)
            session.costs.add_tts(_active_name(session._tts), characters=len(text),
                                  audio_bytes=outbound.total_enqueued - start)
            if outbound.total_enqueued == start:
                continue  # nothing audible for this clause
            session._mark_seq += 1
            mark = f"t{turn.index}.{session._mark_seq}"
            outbound.enqueue_mark(mark)
            segment = Segment(mark=mark, text=text, start=start, end=outbound.total_enqueued)
            turn.segments.append(segment)
            session._marks[mark] = (turn, segment)


class SecureCapture:
    """Digits keyed during a secure step: '*' starts over, '#' submits."""

    def __init__(self) -> None:
        self._digits: list[str] = []
        self.done: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def key(self, digit: str) -> None:
        if self.done.done():
            return
        if digit == "#":
            self.done.set_result("".join(self._digits))
        elif digit == "*":
            self._digits.clear()
        elif digit.isdigit():
            self._digits.append(digit)


def secure_digits_valid(argument: str, digits: str) -> bool:
    """Plausible input for the argument: a card number passes Luhn, anything else is non-empty."""
    if not digits.isdigit():
        return False
    if "card" not in argument.lower():
        return True
    if not 12 <= len(digits) <= 19:
        return False
    return luhn_valid(digits)


def consent_answer(text: str) -> bool | None:
    """Yes (True), no (False) or unclear (None) from a spoken answer or `[DTMF 1]`/`[DTMF 2]`."""
    if text.startswith("[DTMF"):
        digits = text[6:-1].strip("#")
        return {"1": True, "2": False}.get(digits[:1])
    return yes_no(text)


def _active_name(provider: object) -> str:
    """The vendor serving now (a failover chain may have switched)."""
    return getattr(provider, "active_name", None) or getattr(provider, "name", "unknown")


def _ms_between(start: float | None, end: float | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, int((end - start) * 1000))


def _hung_up(call: ToolCall) -> ToolResult:
    return ToolResult(call.id, call.name, {"ended": True,
                                           "note": "The call ends after this reply is spoken."})


def _add_usage(total: dict[str, int], done: Done) -> None:
    usage = done.usage
    for key in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"):
        value = getattr(usage, key, 0) or 0
        if value:
            total[key] = total.get(key, 0) + value
    if usage.latency_ms is not None:  # the vendor's own time for the round(s) (Bedrock latencyMs)
        total["provider_latency_ms"] = total.get("provider_latency_ms", 0) + usage.latency_ms


__all__ = ["FRAME_S", "AgentTurn", "CallSession", "SessionConfig"]
