"""Taking an answer back when the caller was not done.

The words-aware end of turn answers a finished-sounding sentence after a short pause, and some
pauses only sound finished: "I want to book an appointment … for my daughter", or a last word
the recogniser heard wrong. When the caller goes on within moments of their last sound — before
the agent has said more than a word or two, too soon to be answering it — the agent stops, the
new words join the turn they continue (stored as one caller turn), and the agent answers the
whole sentence instead of its first half. Tools are never taken back: once the answer ran one,
the caller's next words are a turn of their own.

Only with the agent's `smart_end_of_turn`: with the fixed silence alone, a turn ends where it
always did (and `learning/quality/pauses.py` keeps that as the baseline it measures against).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from calls.models import Role
from calls.realtime.providers.llm.base import Message

# The caller's next speech continues their answered turn when it starts this soon after their
# last sound (people pause mid-sentence for up to a second or so to find a word) ...
CONTINUE_WITHIN_S = 1.5
# ... and the agent's answer has been audible for less than this: a caller who heard more is
# answering the agent, not finishing their sentence.
CONTINUE_HEARD_MAX_S = 1.0


@dataclass(slots=True)
class AnsweredTurn:
    """The caller turn the agent is answering, while its answer could still be taken back."""

    index: int
    message: Message
    start_t: float
    end_t: float
    confidences: list[float] = field(default_factory=list)


class TurnContinuation:
    """CallSession's second thoughts: the caller's turn goes on after the agent began to answer."""

    def _note_answered(self, index: int, message: Message | None, start_t: float, end_t: float,
                       confidence: float | None) -> None:
        self._answered = None
        if message is not None and self.config.smart_end_of_turn:
            self._answered = AnsweredTurn(index, message, start_t, end_t,
                                          [confidence] if confidence is not None else [])

    def _resumes_answered_turn(self, start_t: float) -> bool:
        """Caller speech starting at `start_t`: does it continue the turn being answered?"""
        answered = self._answered
        if answered is None or start_t - answered.end_t > CONTINUE_WITHIN_S:
            return False
        if not self._turn_running():
            return False  # the whole answer was heard: what follows is a new turn
        first_frame_t = self._outbound.first_frame_at
        self._continue_heard_s = max(0.0, start_t - first_frame_t) if first_frame_t else 0.0
        return self._continue_heard_s < CONTINUE_HEARD_MAX_S

    def _continue_answered_turn(self, text: str, end_t: float, confidence: float | None,
                                now: float) -> bool:
        """Join `text` to the answered turn and answer the whole, unless a tool already ran for
        it (then False: the words are a turn of their own)."""
        answered, self._answered = self._answered, None
        if answered is None:
            return False
        messages = self.conversation.messages
        at = next((i for i, m in enumerate(messages) if m is answered.message), None)
        if at is None or any(m.role == "tool" or m.tool_calls for m in messages[at + 1:]):
            return False
        if self._agent_is_audible_or_pending():
            self._barge_in(now, speech_start_t=self._caller_start_t)
        del messages[at + 1:]  # the answer taken back (what was heard of it stays stored)
        answered.message.text = f"{answered.message.text} {text}"
        if confidence is not None:
            answered.confidences.append(confidence)
        answered.end_t = end_t
        confidences = answered.confidences
        self.store.save_turn(
            index=answered.index, role=Role.CALLER, text=answered.message.text,
            start_ms=self._offset_ms(answered.start_t), end_ms=self._offset_ms(end_t),
            confidence=sum(confidences) / len(confidences) if confidences else None)
        self.metrics["turns_continued"] += 1
        self.store.record_event("turn_continued", {
            "turn": answered.index, "heard_ms": int(self._continue_heard_s * 1000)},
            self._offset_ms(now))
        self._answered = answered  # a third part may follow the same way
        self._start_turn(self._generate_reply(end_t, now, answered.message))
        return True
