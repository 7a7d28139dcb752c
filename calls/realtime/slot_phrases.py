"""What callers say when they answer a tool's questions — days and times, counts of people, the
options of a choice — as phrases for the offline recogniser's per-agent language model, so
"next Tuesday at ten in the morning" is heard as well as the agent's own questions are; and, per
question, the answers it expects (`answer_phrases`, `YES_NO_PHRASES`), which the offline brain
hands the recogniser for the caller's next turn (`offline/answers.py`)."""

from __future__ import annotations

from collections.abc import Iterable

from calls.realtime.backchannel import RECOGNISER_PHRASES
from calls.realtime.providers.llm.base import ToolSpec
from calls.realtime.providers.llm.offline.answers import YES_NO_PHRASES, answer_phrases
from calls.realtime.providers.llm.offline.tool_kinds import kind_of
from calls.realtime.providers.llm.offline.when import DATE_FORMATS

# How callers ask for what the offline brain does in any business (its intents): written once,
# generic, so the recogniser expects "put me through to someone" as much as the agent's own
# questions. Not the evaluation sets' sentences.
INTENT_PHRASES: tuple[str, ...] = (
    "can i speak to a person", "i want to talk to a human", "put me through to someone",
    "transfer me please", "can i talk to the manager", "let me speak to someone",
    "i'd like to speak to a member of staff", "is there someone i can talk to",
    "that's all thank you", "thanks bye", "goodbye", "have a nice day", "that's everything",
    "thanks that's it", "that's it bye",
    "i need to cancel", "i can't make it", "i won't be able to make it", "cancel my booking",
    "i need to change my booking", "can i move it to another day", "a different time",
    "i want to make a complaint", "i'm not happy with", "it was terrible", "i'd like a refund",
    "it's not working", "it won't turn on", "i can't log in", "it keeps crashing",
    "there's a problem with", "it hurts", "i'm in pain", "it's broken",
    "yes please", "no thank you", "that's right", "that's correct", "go ahead", "i don't mind",
    "i'd rather not", "sorry can you repeat that", "what did you say",
)


# How callers put a word of their own business in a sentence: neutral frames (no claim that the
# thing is broken or wanted), so a keyword is expected alone, after "my" and after "about the".
# With nine frames (also "the {}", "my {} is", "my {} won't"...) the keywords outweighed the
# agent's own sentences (the restaurant's WER went from 30.8 to 35.4 %); three keep the gain.
KEYWORD_FRAMES: tuple[str, ...] = ("{}", "my {}", "about the {}")


def keyword_phrases(keywords: Iterable[str]) -> list[str]:
    """The agent's recognition keywords in the frames callers put them in."""
    return [frame.format(keyword.strip()) for keyword in keywords for frame in KEYWORD_FRAMES
            if keyword.strip()]


# How callers report a fault with one of the things the business lists, for agents with a tool
# that opens a ticket or reports a problem; few frames, for the reason above.
PROBLEM_FRAMES: tuple[str, ...] = ("my {} is not working", "the {} isn't working",
                                   "there's a problem with my {}")


def problem_phrases(tools: Iterable[ToolSpec], keywords: Iterable[str]) -> list[str]:
    """The agent's keywords in fault reports, if one of its tools takes problems."""
    if not any(kind_of(tool) == "problem" for tool in tools):
        return []
    return [frame.format(keyword.strip()) for keyword in keywords for frame in PROBLEM_FRAMES
            if keyword.strip()]


def _intent_phrases(thing: str) -> list[str]:
    """How callers ask about the thing a tool books or opens (an appointment, a table)."""
    return [f"when is my {thing}", f"what time is my {thing}", f"cancel my {thing}",
            f"change my {thing}", f"reschedule my {thing}", f"move my {thing}",
            f"i need to cancel my {thing}"]


def slot_phrases(tools: Iterable[ToolSpec]) -> list[str]:
    """Phrases for every argument the offline brain asks callers for, and for the requests
    around what the tools book ("when is my appointment", "cancel my table")."""
    phrases: list[str] = [*INTENT_PHRASES, *RECOGNISER_PHRASES, *YES_NO_PHRASES]
    dates_added = False
    for tool in tools:
        words = tool.name.lower().replace("-", "_").split("_")
        if len(words) >= 2 and words[0] in ("book", "create", "reserve", "schedule", "open"):
            phrases += _intent_phrases(" ".join(words[1:]))
        for name, schema in tool.parameters.get("properties", {}).items():
            if not isinstance(schema, dict) or schema.get("type") == "boolean":
                continue  # a yes or a no: YES_NO_PHRASES are in already
            is_date = schema.get("format") in DATE_FORMATS
            if is_date and dates_added:
                continue
            dates_added = dates_added or is_date
            phrases += answer_phrases(name, schema)
    return phrases
