"""Turn-taking: who has the floor. Per 20 ms frame the VAD decides whether the caller speaks;
speech opens the recogniser (with a short pre-roll), enough of it while the agent is audible is a
barge-in, and a long enough silence ends the caller's turn, which the recogniser's final words
then complete. Keypad digits form a turn of their own.

Words-aware end of turn (the agent's `smart_end_of_turn`): once the recogniser's interim words
cover the caller's last sound, a sentence that sounds finished ends the turn after a short pause
and one that plainly goes on ("my number is five five five") waits longer than the agent's
silence (`turn_words.py`). With no words to judge by, the agent's silence ends the turn. A
caller who goes on moments after such an early answer began is finishing their sentence: the
answer is taken back and the whole sentence answered (`continuation.py`).

Overlap: when the recogniser reports words while the caller speaks, speech over the agent first
*holds* it (its audio pauses, nothing is dropped, no `clear`), and the words decide. Words that
only acknowledge ("uh-huh", "okay") or none at all (a cough, noise) let the agent resume where it
stopped once the caller is quiet again; any other words, or speech going on too long to be a
backchannel, make it a barge-in. A recogniser without interim words barges in at once.

`on_audio` is the hot path: synchronous, O(1), no I/O, no logging.
"""

from __future__ import annotations

import asyncio
import logging

from calls.models import Role
from calls.realtime.backchannel import interrupts, is_backchannel
from calls.realtime.providers.stt.base import Transcript
from calls.realtime.recovery import CANNOT_HEAR
from calls.realtime.turn_words import sounds_finished

logger = logging.getLogger("calls.realtime.session")

SPEECH_START_MS = 60  # voiced audio needed before we call it the caller speaking
STT_PREROLL_FRAMES = 20  # 400 ms of audio before speech was detected goes to the recogniser
DTMF_GAP_S = 1.5  # digits pressed closer than this form one input ("1 2 3 #")
# A held agent resumes after this much quiet with no interrupting words: enough for the
# recogniser's last interim to arrive, short enough to feel like a breath, not a stop.
HOLD_RESUME_SILENCE_MS = 360
# Speech over a held agent longer than this is an interruption whatever the words: backchannels
# are short ("mm-hmm" is about half a second).
HOLD_COMMIT_SPEECH_MS = 800
# Words-aware end of turn: finished-sounding words are answered after this much quiet (the
# recogniser's words for the last 200 ms chunk arrive in about this time); unfinished ones wait
# this many times the agent's end-of-turn silence.
FINISHED_WORDS_SILENCE_MS = 300
UNFINISHED_WORDS_SILENCE_FACTOR = 2


class TurnTaking:
    """CallSession's listening side: caller speech, keypad input, barge-in."""

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
        vad = self._vad
        if vad.feed(ulaw):
            metrics["speech_frames"] += 1
            self._speech_frames += 1
            self._silence_frames = 0
            now = self._now()
            # A faint frame (a word's fading tail, the detector's hangover) is speech for barging
            # in, but not the caller's voice: the turn's end counts from the last voice, and a
            # turn begins on voice.
            if vad.faint:
                self._quiet_frames += 1
            else:
                self._quiet_frames = 0
                self._last_voice_t = now
                # A verdict on the words before this sound no longer holds.
                self._voice_stt_frame = metrics["stt_frames"]
                self._end_of_turn_ms = self.config.end_of_turn_silence_ms
            speech_ms = self._speech_frames * 20
            if not self._caller_speaking and speech_ms >= SPEECH_START_MS and not vad.faint:
                self._caller_started(now - speech_ms / 1000)
            if self._holding:
                self._held_speech(now)
            elif (not self._barged_this_run and speech_ms >= self.config.barge_in_min_speech_ms
                    and self._secure is None and self._agent_is_audible_or_pending()):
                self._barged_this_run = True
                self._speech_over_agent(now, speech_start_t=now - speech_ms / 1000)
        else:
            self._silence_frames += 1
            self._quiet_frames += 1
            if self._silence_frames >= 2:  # a lone unvoiced frame doesn't end a speech run
                self._speech_frames = 0
            if self._holding and self._silence_frames * 20 >= HOLD_RESUME_SILENCE_MS:
                self._resume_agent()
        if self._caller_speaking and self._quiet_frames * 20 >= self._end_of_turn_ms:
            self._caller_stopped()

    def _caller_started(self, start_t: float) -> None:
        self._caller_speaking = True
        self._caller_start_t = start_t
        self._barged_this_run = False
        # Speech that starts over the agent is judged by its words (turn-end included).
        self._overlap_words = "" if self._agent_is_audible_or_pending() else None
        # Or it goes on with the sentence the agent began to answer (continuation.py).
        self._continuing = self._resumes_answered_turn(start_t)
        if self._secure is None:  # spoken card digits must not reach a transcript
            self._open_stt()

    def _caller_stopped(self) -> None:
        """Silence long enough to end the caller's turn: the recogniser's next final ends it."""
        self._caller_speaking = False
        self._speech_frames = 0  # a turn ended in faint speech: the next one starts afresh
        self._caller_end_t = self._last_voice_t
        # The turn's span as it ended: its words may arrive after the caller speaks again.
        self._stopped_span = (self._caller_start_t, self._last_voice_t)
        if self._end_of_turn_ms != self.config.end_of_turn_silence_ms:
            finished = self._end_of_turn_ms < self.config.end_of_turn_silence_ms
            self.metrics["turn_ends_finished_words" if finished
                         else "turn_ends_unfinished_words"] += 1
            self._end_of_turn_ms = self.config.end_of_turn_silence_ms
        self._last_activity_t = self._now()
        if self._stt_open:
            self._stt_open = False
            self._awaiting_final = True
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

    async def _transcripts(self) -> None:
        assert self._stt is not None
        try:
            async for result in self._stt.transcripts():
                if self._overlap_words is not None and result.text.strip():
                    self._judge_overlap(result.text.strip())
                elif not result.is_final and self.config.smart_end_of_turn:
                    self._judge_turn_end(result)
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
                    else:
                        self._stopped_span = None  # nothing was said: no turn to time
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception("STT failed on call %s", self.config.call_id)
            self._provider_failed("stt", exc)
            self._stt_open = False
            self._start_turn(self._give_up_politely(CANNOT_HEAR))

    def _judge_turn_end(self, result: Transcript) -> None:
        """Interim words: when they cover the caller's last sound, they set how much quiet ends
        the turn (and end it now if that much has passed). The best reading decides; when it
        sounds finished but another reading of the audio plainly goes on, the words are not
        sure and the agent's silence decides, as without them."""
        covered_ms = result.end_ms
        if (not self._caller_speaking or covered_ms is None
                or covered_ms < self._voice_stt_frame * 20):
            return
        # The words of the turn so far: interims after a final (Deepgram's is_final at a pause)
        # cover only what came after it, and the sentence can span both.
        before = " ".join(self._caller_parts)
        finished = sounds_finished(f"{before} {result.text}")
        if finished is None:
            return
        silence_ms = self.config.end_of_turn_silence_ms
        if not finished:
            self._end_of_turn_ms = silence_ms * UNFINISHED_WORDS_SILENCE_FACTOR
        elif any(sounds_finished(f"{before} {other}") is False for other in result.alternatives):
            self._end_of_turn_ms = silence_ms
        else:
            self._end_of_turn_ms = min(FINISHED_WORDS_SILENCE_MS, silence_ms)
        if self._quiet_frames * 20 >= self._end_of_turn_ms:
            self._caller_stopped()

    def _caller_turn_complete(self) -> None:
        span, self._stopped_span = self._stopped_span, None
        if self._secure is not None:  # words said during keypad entry are never kept
            self._caller_parts.clear()
            self._caller_confidences.clear()
            return
        if span is not None and self._caller_speaking and self.config.smart_end_of_turn:
            # The caller went on before this turn's words arrived: nothing has been answered,
            # so they begin the turn still being spoken (one sentence, one answer).
            self._caller_start_t = span[0]
            return
        now = self._now()
        text = " ".join(self._caller_parts)
        confidence = (sum(self._caller_confidences) / len(self._caller_confidences)
                      if self._caller_confidences else None)
        self._caller_parts.clear()
        self._caller_confidences.clear()
        overlapped, self._overlap_words = self._overlap_words is not None, None
        continuing, self._continuing = self._continuing, False
        if span is not None:
            start_t, end_t = span
        else:  # the recogniser ended the turn itself (Deepgram's endpointing)
            start_t = self._caller_start_t
            end_t = self._caller_end_t if self._caller_end_t >= start_t else now
        if continuing and self._continue_answered_turn(text, end_t, confidence, now):
            self._last_activity_t = now
            return
        if overlapped and not interrupts(text) and self._agent_is_audible_or_pending():
            # "Uh-huh" (or a cough heard as a word) while the agent talks: it keeps the floor,
            # and there is no turn to answer. The words stay in the call's events.
            self._resume_agent()
            self.metrics["backchannels"] += 1
            self.store.record_event("backchannel" if is_backchannel(text) else "overlap_ignored",
                                    {"text": text}, self._offset_ms(now))
            return
        index = self._save_caller_turn(text, start_t, end_t, confidence)
        self._last_activity_t = now
        self._reprompted = False
        message = self._reply(text, caller_end_t=end_t, stt_final_t=now)
        self._note_answered(index, message, start_t, end_t, confidence)

    def _flush_dtmf(self) -> None:
        digits = "".join(self._dtmf)
        self._dtmf.clear()
        if not digits:
            return
        now = self._now()
        text = f"[DTMF {digits}]"
        self._answered = None  # keys are not a sentence going on
        self._save_caller_turn(text, now, now, None)
        self._reply(text, caller_end_t=now, stt_final_t=now)

    def _save_caller_turn(self, text: str, start_t: float, end_t: float,
                          confidence: float | None) -> int:
        index = self._take_index()
        self.store.save_turn(index=index, role=Role.CALLER, text=text,
                              start_ms=self._offset_ms(start_t), end_ms=self._offset_ms(end_t),
                              confidence=confidence)
        return index

    def _flush_caller_turn_on_exit(self) -> None:
        # Words recognised but not yet answered when the call ended are still the caller's turn.
        if self._caller_parts:
            now = self._now()
            self._save_caller_turn(" ".join(self._caller_parts), self._caller_start_t, now, None)
            self._caller_parts.clear()

    def _speech_over_agent(self, now: float, *, speech_start_t: float) -> None:
        """Enough caller speech while the agent is audible: hold it if words will come to
        judge by, else it is a barge-in now."""
        if self._stt is not None and self._stt.hears_words_while_speaking:
            self._hold_agent(now, speech_start_t=speech_start_t)
        else:
            self._barge_in(now, speech_start_t=speech_start_t)

    def _held_speech(self, now: float) -> None:
        """One more voiced frame over the held agent: past a backchannel's length it interrupts."""
        self._hold_speech_frames += 1
        if self._hold_speech_frames * 20 >= HOLD_COMMIT_SPEECH_MS:
            self._barge_in(now, speech_start_t=self._hold_speech_start_t)

    def _hold_agent(self, now: float, *, speech_start_t: float) -> None:
        """Caller speech over the agent: pause its audio until their words say what it was."""
        if self._leaving_voicemail:
            return
        self._outbound.pause()
        self._holding = True
        self._hold_t = now
        self._hold_speech_start_t = speech_start_t
        self._hold_speech_frames = 0
        self._overlap_words = ""
        self.metrics["holds"] += 1
        # The agent falls silent now (after the ≤ 80 ms already at Twilio): that is the
        # reaction the caller hears, whether it turns out a barge-in or not.
        self._hold_reaction_ms = int((self._now() - speech_start_t) * 1000)

    def _judge_overlap(self, words: str) -> None:
        """Words heard over the agent: interrupting ones cut it, the rest wait for more."""
        if not interrupts(words) and not self._continuing:
            self._overlap_words = words
        elif self._holding:
            self._barge_in(self._now(), speech_start_t=self._hold_speech_start_t)
        elif self._agent_is_audible_or_pending():
            # Late words after a resume, or a short "no!" never held, still interrupt.
            self._barge_in(self._now(), speech_start_t=self._caller_start_t)

    def _resume_agent(self) -> None:
        """No interruption after all: the agent carries on from where its audio paused."""
        if not self._holding:
            return
        self._holding = False
        self._barged_this_run = False  # a second burst over the agent is judged afresh
        if not self._outbound.paused:
            return  # the held turn was replaced meanwhile (its audio already dropped)
        self._outbound.resume()
        now = self._now()
        self.metrics["resumes"] += 1
        turn = self._agent_turn
        self.store.record_event("agent_resumed", {
            "turn": turn.index if turn is not None else None,
            "paused_ms": int((now - self._hold_t) * 1000), "heard": self._overlap_words or ""},
            self._offset_ms(now))

    def _barge_in(self, now: float, *, speech_start_t: float) -> None:
        if self._leaving_voicemail:
            return  # a machine does not interrupt the message it records
        turn = self._agent_turn
        self._outbound.clear()
        self._send_control(self._clear_message)
        self._overlap_words = None  # what follows is a caller turn like any other
        if self._holding:  # the agent went quiet when the hold began
            self._holding = False
            reaction_ms = self._hold_reaction_ms
        else:
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
