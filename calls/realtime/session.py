"""One live call: the state machine that listens, thinks and speaks, and the only place deciding.

Read it as the call's story: `start` (consent, greeting) → per frame `on_audio` (turn-taking) →
a caller turn becomes `_reply` → `_generate_reply` (model rounds, tools, speech) → `finish`.
Each concept lives in its own module, mixed into `CallSession` so one object holds the state:

- `turn_taking.py`  caller speech, VAD, recogniser, keypad, barge-in (the per-frame hot path)
- `speaking.py`     agent turns: synthesis, marks, what the caller actually heard
- `tool_use.py`     tool rounds, built-in end_call, transfer/hang-up outcomes
- `secure_capture.py` PCI keypad entry for secure tool arguments
- `consent.py`      recording consent before the greeting
- `recovery.py`     provider failures: apologise, retry, hand over, never silence
- `ports.py`        what the session is handed: config, store, recorder, VAD, tools

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
import re
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aybiza.core.log_context import call_log_context
from calls import live_state
from calls.models import Outcome
from calls.realtime.audio import FRAME_BYTES
from calls.realtime.call_control import END_CALL, GOODBYE_LINE
from calls.realtime.chunker import ClauseChunker
from calls.realtime.consent import Consent
from calls.realtime.continuation import AnsweredTurn, TurnContinuation
from calls.realtime.costs import CostMeter, llm_usd
from calls.realtime.pacer import FRAME_S, OutboundAudio, Pacer
from calls.realtime.ports import (
    Knowledge,
    Recorder,
    SessionConfig,
    Store,
    Tools,
    VoiceActivity,
)
from calls.realtime.providers.llm.base import (
    Done,
    LLMProvider,
    Message,
    TextDelta,
    ToolCall,
    message_as_dict,
)
from calls.realtime.providers.stt.base import STTProvider, STTStream
from calls.realtime.providers.tts.base import TTSProvider
from calls.realtime.recovery import CANNOT_HEAR, Recovery
from calls.realtime.secure_capture import SecureCapture, SecureKeypad
from calls.realtime.speaking import AgentTurn, Segment, Speaker, Speaking, active_name
from calls.realtime.tool_use import TURN_FILLER, ToolUse, hung_up
from calls.realtime.turn_taking import DTMF_GAP_S, STT_PREROLL_FRAMES, TurnTaking
from calls.realtime.voicemail import MACHINE_RESULTS, AnsweringMachine

logger = logging.getLogger(__name__)

MAX_TOOL_ROUNDS = 4
# Ends that cut a conversation short, as opposed to the agent or the caller closing it.
RESUMABLE_OUTCOMES = frozenset({Outcome.CALLER_HUNG_UP, Outcome.DISCONNECTED, Outcome.ERROR,
                                Outcome.SERVER_SHUTDOWN})
ANYTHING_ELSE = re.compile(r"\banything else\b", re.IGNORECASE)  # a question that closes a task


class CallSession(TurnTaking, TurnContinuation, Speaking, ToolUse, SecureKeypad, Consent,
                  Recovery, AnsweringMachine):
    """One call's state; the mixins above hold the behaviour of each concept."""

    call_span = None  # the call's OpenTelemetry span, set by the consumer when tracing is on

    def __init__(
        self, *, config: SessionConfig, stt: STTProvider, llm: LLMProvider, tts: TTSProvider,
        vad: VoiceActivity, outbound: OutboundAudio, send_control: Callable[[str], None],
        clear_message: str, store: Store, tools: Tools | None = None,
        recorder: Recorder | None = None, hangup: Callable[[], Awaitable[None]] | None = None,
        pacer: Pacer | None = None, knowledge: Knowledge | None = None,
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
        self._knowledge = knowledge
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
        self._next_index = config.first_turn_index
        self._forgotten = False  # the caller asked to be forgotten on this call
        self._transfer_started = False  # the transfer tool was called (calls/transfers.py)
        self._log_context = call_log_context.get()  # bound by the consumer, if any
        self._marks: dict[str, tuple[AgentTurn, Segment]] = {}
        self._mark_seq = 0

        # Caller speech tracking (per frame, in memory only).
        self._speech_frames = 0
        self._silence_frames = 0
        self._quiet_frames = 0  # frames since the caller's last voice (faint speech is quiet)
        self._caller_speaking = False
        self._caller_start_t = 0.0
        self._caller_end_t = 0.0
        self._stopped_span: tuple[float, float] | None = None
        self._last_voice_t = 0.0
        self._barged_this_run = False
        # Words-aware end of turn: the quiet that ends this turn, and the recogniser's position
        # (frames fed) at the caller's last sound, which interim words must reach to judge it.
        self._end_of_turn_ms = config.end_of_turn_silence_ms
        self._voice_stt_frame = 0
        # Overlap (turn_taking.py): the agent held by caller speech, and the words heard over
        # it (None: this caller turn did not overlap the agent).
        self._holding = False
        self._hold_t = 0.0
        self._hold_speech_start_t = 0.0
        self._hold_speech_frames = 0
        self._hold_reaction_ms = 0
        self._overlap_words: str | None = None
        # Continuation (continuation.py): the caller turn being answered, while its answer can
        # be taken back; whether this caller speech goes on with it; how much of it was heard.
        self._answered: AnsweredTurn | None = None
        self._continuing = False
        self._continue_heard_s = 0.0
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
        self._speaker: Speaker | None = None
        self._running_tools = False
        self._awaiting_verdict = self.config.awaiting_machine_verdict  # voicemail.py
        self._shown_state = ""  # the live state last handed to the store (dashboards)
        self.metrics: dict[str, Any] = {
            "frames_in": 0, "frames_out": 0, "speech_frames": 0, "barge_ins": 0,
            "holds": 0, "resumes": 0, "backchannels": 0,
            # Answers taken back because the caller went on with their sentence.
            "turns_continued": 0,
            # Turns whose end the recogniser's words set (turn_taking.py).
            "turn_ends_finished_words": 0, "turn_ends_unfinished_words": 0,
            "barge_in_reaction_ms": [], "turn_latency_ms": [], "dtmf_digits": 0,
            "provider_errors": 0, "reprompts": 0, "provider_failovers": 0,
            # Frames streamed to the recogniser (speech-gated: what a cloud STT bills).
            "stt_frames": 0,
            # Time replies waited for machine detection's verdict (voicemail.py).
            "machine_verdict_wait_ms": 0,
        }
        self._stt_frames_billed = 0

    # --- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the STT stream, start listening; disclose recording, then greet."""
        if self._pacer is not None:
            self._pacer.register(self)
        if self.config.resumed_from_call_id is not None:  # the greeting says so (loader)
            self.store.record_event("resumed", {"from_call": self.config.resumed_from_call_id},
                                    0)
        # The opening plays while the recogniser connects: its audio is usually prepared
        # (calls/realtime/opening_audio.py), so the caller hears it at once.
        if self.config.answered_by in MACHINE_RESULTS:  # reported before the stream started
            self.on_answered_by(self.config.answered_by)
        else:
            self._open()
        try:
            self._stt = await self._stt_provider.open_stream(self.config.stt_options)
        except Exception as exc:
            # Every recogniser refused (a revoked key, an outage): the caller still hears us.
            # Nothing is recorded: the recording disclosure is not what they will hear.
            if self._recorder is not None:
                self._recorder.paused = True
            self._provider_failed("stt", exc)
            # After the opening already playing, not over it.
            self._turn_task = self._spawn(
                self._after(self._turn_task, self._give_up_politely(CANNOT_HEAR)), "agent-turn")
            return
        self._spawn(self._transcripts(), "transcripts")
        if self._caller_speaking:  # they spoke while it connected: hand it what they said
            self._open_stt()

    def _open(self) -> None:
        """Disclose recording (and ask consent), then greet."""
        config = self.config
        if config.recording_mode == "after_consent" and self._recorder is not None:
            # Nothing is recorded until the caller agrees.
            self._recorder.paused = True
            self._awaiting_consent = True
            self._start_turn(self._speak_lines(
                [line for line in (config.recording_disclosure, config.consent_prompt) if line],
                kind="consent"))
            return
        disclosed = config.recording_mode == "on" and bool(config.recording_disclosure)
        if disclosed:
            self._consent(granted=True, method="implicit")
        self._greet([config.recording_disclosure] if disclosed else [])

    def _greet(self, before: list[str]) -> None:
        """Speak `before` (a disclosure, an answer to the consent question), then the
        greeting, line by line as the loader split it."""
        config = self.config
        greeting = config.greeting_lines or ([config.greeting] if config.greeting else [])
        if config.greeting:
            self.conversation.messages.append(Message(role="assistant", text=config.greeting))
        if before or greeting:
            self._start_turn(self._speak_lines([*before, *greeting], kind="greeting"))

    async def wait_closed(self) -> None:
        """Until the call is closed and its record saved (whoever ended it)."""
        await self._closed.wait()

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
        self.store.keep_for_resume(self._conversation_to_resume())
        if self.outcome == Outcome.TRANSFERRED or self._transfer_started:
            # A warm transfer may bring the caller back to this conversation.
            self.store.keep_for_transfer([message_as_dict(m) for m in self.conversation.messages])
        await self._close_providers()
        recording_path = await self._finish_recording()
        self.metrics["frames_out"] = self._outbound.total_sent // FRAME_BYTES
        self._bill_stt(active_name(self._stt_provider))
        try:
            await self.store.close(outcome=self.outcome, metrics=self._metrics_summary(),
                                    recording_path=recording_path, cost=self.costs.estimate())
        finally:
            self._closed.set()
            # Always: an empty or failed recording still holds temporary files.
            if self._recorder is not None and hasattr(self._recorder, "discard"):
                with contextlib.suppress(OSError):
                    self._recorder.discard()

    async def _close_providers(self) -> None:
        for closer in (self._stt.aclose() if self._stt else None, self._tts.aclose()):
            if closer is not None:
                try:
                    await closer
                except Exception:
                    logger.exception("Provider close failed")

    async def _finish_recording(self) -> str | None:
        """The recording's stored path, or None (none made, or it failed: the call still closes)."""
        if self._recorder is None:
            return None
        try:
            return await self._recorder.finish()
        except Exception:
            logger.exception("Recording failed for call %s", self.config.call_id)
            return None

    # --- events from the stream and the pacer -------------------------------------------------

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
        if not busy:
            self._on_silence(now - self._last_activity_t)
        state = self.live_state()
        if state != self._shown_state:  # sampled here, so a call reports at most 4 a second
            self._shown_state = state
            self.store.note_state(state)

    def live_state(self) -> str:
        """What the call is doing for a dashboard: the caller talking or silence is
        "listening"; an agent turn is "thinking" until its audio starts, then "speaking"; a
        round of tools is "tool"."""
        if self._caller_speaking or not self._turn_running():
            return live_state.LISTENING
        if self._running_tools:
            return live_state.TOOL
        turn = self._agent_turn
        if turn is not None and turn.first_audio_t is not None:
            return live_state.SPEAKING
        return live_state.THINKING

    def _on_silence(self, silent_for: float) -> None:
        """Nobody has spoken for `silent_for` s: ask once if the caller is there, then hang up."""
        if silent_for >= self.config.hangup_after_s:
            self._pending_outcome = Outcome.NO_INPUT
            self._start_turn(self._speak_lines([self.config.goodbye_text], kind="goodbye",
                                               end_call=True))
        elif silent_for >= self.config.reprompt_after_s and not self._reprompted:
            self._reprompted = True
            self.metrics["reprompts"] += 1
            self._start_turn(self._speak_lines([self.config.reprompt_text], kind="reprompt"))

    # --- agent turns ----------------------------------------------------------------------------
    def _reply(self, caller_text: str, *, caller_end_t: float,
               stt_final_t: float) -> Message | None:
        """Answer the caller's words; the message they became (None: not a question to the
        agent's brain — a consent answer, or a machine's words)."""
        if self._leaving_voicemail:
            return None  # a machine's words: the message plays on
        if self._awaiting_consent:
            self._answer_consent(caller_text)
            return None
        message = Message(role="user", text=caller_text)
        self.conversation.messages.append(message)
        self._start_turn(self._generate_reply(caller_end_t, stt_final_t, message))
        return message

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

    async def _generate_reply(self, caller_end_t: float, stt_final_t: float,
                              message: Message | None = None) -> None:
        """Model rounds until the agent has answered: say its words clause by clause, run the
        tools it calls (a filler covers the wait), feed their results back, at most
        MAX_TOOL_ROUNDS times. The agent's documents are searched first (within a budget)."""
        await self._machine_verdict(caller_end_t)
        turn = self._new_agent_turn("reply", caller_end_t)
        turn.stt_final_t = stt_final_t
        speaker = Speaker(self, turn)
        try:
            if self._knowledge is not None and message is not None \
                    and not message.text.startswith("[DTMF"):
                message.passages = await self._knowledge.passages(message.text)
            for _round in range(MAX_TOOL_ROUNDS + 1):
                said, tool_calls = await self._model_round(turn, speaker)
                if not tool_calls:
                    break
                if all(call.name == END_CALL for call in tool_calls):
                    # Hanging up needs no second round: end once the goodbye has played.
                    turn.end_call = True
                    self.conversation.messages.append(Message(role="tool", tool_results=[
                        hung_up(call) for call in tool_calls]))
                    if not said:
                        speaker.say(GOODBYE_LINE)
                    break
                if any(call.name == END_CALL for call in tool_calls):
                    turn.end_call = True  # after the other tools' results are spoken
                if not said:
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

    async def _model_round(self, turn: AgentTurn, speaker: Speaker) -> tuple[str, list[ToolCall]]:
        """One model response, spoken as it streams: (what it said, the tools it called)."""
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
        provider = active_name(self._llm)
        provider = f"{provider}_fast" if done.tier == "fast" else provider
        self.costs.add_llm(provider, done.usage)
        if done.model:  # routing chose the model: the turn says which, why, and what it cost
            turn.usage["model"], turn.usage["route"] = done.model, done.route_reason
            turn.usage["llm_usd"] = round(turn.usage.get("llm_usd", 0.0)
                                          + llm_usd(provider, done.usage), 6)
        text = "".join(said).strip()
        self.conversation.messages.append(
            Message(role="assistant", text=text, tool_calls=tool_calls))
        turn.end_call = turn.end_call or done.end_call
        turn.transfer_to = turn.transfer_to or done.transfer_to
        if self._stt is not None:  # the answers the reply's question expects (or none)
            self._stt.expect(done.expects)
        return text, tool_calls

    def _bill_stt(self, provider: str) -> None:
        """Charge the frames streamed since the last charge to `provider`."""
        frames = self.metrics["stt_frames"] - self._stt_frames_billed
        self._stt_frames_billed = self.metrics["stt_frames"]
        if frames:
            self.costs.add_stt(provider, seconds=frames * FRAME_S)

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

    def _turn_running(self) -> bool:
        return self._turn_task is not None and not self._turn_task.done()

    def _take_index(self) -> int:
        index = self._next_index
        self._next_index += 1
        if self._log_context is not None:  # the turn this call's log lines now belong to
            self._log_context["turn"] = index
        return index

    def _offset_ms(self, t: float) -> int:
        return self.config.first_offset_ms + max(0, int((t - self.t0) * 1000))

    def _spawn(self, coro, name: str) -> asyncio.Task:
        task = self._loop.create_task(coro, name=f"call-{self.config.call_id}-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _conversation_to_resume(self) -> list[dict[str, Any]]:
        """The conversation, when the call dropped while the agent waited for the caller's
        answer to a question (a call back within the agent's window continues it); else []."""
        messages = self.conversation.messages
        if self._forgotten or not self.config.remembers_caller \
                or self.outcome not in RESUMABLE_OUTCOMES or not messages:
            return []
        last = messages[-1]
        if last.role != "assistant" or not last.text.rstrip().endswith("?") \
                or ANYTHING_ELSE.search(last.text) \
                or not any(message.role == "user" for message in messages):
            return []
        return [message_as_dict(message) for message in messages]

    def _metrics_summary(self) -> dict[str, Any]:
        summary = dict(self.metrics)
        for key in ("barge_in_reaction_ms", "turn_latency_ms"):
            values = sorted(summary.pop(key))
            if values:
                summary[f"{key}_p50"] = values[len(values) // 2]
                summary[f"{key}_max"] = values[-1]
        summary["duration_s"] = round(self._now() - self.t0, 2)
        return summary


def _add_usage(total: dict[str, int], done: Done) -> None:
    usage = done.usage
    for key in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"):
        value = getattr(usage, key, 0) or 0
        if value:
            total[key] = total.get(key, 0) + value
    if usage.latency_ms is not None:  # the vendor's own time for the round(s) (Bedrock latencyMs)
        total["provider_latency_ms"] = total.get("provider_latency_ms", 0) + usage.latency_ms


__all__ = ["AgentTurn", "CallSession", "Segment", "SessionConfig"]
