"""The agent speaking: one turn's clauses synthesised in order, each followed by a Twilio mark, and
what the caller actually heard when a turn ends (whole, or cut short by a barge-in).

A turn is persisted once, when it closes: its text is what was played (by marks and by the
pacer's playback clock), with the latency of each stage measured from the end of the caller's
speech.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from aybiza.core import tracing
from calls.models import Outcome, Role
from calls.realtime.chunker import ClauseChunker
from calls.realtime.opening_audio import keep_clause
from calls.realtime.pacer import BYTES_PER_S

if TYPE_CHECKING:
    from calls.realtime.session import CallSession

PLAYBACK_GRACE_S = 1.5  # how long past the expected end of audio to wait for the last mark
# Turns whose clauses may come prepared (calls/realtime/opening_audio.py).
OPENING_KINDS = frozenset({"greeting", "consent", "voicemail"})


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
    usage: dict[str, Any] = field(default_factory=dict)  # tokens; with routing, model
    closed: bool = False



class Speaking:
    """CallSession's agent turns: speak lines, wait for playback, close and persist the turn."""

    async def _speak_lines(self, lines: list[str], *, kind: str, end_call: bool = False) -> None:
        turn = self._new_agent_turn(kind, None)
        turn.end_call = end_call
        speaker = Speaker(self, turn)
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
            self._provider_failed("tts", exc)
            if end_call:
                self._end(self._pending_outcome or Outcome.ERROR, kind)
            return
        await self._finish_turn(turn)

    async def _finish_turn(self, turn: AgentTurn) -> None:
        """Wait until the caller heard the whole turn, persist it, then act on its ending."""
        turn.generated_all = True
        while turn.segments and not turn.segments[-1].played:
            expected = max(0, turn.segments[-1].end - self._outbound.played_bytes(self._now()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(turn.playback_done.wait(),
                                       expected / BYTES_PER_S + PLAYBACK_GRACE_S)
            if not self._outbound.paused:  # held by caller speech: the rest is still to play
                break
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
        if tracing.enabled():  # once a turn, from the times above: never on the media path
            tracing.record_turn(
                self.call_span, index=turn.index, kind=turn.kind, interrupted=interrupted,
                times={"caller_end": base, "stt_final": turn.stt_final_t,
                       "first_token": turn.first_token_t, "first_audio": turn.first_audio_t,
                       "first_frame": first_frame_t},
                end_t=now, usage=turn.usage, clock=now)

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

    def _agent_is_audible_or_pending(self) -> bool:
        turn = self._agent_turn
        if turn is None or turn.closed:
            return False
        if not self._outbound.is_idle:
            return True
        return self._outbound.played_bytes(self._now()) < self._outbound.total_sent


class Speaker:
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

    async def _synthesize(self, text: str) -> bool:
        """Queue the clause's audio; True when it came prepared (nothing synthesised)."""
        session, turn = self._session, self.turn
        opening = turn.kind in OPENING_KINDS
        prepared = session.config.opening_audio.get(text) if opening else None
        if prepared:
            turn.first_audio_t = turn.first_audio_t or session._now()
            session._outbound.enqueue(prepared)
            return True
        made = bytearray() if opening else None
        async for audio in session._tts.synthesize(text, session.config.tts_options):
            if turn.first_audio_t is None:
                turn.first_audio_t = session._now()
            session._outbound.enqueue(audio)
            if made is not None:
                made += audio
        provider, voice, language = session.config.opening_audio_key
        if (made and text in session.config.opening_to_keep
                and active_name(session._tts) == provider
                and session.config.tts_options.voice == voice):  # not a backup's voice
            # The next call opens with it at once (kept off the event loop, once per clause).
            session._spawn(asyncio.to_thread(
                keep_clause, provider=provider, voice=voice, language=language, clause=text,
                audio=bytes(made)), "keep-opening-audio")
        return False

    async def _run(self) -> None:
        session, turn = self._session, self.turn
        outbound = session._outbound
        while (text := await self._queue.get()) is not None:
            start = outbound.total_enqueued
            try:
                prepared = await self._synthesize(text)
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
                prepared = await self._synthesize(text)
            if not prepared:  # prepared audio was paid for once, when it was made
                session.costs.add_tts(active_name(session._tts), characters=len(text),
                                      audio_bytes=outbound.total_enqueued - start)
            if outbound.total_enqueued == start:
                continue  # nothing audible for this clause
            session._mark_seq += 1
            mark = f"t{turn.index}.{session._mark_seq}"
            outbound.enqueue_mark(mark)
            segment = Segment(mark=mark, text=text, start=start, end=outbound.total_enqueued)
            turn.segments.append(segment)
            session._marks[mark] = (turn, segment)


def active_name(provider: object) -> str:
    """The vendor serving now (a failover chain may have switched)."""
    return getattr(provider, "active_name", None) or getattr(provider, "name", "unknown")


def _ms_between(start: float | None, end: float | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, int((end - start) * 1000))

