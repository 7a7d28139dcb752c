"""What the offline brain says: the lines it speaks, a question per missing argument worded from
its schema, what a tool is for, and tool results turned into a sentence."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Sequence
from typing import Any

from calls.realtime.providers.llm.base import Conversation, ToolResult, ToolSpec
from calls.realtime.providers.llm.offline.schema import json_type
from calls.realtime.providers.llm.offline.text import (
    as_sentence,
    humanise,
    join_words,
    lower_first,
    split_words,
    spoken_value,
    upper_first,
)
from calls.realtime.providers.llm.offline.when import DATE_FORMATS, spoken_moment

GOODBYE_LINE = "Thank you for calling. Goodbye!"


TRANSFER_LINE = "Let me transfer you to a member of our team."


REPROMPT_LINE = "Sorry, I didn't catch that."


NO_ANSWER_LINE = "Sorry, I don't have an answer to that."


ANYTHING_ELSE = "Is there anything else I can help you with?"


OFFER_HUMAN_LINE = (
    "Sorry, I'm still not sure I understand. "
    "Would you like me to transfer you to a member of our team?"
)


def slot_question(name: str, schema: dict[str, Any]) -> str:
    """A natural question for a missing argument, worded from its schema description."""
    description = str(schema.get("description") or "").strip()
    if description.endswith("?"):
        if "enum" in schema:  # "How urgent is it: low, normal, or urgent?"
            options = join_words([spoken_value(option) for option in schema["enum"]])
            return f"{description[:-1]}: {options}?"
        return description
    phrase = description or humanise(name)
    # Format hints such as "(YYYY-MM-DD)" and second sentences read badly aloud.
    phrase = re.split(r"[.;:]\s|, e\.g\.|\(", phrase, maxsplit=1)[0].strip().rstrip(".")
    phrase = re.sub(r"^(?:the|a|an)\s+", "", lower_first(phrase))
    if "enum" in schema:
        options = join_words([spoken_value(option) for option in schema["enum"]])
        return f"Which {phrase} would you like: {options}?"
    if json_type(schema) == "boolean":
        whether = re.match(r"(?:whether|if) to (.+)", phrase)
        if whether:
            return f"Would you like to {whether.group(1)}?"
        return f"{upper_first(phrase)}? Please say yes or no."
    phrase = re.sub(
        r"\b(?:the\s+)?(?:caller|customer|user|client|patient|guest)(?:'s|s')\s+", "your ", phrase
    )
    if phrase.startswith("your "):
        return f"What is {phrase}?"
    if re.search(r"\b(?:name|email|phone|address)\b", phrase) or (
        phrase.endswith("number") and "of" not in phrase
    ):
        return f"What is your {phrase}?"
    if phrase.startswith("number of ") and json_type(schema) in ("integer", "number"):
        return f"How many {phrase[len('number of '):]}?"
    if len(phrase.split()) <= 2:
        return f"What {phrase} would you like?"
    return f"What is the {phrase}?"


_WORKING_VERBS = frozenset(split_words(
    "book check find get send cancel schedule reserve create update confirm place order look search"
))


def working_line(tool: ToolSpec) -> str:
    """ "One moment while I book that." for book_appointment."""
    verb = humanise(tool.name).split()[:1]
    doing = verb[0] if verb and verb[0] in _WORKING_VERBS else "take care of"
    return f"One moment while I {doing} that."


def _tool_purpose(tool: ToolSpec) -> str:
    """The tool's description as something "I can ..." do: "Books a table." → "book a table"."""
    text = re.split(r"\.\s|;", tool.description.strip(), maxsplit=1)[0].strip().rstrip(".")
    if not text:
        return humanise(tool.name)
    words = text.split()
    first = words[0]
    if first.lower().endswith(("ches", "shes", "sses", "xes")):
        first = first[:-2]
    elif first.lower().endswith("s") and not first.lower().endswith("ss"):
        first = first[:-1]
    phrase = lower_first(" ".join([first, *words[1:]]))
    return re.sub(r"\bthe (?:caller|customer|user|client)\b", "you", phrase)


def help_line(conversation: Conversation) -> str:
    """What the brain can help with: a few knowledge questions and tool purposes."""
    # The first question of each entry: "Where are you located? What is your address?" is
    # one topic, and read out whole it breaks the list in two.
    questions = [
        lower_first(re.split(r"[?.!]", question.strip())[0].strip())
        for question, _ in conversation.knowledge[:3] if question.strip()
    ]
    purposes = [_tool_purpose(tool) for tool in conversation.tools[:2]]
    parts = []
    if questions:
        parts.append(f"You can ask me things like: {join_words(questions)}.")
    if purposes:
        parts.append(f"I can {'also ' if questions else ''}{join_words(purposes)}.")
    return " ".join(parts) or "Could you say that another way?"


def speak_results(results: Sequence[ToolResult]) -> str:
    """Tool results as a short spoken reply, ending with an offer of more help."""
    if not results:
        return ANYTHING_ELSE
    lines = []
    for result in results:
        if result.is_error:
            lines.append("I'm sorry, I couldn't complete that right now.")
        else:
            lines.append(_speak_content(result.content))
    return " ".join([*lines, ANYTHING_ELSE])


def _speak_content(content: Any) -> str:
    if isinstance(content, str) and content.strip()[:1] in ("{", "["):
        with contextlib.suppress(ValueError):
            content = json.loads(content)
    if content is None or content == "" or content == {} or content == []:
        return "That's done."
    if isinstance(content, dict):
        for key in ("message", "summary", "text"):
            if isinstance(content.get(key), str) and content[key].strip():
                return as_sentence(content[key])
        details = [
            f"{humanise(str(key))}: {spoken_value(value)}"
            for key, value in content.items()
            if value is not None and not isinstance(value, dict)
        ][:4]
        return f"Done. {upper_first('; '.join(details))}." if details else "That's done."
    if isinstance(content, list):
        found = "one result" if len(content) == 1 else f"{len(content)} results"
        scalars = [spoken_value(item) for item in content[:3] if not isinstance(item, dict | list)]
        return f"I found {found}" + (f": {join_words(scalars, 'and')}." if scalars else ".")
    return as_sentence(spoken_value(content))


def _action(tool: ToolSpec) -> str:
    """ "book an appointment" for book_appointment, "create a ticket" for create_ticket."""
    words = humanise(tool.name).split()
    if len(words) < 2:
        return f"go ahead with {' '.join(words) or 'that'}"
    thing = " ".join(words[1:])
    article = "an" if thing[0] in "aeiou" else "a"
    return f"{words[0]} {article} {thing}"


def confirm_question(tool: ToolSpec, args: dict[str, Any]) -> str:
    """The read-back before a tool that changes something runs."""
    details = []
    properties = tool.parameters.get("properties", {})
    # In the schema's order, however the caller gave them ("for 4", then the day)
    ordered = sorted(args.items(), key=lambda item: (
        list(properties).index(item[0]) if item[0] in properties else len(properties)))
    for name, value in ordered:
        schema = properties.get(name, {})
        if schema.get("format") in DATE_FORMATS and isinstance(value, str):
            details.append(f"for {spoken_moment(value)}")
        elif isinstance(value, str) and len(value.split()) > 3:  # the caller's own words
            quoted = value if len(value) <= 60 else f"{value[:57].rstrip()}..."
            details.append(f'{humanise(name)} "{quoted.rstrip(".!?")}"')
        else:
            details.append(f"{humanise(name)} {spoken_value(value)}")
    said = f" {join_words(details, 'and')}" if details else ""
    return f"Just to confirm, I'll {_action(tool)}{said}. Shall I go ahead?"


def not_on_this_line(wanted: str) -> str:
    """What the brain says when asked to cancel or move a booking it has no tool for."""
    verb = "cancel" if wanted == "cancel" else "change"
    return (f"I'm not able to {verb} bookings myself, but a member of our team can. "
            "Would you like me to put you through?")


def problem_offer(booking_tool: ToolSpec | None) -> str:
    """The answer to a symptom or complaint when no tool takes problem reports: a booking so
    someone can look at it, or a person."""
    if booking_tool is not None:
        return ("I'm sorry to hear that. I can't give advice over the phone, but I can "
                f"{_action(booking_tool)} so someone can take a look. Would you like that?")
    return ("I'm sorry to hear that. A member of our team can help with that. "
            "Would you like me to put you through?")
