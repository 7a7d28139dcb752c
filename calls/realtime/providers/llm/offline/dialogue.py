"""The offline brain's dialogue state: replay the caller's turns through `Turn.decide` to rebuild
the state (tool being filled, misunderstandings, a transfer offered) and decide the next reply."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from aybiza.core.spoken import YES_WORDS, yes_no
from calls.realtime.call_control import FORGET_CALLER
from calls.realtime.providers.llm.base import Conversation, Message
from calls.realtime.providers.llm.offline.intents import (
    BARE_NO,
    CANCEL,
    DTMF_ENTRY,
    FORGET_ME,
    GOODBYE,
    GREETING,
    REPEAT,
    THANKS,
    is_human_request,
)
from calls.realtime.providers.llm.offline.matching import (
    QUESTION_START,
    STRONG_MATCH,
    Index,
    best_match,
    index_of,
)
from calls.realtime.providers.llm.offline.memory import recall_line
from calls.realtime.providers.llm.offline.passages import passage_answer
from calls.realtime.providers.llm.offline.responses import (
    ANYTHING_ELSE,
    GOODBYE_LINE,
    OFFER_HUMAN_LINE,
    REPROMPT_LINE,
    TRANSFER_LINE,
    help_line,
    slot_question,
    speak_results,
    working_line,
)
from calls.realtime.providers.llm.offline.schema import (
    json_type,
    missing_arguments,
    required_arguments,
    schema_of,
)
from calls.realtime.providers.llm.offline.slots import Invalid, coerce, enum_values_in
from calls.realtime.providers.llm.offline.text import analyse, normalise

# Consecutive misunderstandings after which a human is offered.
MISSES_BEFORE_HUMAN = 2


@dataclass(frozen=True, slots=True)
class _Flow:
    """A tool being filled: which tool and the arguments collected so far."""

    tool: int
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _State:
    flow: _Flow | None = None
    misses: int = 0
    offered_human: bool = False


@dataclass(slots=True)
class _Reply:
    text: str = ""
    call: tuple[str, dict[str, Any]] | None = None
    call_id: str = ""
    end_call: bool = False
    transfer_to: str | None = None


class _Turn:
    """Decides the reply to one caller turn from the state the earlier turns left."""

    def __init__(self, conversation: Conversation, index: Index, heard_last: str,
                 passages: list[str] | None = None) -> None:
        self.conversation = conversation
        self.index = index
        self.heard_last = heard_last
        self.passages = passages or []  # the agent's documents about this turn's words

    def decide(self, state: _State, text: str) -> tuple[_Reply, _State]:
        dtmf_match = DTMF_ENTRY.fullmatch(text)
        dtmf = dtmf_match.group(1).rstrip("#") if dtmf_match else None
        if dtmf_match is None and not text.strip():
            return self._reprompt(state), state
        if dtmf is not None:
            return self._dtmf(state, dtmf)
        norm = normalise(text)
        if is_human_request(norm):
            return _Reply(TRANSFER_LINE, transfer_to="human"), _State()
        if FORGET_ME.search(norm):  # the session forgets them and files an erasure request
            return _Reply(call=(FORGET_CALLER, {})), state
        if GOODBYE.search(norm):
            return _Reply(GOODBYE_LINE, end_call=True), _State()
        if state.offered_human and len(norm.split()) <= 5:
            answer = yes_no(norm)
            if answer is True:
                return _Reply(TRANSFER_LINE, transfer_to="human"), _State()
            if answer is False:
                return self._declined_human(state)
        state = replace(state, offered_human=False)
        if REPEAT.search(norm):
            return _Reply(self._repeat_line(state)), state
        if state.flow is not None:
            return self._fill(state, state.flow, text, None)
        return self._idle(state, text, norm)

    # -- caller turns outside a tool flow ---------------------------------------------------

    def _idle(self, state: _State, text: str, norm: str) -> tuple[_Reply, _State]:
        understood = replace(state, misses=0)
        if THANKS.match(norm):
            return _Reply(f"You're welcome. {ANYTHING_ELSE}"), understood
        if GREETING.match(norm):
            return _Reply("Hello! How can I help you today?"), understood
        if BARE_NO.match(norm):
            # "No" after "anything else?" ends the call; elsewhere it just hands the floor back.
            if "anything else" in self.heard_last.lower():
                return _Reply(GOODBYE_LINE, end_call=True), _State()
            return _Reply("Okay. What else can I help you with?"), understood
        if norm in YES_WORDS:
            return _Reply("Sure, what can I help you with?"), understood
        recalled = recall_line(self.conversation, norm)
        if recalled:
            return _Reply(f"{recalled} {ANYTHING_ELSE}"), understood
        match = best_match(text, self.index)
        from_documents = passage_answer(self.passages)
        if match.kind == "knowledge" and (not from_documents or (
                match.score >= STRONG_MATCH and self._entry_covers(match.index, text))):
            return _Reply(self.conversation.knowledge[match.index][1]), understood
        if match.kind == "tool":
            return self._start_flow(understood, match.index, text)
        if from_documents:  # a passage shares the caller's words: better than a loose entry
            return _Reply(from_documents), understood
        return self._not_understood(state)

    def _entry_covers(self, entry: int, text: str) -> bool:
        """Whether a knowledge entry speaks of every topic word the caller said ("where can I
        park?" shares only "where" with "Where are you located?": a document passage about
        parking answers it better)."""
        said = {term for term in analyse(text).terms if not term.startswith("@")}
        question, answer = self.conversation.knowledge[entry]
        return said <= set(analyse(question).terms) | set(analyse(answer).terms)

    def _start_flow(self, state: _State, tool_index: int, text: str) -> tuple[_Reply, _State]:
        tool = self.conversation.tools[tool_index]
        defaults = {
            name: schema_of(tool, name)["default"]
            for name in required_arguments(tool) if "default" in schema_of(tool, name)
        }
        flow = _Flow(tool_index, enum_values_in(tool, text, defaults))
        return self._advance(state, flow, "Sure, I can help with that.")

    # -- slot filling -----------------------------------------------------------------------

    def _fill(
        self, state: _State, flow: _Flow, text: str, dtmf: str | None
    ) -> tuple[_Reply, _State]:
        tool = self.conversation.tools[flow.tool]
        if dtmf is None and CANCEL.match(normalise(text)):
            return _Reply(f"Okay, I've cancelled that. {ANYTHING_ELSE}"), _State()
        slot = missing_arguments(tool, flow.args)[0]
        schema = schema_of(tool, slot)
        value = coerce(schema, text, dtmf)
        question = slot_question(slot, schema)
        # A caller may ask something else mid-flow: answer it, then ask again.
        if dtmf is None and (
            isinstance(value, Invalid)
            or (json_type(schema) == "string" and QUESTION_START.match(normalise(text)))
        ):
            match = best_match(text, self.index)
            if match.kind == "knowledge" and match.score >= STRONG_MATCH:
                answer = self.conversation.knowledge[match.index][1]
                return _Reply(f"{answer} {question}"), replace(state, misses=0)
        if isinstance(value, Invalid):
            missed = replace(state, misses=state.misses + 1)
            if missed.misses >= MISSES_BEFORE_HUMAN:
                return _Reply(OFFER_HUMAN_LINE), replace(missed, offered_human=True)
            return _Reply(f"{value.hint} {question}"), missed
        flow = replace(flow, args={**flow.args, slot: value})
        return self._advance(replace(state, misses=0), flow, "Got it.")

    def _advance(self, state: _State, flow: _Flow, acknowledgement: str) -> tuple[_Reply, _State]:
        """Ask for the next missing argument, or call the tool once none is missing."""
        tool = self.conversation.tools[flow.tool]
        missing = missing_arguments(tool, flow.args)
        if missing:
            question = slot_question(missing[0], schema_of(tool, missing[0]))
            return _Reply(f"{acknowledgement} {question}"), replace(state, flow=flow)
        reply = _Reply(working_line(tool), call=(tool.name, dict(flow.args)))
        return reply, replace(state, flow=None)

    # -- key presses, misunderstandings, small talk ------------------------------------------

    def _dtmf(self, state: _State, digits: str) -> tuple[_Reply, _State]:
        if state.offered_human and digits in ("0", "1"):
            return _Reply(TRANSFER_LINE, transfer_to="human"), _State()
        if state.offered_human and digits == "2":
            return self._declined_human(state)
        state = replace(state, offered_human=False)
        if state.flow is not None and digits and "*" not in digits:
            tool = self.conversation.tools[state.flow.tool]
            kind = json_type(schema_of(tool, missing_arguments(tool, state.flow.args)[0]))
            if digits != "0" or kind in ("integer", "number"):
                return self._fill(state, state.flow, "", digits)
        if digits == "0":
            return _Reply(TRANSFER_LINE, transfer_to="human"), _State()
        if digits == "*":
            return _Reply(self._repeat_line(state)), state
        return self._not_understood(state)

    def _pending_question(self, state: _State) -> str:
        """The question for the argument being filled, or "" outside a tool flow."""
        if state.flow is None:
            return ""
        tool = self.conversation.tools[state.flow.tool]
        slot = missing_arguments(tool, state.flow.args)[0]
        return slot_question(slot, schema_of(tool, slot))

    def _declined_human(self, state: _State) -> tuple[_Reply, _State]:
        state = replace(state, offered_human=False, misses=0)
        question = self._pending_question(state) or "What can I help you with?"
        return _Reply(f"No problem. {question}"), state

    def _not_understood(self, state: _State) -> tuple[_Reply, _State]:
        missed = replace(state, misses=state.misses + 1)
        if missed.misses >= MISSES_BEFORE_HUMAN:
            return _Reply(OFFER_HUMAN_LINE), replace(missed, offered_human=True)
        return _Reply(f"Sorry, I didn't understand that. {help_line(self.conversation)}"), missed

    def _reprompt(self, state: _State) -> _Reply:
        return _Reply(f"{REPROMPT_LINE} {self._pending_question(state)}".strip())

    def _repeat_line(self, state: _State) -> str:
        return (
            self.heard_last.strip() or self._pending_question(state) or "How can I help you?"
        )


def plan(conversation: Conversation) -> _Reply:
    """Replay the caller's turns to rebuild the state, and decide the reply to the last one."""
    messages: Sequence[Message] = conversation.messages
    if not messages or messages[-1].role == "assistant":
        return _Reply()
    if messages[-1].role == "tool":
        return _Reply(speak_results(messages[-1].tool_results))
    index = index_of(conversation)
    state = _State()
    reply = _Reply()
    heard_last = ""
    calls_made = 0
    for message in messages:
        if message.role == "user":
            reply, state = _Turn(conversation, index, heard_last, message.passages).decide(
                state, message.text)
        elif message.role == "assistant":
            calls_made += len(message.tool_calls)
            if message.tool_calls:
                state = replace(state, flow=None)
            if message.text.strip():
                heard_last = message.text
        else:
            state = _State()
    # Numbered by the calls actually made in this conversation: deterministic and unique.
    reply.call_id = f"offline-{calls_made + 1}"
    return reply
