"""What callers say when they answer a tool's questions — days and times, counts of people, the
options of a choice — as phrases for the offline recogniser's per-agent language model, so
"next Tuesday at ten in the morning" is heard as well as the agent's own questions are."""

from __future__ import annotations

from collections.abc import Iterable

from aybiza.core.hours import DAY_NAMES, MONTH_NAMES
from aybiza.core.spoken import ONES, ORDINAL_DAY_WORDS
from calls.realtime.backchannel import RECOGNISER_PHRASES
from calls.realtime.providers.llm.base import ToolSpec
from calls.realtime.providers.llm.offline.when import DATE_FORMATS

_HOURS = ONES[1:13]


def _date_phrases() -> list[str]:
    # Few phrases per pattern: the trigram model generalises "at ten" from them, and a long list
    # would outweigh the agent's own questions in its model ("when is my appointment" heard as
    # "when at nine appointment").
    days = [day.lower() for day in DAY_NAMES]
    phrases = ["tomorrow", "the day after tomorrow", "in the morning", "in the afternoon",
               "next week", "at noon"]
    phrases += [f"on {day}" for day in days] + [f"next {day}" for day in days[:5]]
    phrases += [f"{day} at {hour}" for day, hour in zip(days, _HOURS[8:] + _HOURS[:4],
                                                         strict=False)]
    phrases += [f"the {day}" for day in _ORDINAL_DAYS[::2]] + [
        f"{month} {day}" for month, day in zip(_MONTHS, _ORDINAL_DAYS[1::3], strict=False)]
    phrases += [f"at {hour}" for hour in _HOURS] + [
        f"{hour} thirty" for hour in _HOURS[::3]] + ["half past two", "quarter past three"]
    return phrases


# The days of a month in order ("first" .. "thirty first").
_ORDINAL_DAYS = tuple(word for word, day in sorted(ORDINAL_DAY_WORDS.items(), key=lambda i: i[1])
                      if day <= 31)
_MONTHS = tuple(month.lower() for month in MONTH_NAMES)

# How callers ask for what the offline brain does in any business (its intents): written once,
# generic, so the recogniser expects "put me through to someone" as much as the agent's own
# questions. Not the evaluation sets' sentences.
INTENT_PHRASES: tuple[str, ...] = (
    "can i speak to a person", "i want to talk to a human", "put me through to someone",
    "transfer me please", "can i talk to the manager", "let me speak to someone",
    "i'd like to speak to a member of staff", "is there someone i can talk to",
    "that's all thank you", "thanks bye", "goodbye", "have a nice day", "that's everything",
    "i need to cancel", "i can't make it", "i won't be able to make it", "cancel my booking",
    "i need to change my booking", "can i move it to another day", "a different time",
    "i want to make a complaint", "i'm not happy with", "it was terrible", "i'd like a refund",
    "it's not working", "it won't turn on", "i can't log in", "it keeps crashing",
    "there's a problem with", "it hurts", "i'm in pain", "it's broken",
    "yes please", "no thank you", "that's right", "that's correct", "go ahead", "i don't mind",
    "i'd rather not", "sorry can you repeat that", "what did you say",
)


def _count_phrases(maximum: int) -> list[str]:
    phrases = []
    for n in range(1, min(maximum, 20) + 1):
        word = ONES[n]
        phrases += [f"{word} people", f"for {word}"]
    return phrases


def _intent_phrases(thing: str) -> list[str]:
    """How callers ask about the thing a tool books or opens (an appointment, a table)."""
    return [f"when is my {thing}", f"what time is my {thing}", f"cancel my {thing}",
            f"change my {thing}", f"reschedule my {thing}", f"move my {thing}",
            f"i need to cancel my {thing}"]


def slot_phrases(tools: Iterable[ToolSpec]) -> list[str]:
    """Phrases for every argument the offline brain asks callers for, and for the requests
    around what the tools book ("when is my appointment", "cancel my table")."""
    phrases: list[str] = [*INTENT_PHRASES, *RECOGNISER_PHRASES]
    dates_added = False
    for tool in tools:
        words = tool.name.lower().replace("-", "_").split("_")
        if len(words) >= 2 and words[0] in ("book", "create", "reserve", "schedule", "open"):
            phrases += _intent_phrases(" ".join(words[1:]))
        properties = tool.parameters.get("properties", {})
        for name, schema in properties.items():
            if not isinstance(schema, dict):
                continue
            if schema.get("format") in DATE_FORMATS and not dates_added:
                phrases += _date_phrases()
                dates_added = True
            elif "enum" in schema:
                phrases += [str(option).replace("_", " ") for option in schema["enum"]]
            elif schema.get("type") == "integer" and any(
                    word in name.lower() for word in ("party", "guests", "people", "size")):
                phrases += _count_phrases(int(schema.get("maximum", 12)))
    return phrases
