"""The offline brain's dialogue state: replay the caller's turns through `Turn.decide` to rebuild
the state (tool being filled, misunderstandings, a transfer offered) and decide the next reply."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from aybiza.core.spoken import ONES, YES_WORDS, yes_no
from calls.realtime.call_control import (
    FORGET_CALLER,
    TRANSFER_CALL,
    TRANSFER_SUMMARY_MAX_CHARS,
)
from calls.realtime.providers.llm.base import Conversation, Message, ToolSpec
from calls.realtime.providers.llm.offline.answers import (
    YES_NO_PHRASES,
    answer_phrases,
    correction_phrases,
    question_phrases,
)
from calls.realtime.providers.llm.offline.intents import (
    BARE_NO,
    BOOK,
    CANCEL,
    CANCEL_BOOKING,
    COMPLAINT,
    DTMF_ENTRY,
    FORGET_ME,
    GREETING,
    HELP_REQUEST,
    PRESENCE,
    PROBLEM,
    REPEAT,
    RESCHEDULE,
    THANKS,
    is_human_request,
)
from calls.realtime.providers.llm.offline.matching import (
    QUESTION_LIKE,
    QUESTION_START,
    STRONG_MATCH,
    Index,
    best_match,
    index_of,
    says_goodbye,
)
from calls.realtime.providers.llm.offline.memory import recall_line
from calls.realtime.providers.llm.offline.passages import passage_answer
from calls.realtime.providers.llm.offline.responses import (
    ANYTHING_ELSE,
    GOODBYE_LINE,
    NO_ANSWER_LINE,
    OFFER_HUMAN_LINE,
    REPROMPT_LINE,
    TRANSFER_LINE,
    confirm_question,
    help_line,
    not_on_this_line,
    problem_offer,
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
from calls.realtime.providers.llm.offline.slots import (
    Invalid,
    NeedsTime,
    argument_value,
    coerce,
    enum_values_in,
    prefilled,
)
from calls.realtime.providers.llm.offline.text import analyse, normalise
from calls.realtime.providers.llm.offline.tool_kinds import (
    first_text_argument,
    kind_of,
    tool_of_kind,
)
from calls.realtime.providers.llm.offline.when import (
    DATE_FORMATS,
    WEEK_ONLY,
    Clock,
    clock_of,
    day_said,
    open_day_of,
    parse_when,
    part_of_day_question,
)

HOLD_LINE = "Please hold while I put you through."

_QUESTION_WORDS = re.compile(r"\b(?:where|when|how much|how|what|which|who)\b")

# Consecutive misunderstandings after which a human is offered.
MISSES_BEFORE_HUMAN = 2
# What a caller may want done to a booking they already have (`_wanted`).
CHANGES = frozenset({"cancel", "reschedule"})


@dataclass(frozen=True, slots=True)
class _Flow:
    """A tool being filled: which tool and the arguments collected so far."""

    tool: int
    args: dict[str, Any] = field(default_factory=dict)
    # The caller's earlier answer to the question being asked ("Tuesday", still without a time).
    partial: str = ""
    # Every argument is in and the caller was asked to confirm before the tool runs.
    confirming: bool = False


@dataclass(frozen=True, slots=True)
class _State:
    flow: _Flow | None = None
    misses: int = 0
    offered_human: bool = False
    # A tool offered to the caller ("Would you like me to book an appointment?").
    offered_tool: int | None = None


@dataclass(slots=True)
class _Reply:
    text: str = ""
    call: tuple[str, dict[str, Any]] | None = None
    call_id: str = ""
    end_call: bool = False
    transfer_to: str | None = None
    # What the brain took the caller's turn to be (book, cancel, question, problem, unknown...):
    # for evaluations, never spoken.
    intent: str = ""
    # The arguments collected so far for the tool being filled (evaluations read them).
    slots: dict[str, Any] = field(default_factory=dict)
    # What the reply's question expects the caller to answer (`Done.expects`).
    expects: tuple[str, ...] = ()


# A greeting or an introduction before the point: "hi, it's Dave from accounts, …".
_GREETING_CLAUSE = re.compile(
    r"^\s*(?:(?:hi|hello|hey|good (?:morning|afternoon|evening))(?: there)?"
    r"|(?:it's|it is|this is|my name is|i'm|i am) [a-z]+(?: [a-z]+)?(?: (?:from|in) [a-z ]+)?)"
    r"\s*[,.!]\s*", re.IGNORECASE)


# The terms a question about a moment is made of ("is saturday morning ok?"), as `analyse`
# writes them: days, parts of the day, hours, and words that ask whether it suits.
_WHEN_TERMS = frozenset({"@day", "@booking"} | {term for term in analyse(" ".join([
    "morning afternoon evening night tonight lunchtime noon am pm oclock ok okay fine good",
    "possible free work works alright right time day around", *ONES[1:13],
    "thirty fifteen forty five"])).terms if not term.startswith("@")})  # "seven" reads as @services


def _only_when(norm: str) -> bool:
    """A question that asks about nothing but a moment ("is saturday morning ok?", "anything
    on friday at ten?"): a caller asking for that moment, not a question the knowledge answers
    ("do you serve brunch on sunday")."""
    return all(term in _WHEN_TERMS or term.isdigit() for term in analyse(norm).terms)


def _without_greeting(text: str) -> str:
    """The caller's words from their point on (a ticket's summary): greetings and "it's Dave
    from accounts" before a comma are dropped; nothing is dropped when nothing would remain."""
    rest = text.strip()
    while (found := _GREETING_CLAUSE.match(rest)) and rest[found.end():].strip():
        rest = rest[found.end():]
    return rest.strip()


class _Turn:
    """Decides the reply to one caller turn from the state the earlier turns left."""

    def __init__(self, conversation: Conversation, index: Index, heard_last: str,
                 passages: list[str] | None = None, clock: Clock | None = None) -> None:
        self.conversation = conversation
        self.index = index
        self.heard_last = heard_last
        self.passages = passages or []  # the agent's documents about this turn's words
        self.clock = clock

    def decide(self, state: _State, text: str) -> tuple[_Reply, _State]:
        reply, state = self._decide(state, text)
        if not reply.intent:
            reply.intent = "tool" if reply.call else "unknown"
        if state.flow is not None:
            reply.slots = dict(state.flow.args)
        elif reply.call is not None:
            reply.slots = dict(reply.call[1])
        return reply, state

    def _decide(self, state: _State, text: str) -> tuple[_Reply, _State]:
        dtmf_match = DTMF_ENTRY.fullmatch(text)
        dtmf = dtmf_match.group(1).rstrip("#") if dtmf_match else None
        if dtmf_match is None and not text.strip():
            return self._reprompt(state), state
        if dtmf is not None:
            return self._dtmf(state, dtmf)
        norm = normalise(text)
        if COMPLAINT.search(norm.lower()):  # "the receptionist was rude": a person handles it
            return (_Reply(problem_offer(None), intent="problem"),
                    replace(state, offered_human=True, offered_tool=None))
        if is_human_request(norm):
            return self._to_a_person()
        if FORGET_ME.search(norm):  # the session forgets them and files an erasure request
            return _Reply(call=(FORGET_CALLER, {}), intent="forget_me"), state
        confirming = state.flow is not None and state.flow.confirming
        # "Yes, that's it" confirms a booking; it does not hang up.
        if says_goodbye(norm) and not (confirming and yes_no(norm) is not None):
            return _Reply(GOODBYE_LINE, end_call=True, intent="goodbye"), _State()
        answered = self._answer_to_offer(state, norm)
        if answered is not None:
            return answered
        state = replace(state, offered_human=False, offered_tool=None)
        about_the_line = self._about_the_line(state, norm)
        if about_the_line is not None:
            return about_the_line
        if state.flow is not None and state.flow.confirming:
            return self._confirm(state, state.flow, text, norm)
        if state.flow is not None:
            return self._fill(state, state.flow, text, None)
        return self._idle(state, text, norm)

    def _to_a_person(self) -> tuple[_Reply, _State]:
        """Through the agent's transfer tool when it has one (Twilio puts the caller through,
        cold or warm, with a summary for the person); else the session ends the stream as
        transferred."""
        if not any(tool.name == TRANSFER_CALL for tool in self.conversation.tools):
            return _Reply(TRANSFER_LINE, transfer_to="human", intent="human"), _State()
        said = [m.text.strip() for m in self.conversation.messages
                if m.role == "user" and m.text.strip() and not DTMF_ENTRY.fullmatch(m.text)]
        summary = "A caller from the phone assistant."
        if said:
            summary += " They said: " + " ... ".join(said[-3:])
        arguments = {"summary": summary[:TRANSFER_SUMMARY_MAX_CHARS]}
        return _Reply(TRANSFER_LINE, call=(TRANSFER_CALL, arguments), intent="human"), _State()

    def _answer_to_offer(self, state: _State, norm: str) -> tuple[_Reply, _State] | None:
        """Yes or no to a transfer or a tool the brain offered; None when it is neither."""
        if len(norm.split()) > 6 or not (state.offered_human or state.offered_tool is not None):
            return None
        answer = yes_no(norm)
        if state.offered_human:
            if answer is True:
                return self._to_a_person()
            return self._declined_human(state) if answer is False else None
        offered, state = state.offered_tool, replace(state, offered_tool=None)
        if answer is True:
            return self._start_flow(state, offered, "", intent="yes")
        if answer is False:
            return _Reply("No problem. What else can I help you with?", intent="no"), state
        return None

    # -- caller turns outside a tool flow ---------------------------------------------------

    def _idle(self, state: _State, text: str, norm: str) -> tuple[_Reply, _State]:
        understood = replace(state, misses=0)
        if THANKS.match(norm):
            return _Reply(f"You're welcome. {ANYTHING_ELSE}", intent="thanks"), understood
        if GREETING.match(norm):
            return _Reply("Hello! How can I help you today?", intent="greeting"), understood
        if HELP_REQUEST.match(norm.lower()):  # not the help desk's hours ("help")
            return _Reply("Of course. What can I help you with?", intent="greeting"), understood
        if BARE_NO.match(norm):
            # "No" after "anything else?" ends the call; elsewhere it just hands the floor back.
            if "anything else" in self.heard_last.lower():
                return _Reply(GOODBYE_LINE, end_call=True, intent="goodbye"), _State()
            return _Reply("Okay. What else can I help you with?", intent="no"), understood
        if norm in YES_WORDS:
            return _Reply("Sure, what can I help you with?", intent="yes"), understood
        wanted = self._wanted(norm)
        # "I need to cancel my appointment" names the caller's booking too, but asks for it to
        # change: a returning caller is helped with that, not told about their last call.
        recalled = "" if wanted in CHANGES else recall_line(self.conversation, norm)
        if recalled:
            return _Reply(f"{recalled} {ANYTHING_ELSE}", intent="question"), understood
        if wanted is not None:
            return self._act_on(understood, wanted, text)
        match = best_match(text, self.index)
        from_documents = passage_answer(self.passages)
        if match.kind == "knowledge" and (not from_documents or (
                match.score >= STRONG_MATCH and self._entry_covers(match.index, text))):
            return _Reply(self.conversation.knowledge[match.index][1],
                          intent="question"), understood
        if match.kind == "tool":
            return self._start_flow(understood, match.index, text)
        if from_documents:  # a passage shares the caller's words: better than a loose entry
            return _Reply(from_documents, intent="question"), understood
        return self._unplaced(state, text, norm)

    def _unplaced(self, state: _State, text: str, norm: str) -> tuple[_Reply, _State]:
        """What no intent, entry or tool took."""
        booking = tool_of_kind(self.conversation.tools, "book")
        if booking is not None and self._names_a_day(text) and (
                not QUESTION_START.match(norm.lower()) or _only_when(norm)):
            # It names a day ("can i common on monday at ten", the recogniser's "Can I come in
            # on Monday at ten?"): a caller asking for a day wants a booking. The day and time
            # are taken and checked against the hours as usual.
            return self._start_flow(replace(state, misses=0), booking, text, intent="book")
        if QUESTION_LIKE.match(norm.lower()):
            return self._not_understood(state, intent="question")
        return self._not_understood(state)

    # -- what the caller wants done ---------------------------------------------------------

    def _wanted(self, norm: str) -> str | None:
        """cancel / reschedule / problem / book when the words ask for it (read from the
        normalised words: "won't" is "will not"); complaints are taken before (`_decide`)."""
        norm = norm.lower()
        if CANCEL_BOOKING.search(norm):
            return "cancel"
        if RESCHEDULE.search(norm):
            return "reschedule"
        if PROBLEM.search(norm):
            # "Is it painful?" asks about something the agent knows: the knowledge answers.
            match = best_match(norm, self.index)
            if not (match.kind == "knowledge" and match.score >= STRONG_MATCH
                    and QUESTION_START.match(norm)):
                return "problem"
        if BOOK.search(norm):
            return "book"
        return None

    def _act_on(self, state: _State, wanted: str, text: str) -> tuple[_Reply, _State]:
        tools = self.conversation.tools
        tool = tool_of_kind(tools, wanted)
        if tool is not None:
            lead = "I'm sorry to hear that. " if wanted == "problem" else ""
            return self._start_flow(state, tool, text, intent=wanted, lead=lead)
        if wanted == "problem":
            booking = tool_of_kind(tools, "book")
            if booking is not None and BOOK.search(normalise(text).lower()):
                # "I have a toothache, can I come in today?": the visit asked for, not offered
                return self._start_flow(state, booking, text, intent=wanted,
                                        lead="I'm sorry to hear that. ")
            line = problem_offer(tools[booking] if booking is not None else None)
            if booking is not None:
                return _Reply(line, intent=wanted), replace(state, offered_tool=booking)
            return _Reply(line, intent=wanted), replace(state, offered_human=True)
        if wanted == "book":
            match = best_match(text, self.index)
            if match.kind == "tool":
                return self._start_flow(state, match.index, text, intent=wanted)
            return self._not_understood(state)
        # cancel / reschedule with no tool for it: say so, and offer someone who can.
        return (_Reply(not_on_this_line(wanted), intent=wanted),
                replace(state, offered_human=True))

    @staticmethod
    def _days_of(tool: ToolSpec, flow: _Flow) -> dict[str, str]:
        """The day of each date-time argument already filled ("December 7"), for a correction
        that gives only a time ("make it 3 pm" keeps the day)."""
        days = {}
        for name, value in flow.args.items():
            if schema_of(tool, name).get("format") == "date-time" and isinstance(value, str):
                try:
                    moment = datetime.fromisoformat(value)
                except ValueError:
                    continue
                days[name] = day_said(moment)
        return days

    def _names_a_day(self, text: str) -> bool:
        if self.clock is None:
            return False
        when = parse_when(text, self.clock.now, self.clock.hours)
        return when is not None and when.has_date

    def _entry_covers(self, entry: int, text: str) -> bool:
        """Whether a knowledge entry speaks of every topic word the caller said ("where can I
        park?" shares only "where" with "Where are you located?": a document passage about
        parking answers it better)."""
        # Topic words only: "where" and "how much" ask, they are not what the caller asks about.
        said = set(analyse(_QUESTION_WORDS.sub(" ", text.lower())).terms)
        question, answer = self.conversation.knowledge[entry]
        return said <= set(analyse(question).terms) | set(analyse(answer).terms)

    def _start_flow(self, state: _State, tool_index: int, text: str, *, intent: str = "",
                    lead: str = "") -> tuple[_Reply, _State]:
        tool = self.conversation.tools[tool_index]
        defaults = {
            name: schema_of(tool, name)["default"]
            for name in required_arguments(tool) if "default" in schema_of(tool, name)
        }
        given = prefilled(tool, text, enum_values_in(tool, text, defaults), self.clock)
        described = first_text_argument(tool) if intent == "problem" else None
        if described is not None and described not in given.args:
            # the caller's own words describe the problem, without their hello
            given.args[described] = _without_greeting(text)
        flow = _Flow(tool_index, given.args, partial=given.partial)
        opening = f"{lead}I can help with that." if lead else "Sure, I can help with that."
        acknowledgement = f"{opening} {given.problem}".strip()
        reply, state = self._advance(state, flow, acknowledgement)
        reply.intent = intent or kind_of(tool) or "tool"
        return reply, state

    def _confirm(self, state: _State, flow: _Flow, text: str,
                 norm: str) -> tuple[_Reply, _State]:
        """The caller's answer to "Shall I go ahead?": yes runs the tool, a changed value is
        taken and read back (a new day without its time: that day's time is asked for), no asks
        again from the start, cancel drops it."""
        tool = self.conversation.tools[flow.tool]
        if CANCEL.match(norm):
            return _Reply(f"Okay, I've cancelled that. {ANYTHING_ELSE}", intent="cancel"), _State()
        correction = prefilled(tool, text, {}, self.clock, days=self._days_of(tool, flow))
        said = {**correction.args, **enum_values_in(tool, text, {})}  # "make it urgent"
        changed = {name: value for name, value in said.items() if flow.args.get(name) != value}
        if changed:
            flow = replace(flow, args={**flow.args, **changed}, confirming=False)
            reply, state = self._advance(state, flow, "Okay.")
            reply.intent = "fill"
            return reply, state
        if correction.partial:  # "No, make it Friday": keep the rest, ask Friday's time
            kept = {name: value for name, value in flow.args.items()
                    if schema_of(tool, name).get("format") not in DATE_FORMATS}
            reply, state = self._advance(state, _Flow(flow.tool, kept, partial=correction.partial),
                                         "Okay.")
            reply.intent = "fill"
            return reply, state
        answer = yes_no(norm)
        if answer is True:
            reply = _Reply(working_line(tool), call=(tool.name, dict(flow.args)), intent="yes")
            return reply, replace(state, flow=None, misses=0)
        if answer is False:
            restart = _Flow(flow.tool, {name: value for name, value in flow.args.items()
                                        if "default" in schema_of(tool, name)})
            reply, state = self._advance(state, restart, "Okay, let's fix that.")
            reply.intent = "no"
            return reply, state
        return _Reply(f"Sorry, please say yes or no. {confirm_question(tool, flow.args)}",
                      intent="unknown"), state

    # -- slot filling -----------------------------------------------------------------------

    def _fill(
        self, state: _State, flow: _Flow, text: str, dtmf: str | None
    ) -> tuple[_Reply, _State]:
        tool = self.conversation.tools[flow.tool]
        if dtmf is None and CANCEL.match(normalise(text)):
            return _Reply(f"Okay, I've cancelled that. {ANYTHING_ELSE}"), _State()
        slot = missing_arguments(tool, flow.args)[0]
        schema = schema_of(tool, slot)
        value = argument_value(slot, schema, text, dtmf, self.clock, flow.partial)
        question = slot_question(slot, schema)
        if isinstance(value, NeedsTime):  # "Tuesday": ask for the time, keep the day
            if self._names_a_day(text) or not flow.partial:
                # A new day replaces the one kept ("10" misheard must not join it: "monday 10"
                # then "ten" was read as 10:10), or names the day of the week kept.
                partial = (f"{flow.partial} {text}" if WEEK_ONLY.search(flow.partial.lower())
                           else text)
                return (_Reply(value.hint, intent="fill"),
                        replace(state, misses=0, flow=replace(flow, partial=partial)))
            # The time was asked for and not given ("banana"): a question, or a miss; a part
            # of the day ("morning") is asked about with that day's hours
            narrowed = (part_of_day_question(text, flow.partial, self.clock)
                        if self.clock is not None else "")
            if narrowed:
                return _Reply(f"Sure. {narrowed}", intent="fill"), replace(state, misses=0)
            missing = "day" if WEEK_ONLY.search(flow.partial.lower()) else "time"
            question, value = value.hint, Invalid(f"Sorry, I didn't catch the {missing}.")
        not_the_answer = self._not_the_answer(state, flow, text, dtmf, value, question)
        if not_the_answer is not None:
            return not_the_answer
        flow = replace(flow, args={**flow.args, slot: value}, partial="")
        reply, state = self._advance(replace(state, misses=0), flow, "Got it.")
        reply.intent = "fill"
        return reply, state

    def _not_the_answer(self, state: _State, flow: _Flow, text: str, dtmf: str | None,
                        value: Any, question: str) -> tuple[_Reply, _State] | None:
        """The reply when the caller's words are no answer to `question`: a question of their
        own answered, a refusal with its reason, another argument taken, or a miss; None when
        `value` is the answer."""
        tool = self.conversation.tools[flow.tool]
        schema = schema_of(tool, missing_arguments(tool, flow.args)[0])
        # A caller may ask something else mid-flow: answer it, then ask again.
        if dtmf is None and (
            isinstance(value, Invalid)
            or (json_type(schema) == "string" and QUESTION_START.match(normalise(text)))
        ):
            match = best_match(text, self.index)
            # A question that is no answer to this one ("what time do you close?" when asked
            # how many people) needs a looser match than one that might be the answer.
            asked = isinstance(value, Invalid) and bool(QUESTION_LIKE.match(normalise(text)))
            if match.kind == "knowledge" and (match.score >= STRONG_MATCH or asked):
                answer = self.conversation.knowledge[match.index][1]
                return _Reply(f"{answer} {question}", intent="question"), replace(state, misses=0)
            if asked and not value.understood:
                return _Reply(f"{NO_ANSWER_LINE} {question}", intent="question"), state
        if isinstance(value, Invalid) and value.understood:
            day = (open_day_of(text, self.clock) if self.clock is not None
                   and schema.get("format") in DATE_FORMATS else "")
            if day:  # "tomorrow at 4", closed at four: tomorrow is kept, its time asked again
                flow = replace(flow, partial=day)
                question = getattr(coerce(schema, day, None, self.clock), "hint", question)
            line = value.hint if value.alone else f"{value.hint} {question}"
            return _Reply(line, intent="fill"), replace(state, misses=0, flow=flow)
        if isinstance(value, Invalid) and dtmf is None:
            out_of_turn = self._out_of_turn(state, flow, text)
            if out_of_turn is not None:
                return out_of_turn
        if isinstance(value, Invalid):
            missed = replace(state, misses=state.misses + 1)
            if missed.misses >= MISSES_BEFORE_HUMAN:
                return _Reply(OFFER_HUMAN_LINE), replace(missed, offered_human=True)
            return _Reply(f"{value.hint} {question}"), missed
        return None

    def _out_of_turn(self, state: _State, flow: _Flow,
                     text: str) -> tuple[_Reply, _State] | None:
        """Another of the tool's arguments given instead of the one asked for ("for 4" when
        asked the day): taken, and the question still open asked; None when there is none."""
        if self.clock is None:
            return None
        given = prefilled(self.conversation.tools[flow.tool], text, flow.args, self.clock)
        if not set(given.args) - set(flow.args):
            return None
        flow = replace(flow, args=given.args, partial=given.partial or flow.partial)
        reply, state = self._advance(replace(state, misses=0), flow, "Got it.")
        reply.intent = "fill"
        return reply, state

    def _advance(self, state: _State, flow: _Flow, acknowledgement: str) -> tuple[_Reply, _State]:
        """Ask for the next missing argument, or call the tool once none is missing."""
        tool = self.conversation.tools[flow.tool]
        missing = missing_arguments(tool, flow.args)
        if missing:
            question = slot_question(missing[0], schema_of(tool, missing[0]))
            if flow.partial:  # a day was given, its time is still to come
                question = coerce(schema_of(tool, missing[0]), flow.partial, None,
                                  self.clock).hint if self.clock else question
            return _Reply(f"{acknowledgement} {question}"), replace(state, flow=flow)
        if tool.confirm and kind_of(tool) != "lookup":
            # A tool that changes something (not idempotent) runs only after a read-back.
            return (_Reply(confirm_question(tool, flow.args)),
                    replace(state, flow=replace(flow, confirming=True)))
        reply = _Reply(working_line(tool), call=(tool.name, dict(flow.args)))
        return reply, replace(state, flow=None)

    # -- key presses, misunderstandings, small talk ------------------------------------------

    def _dtmf(self, state: _State, digits: str) -> tuple[_Reply, _State]:
        if state.offered_human and digits in ("0", "1"):
            return self._to_a_person()
        if state.offered_human and digits == "2":
            return self._declined_human(state)
        state = replace(state, offered_human=False)
        if state.flow is not None and digits and "*" not in digits:
            tool = self.conversation.tools[state.flow.tool]
            kind = json_type(schema_of(tool, missing_arguments(tool, state.flow.args)[0]))
            if digits != "0" or kind in ("integer", "number"):
                return self._fill(state, state.flow, "", digits)
        if digits == "0":
            return self._to_a_person()
        if digits == "*":
            return _Reply(self._repeat_line(state)), state
        return self._not_understood(state)

    def _about_the_line(self, state: _State, norm: str) -> tuple[_Reply, _State] | None:
        """"Say that again", "Are you still there?": the call itself, not its business; the
        question pending stays pending."""
        if REPEAT.search(norm):
            return _Reply(self._repeat_line(state), intent="repeat"), state
        if PRESENCE.match(norm.lower()):
            pending = self._pending_question(state) or "How can I help you?"
            return _Reply(f"Yes, I'm here. {pending}", intent="greeting"), state
        return None

    def _pending_question(self, state: _State) -> str:
        """The question the caller has yet to answer in a tool flow (its read-back, or "What
        time on Friday?" after a day), or "" outside one."""
        if state.flow is None:
            return ""
        tool = self.conversation.tools[state.flow.tool]
        if state.flow.confirming:
            return confirm_question(tool, state.flow.args)
        slot = missing_arguments(tool, state.flow.args)[0]
        question = slot_question(slot, schema_of(tool, slot))
        if state.flow.partial and self.clock is not None:
            # "What time on Friday?" (a day kept without its time is never a value)
            return getattr(coerce(schema_of(tool, slot), state.flow.partial, None, self.clock),
                           "hint", question)
        return question

    def _declined_human(self, state: _State) -> tuple[_Reply, _State]:
        state = replace(state, offered_human=False, misses=0)
        question = self._pending_question(state) or "What can I help you with?"
        return _Reply(f"No problem. {question}"), state

    def _not_understood(self, state: _State, intent: str = "unknown") -> tuple[_Reply, _State]:
        """What the brain cannot place: a question it has no answer to is said to be one (never
        answered with a random entry); after two in a row a person is offered."""
        missed = replace(state, misses=state.misses + 1)
        if missed.misses >= MISSES_BEFORE_HUMAN:
            return _Reply(OFFER_HUMAN_LINE, intent=intent), replace(missed, offered_human=True)
        lead = NO_ANSWER_LINE if intent == "question" else "Sorry, I didn't understand that."
        return _Reply(f"{lead} {help_line(self.conversation)}", intent=intent), missed

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
        results = messages[-1].tool_results
        if any(isinstance(r.content, dict) and r.content.get("transferred") and not r.is_error
               for r in results):  # Twilio is putting the caller through
            return _Reply(HOLD_LINE)
        return _Reply(speak_results(results))
    index = index_of(conversation)
    clock = clock_of(conversation)
    state = _State()
    reply = _Reply()
    heard_last = ""
    calls_made = 0
    for message in messages:
        if message.role == "user":
            reply, state = _Turn(conversation, index, heard_last, message.passages,
                                 clock).decide(state, message.text)
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
    if reply.call is None and not (reply.end_call or reply.transfer_to):
        reply.expects = expected_answers(conversation, state)
    return reply


def expected_answers(conversation: Conversation, state: _State) -> tuple[str, ...]:
    """What the caller's next turn is likely to be, from the question the reply leaves open: a
    yes or no to an offer, a read-back's yes, no or correction, the answers of the argument
    asked for. () when nothing in particular is expected."""
    if state.offered_human or state.offered_tool is not None:
        return YES_NO_PHRASES
    flow = state.flow
    if flow is None:
        return ()
    tool = conversation.tools[flow.tool]
    if flow.confirming:  # "yes", or "no, make it Friday at two"
        corrections = [phrase for name in required_arguments(tool)
                       for phrase in answer_phrases(name, schema_of(tool, name))]
        return tuple(dict.fromkeys([*YES_NO_PHRASES, *correction_phrases(corrections)]))
    slot = missing_arguments(tool, flow.args)[0]
    return tuple(question_phrases(slot, schema_of(tool, slot)))
