"""Slot values from speech or keypad: spoken numbers ("twenty five", "a couple"), yes/no, enum
options by name or position, each coerced to the argument's JSON type or refused with a hint."""

from __future__ import annotations

import difflib
import itertools
import re
from dataclasses import dataclass
from typing import Any

from aybiza.core.spoken import DIGIT_WORDS, NO_WORDS, ONES_VALUE, ORDINALS, TENS_VALUE, yes_no
from calls.realtime.providers.llm.base import ToolSpec
from calls.realtime.providers.llm.offline.answers import is_person_name
from calls.realtime.providers.llm.offline.schema import json_type, required_arguments
from calls.realtime.providers.llm.offline.text import contains_phrase, normalise, spoken_value
from calls.realtime.providers.llm.offline.when import (
    DATE_FORMATS,
    Clock,
    WhenProblem,
    open_day_of,
    parse_when,
    says_a_clock_time,
    when_value,
)

_UNITS = dict(ONES_VALUE) | {"couple": 2, "dozen": 12, "single": 1}


_DIGIT_WORDS = DIGIT_WORDS


_TENS = TENS_VALUE


_ORDINALS = ORDINALS


_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}


# Whole utterances that a recogniser writes for a lone spoken number.
_HOMOPHONES = {"to": 2, "too": 2, "for": 4, "won": 1, "ate": 8}


def _parse_number(text: str) -> float | None:
    """The first number in the text, written ("12", "2.5") or spoken ("twenty one", "a hundred")."""
    lowered = re.sub(r"(?<=\d),(?=\d{3})", "", text.lower())
    lowered = re.sub(r"\bhalf a dozen\b", "six", lowered)
    tokens = re.findall(r"\d+(?:\.\d+)?|[a-z]+", lowered)
    for i, token in enumerate(tokens):
        if token[0].isdigit():
            return float(token)
        digits = list(itertools.takewhile(lambda t: t in _DIGIT_WORDS, tokens[i:]))
        if len(digits) >= 2 and digits[0] != "oh":
            # "four two" is read digit by digit, like a reference number.
            return float("".join(str(_DIGIT_WORDS[t]) for t in digits))
        if token in _UNITS or token in _TENS or token in _ORDINALS or (
            token == "a" and i + 1 < len(tokens) and tokens[i + 1] in _SCALES
        ):
            return _read_number_words(tokens[i:])
    if len(tokens) == 1 and tokens[0] in _HOMOPHONES:
        return float(_HOMOPHONES[tokens[0]])
    return None


def _read_number_words(tokens: list[str]) -> float:
    total, current = 0, 0
    decimals = ""
    for i, token in enumerate(tokens):
        if token in _UNITS:
            current += _UNITS[token]
        elif token in _TENS:
            current += _TENS[token]
        elif token in _ORDINALS:
            current += _ORDINALS[token]
        elif token in _SCALES:
            if _SCALES[token] == 100:
                current = max(current, 1) * 100
            else:
                total += max(current, 1) * _SCALES[token]
                current = 0
        elif token in ("a", "and"):
            continue
        elif token == "point":
            following = itertools.takewhile(lambda t: t in _DIGIT_WORDS, tokens[i + 1:])
            decimals = "".join(str(_DIGIT_WORDS[t]) for t in following)
            break
        else:
            break
    value = float(total + current)
    return float(f"{int(value)}.{decimals}") if decimals else value


_LEADING_FILLER = re.compile(
    r"^(?:(?:u+m+|u+h+|e+r+m*|well|so|okay|ok|yes|yeah|sure|please|it is|it's|its|that is|"
    r"that's|let's say|let us say|let's do|how about|maybe|i think|i would like|i'd like|i want|"
    r"i need|make it|on|at|for|the)\b[\s,.]*)+",
    re.IGNORECASE,
)


_TRAILING_FILLER = re.compile(
    r"(?:[\s,]+(?:please|thanks|thank you(?: very much)?))*[\s,.!?]*$", re.IGNORECASE
)


def _clean_spoken_text(text: str) -> str:
    """The value part of an answer: "um, on Tuesday please." → "Tuesday"."""
    return _TRAILING_FILLER.sub("", _LEADING_FILLER.sub("", text.strip())).strip(" ,.!?")


class Invalid:
    """Marker for an answer that does not fit the argument; `hint` says what was expected."""

    def __init__(self, hint: str, *, understood: bool = False, alone: bool = False) -> None:
        self.hint = hint
        # The answer was understood but cannot be used ("we're closed then"): not a miss.
        self.understood = understood
        # The hint is a question of its own ("Which one then: low or normal?"): the argument's
        # question is not asked after it.
        self.alone = alone


class NeedsTime(Invalid):
    """A day without a time for a date-time argument: `hint` asks for the time, and what the
    caller said is kept for their next answer."""


def coerce(schema: dict[str, Any], text: str, dtmf: str | None, clock: Clock | None = None,
           partial: str = "") -> Any:
    """The caller's answer as a value of the JSON-schema type, or an `Invalid`.

    Date and time arguments (`format` date-time, date or time) become ISO values checked
    against `clock`: in the future, within the business's hours; `partial` is the caller's
    earlier answer to the same question ("Tuesday", before "at three")."""
    kind = json_type(schema)
    if kind == "string" and schema.get("format") in DATE_FORMATS and not dtmf and clock:
        return _coerce_when(schema["format"], text, clock, partial)
    if "enum" in schema:
        return _pick_enum(list(schema["enum"]), text, dtmf)
    if kind in ("integer", "number"):
        return _coerce_number(schema, kind, text, dtmf)
    if kind == "boolean":
        answer = {"1": True, "2": False}.get(dtmf or "") if dtmf else yes_no(normalise(text))
        return Invalid("Sorry, please say yes or no.") if answer is None else answer
    if dtmf:
        return dtmf
    value = _clean_spoken_text(text)
    # A bare "no" is a refusal, not a value ("yes" is already stripped as filler).
    if not value or normalise(value) in NO_WORDS:
        return Invalid("Sorry, I didn't get that.")
    if schema.get("format") == "email":
        value = re.sub(r"\s+at\s+", "@", value.lower())
        value = re.sub(r"\s+dot\s+", ".", value).replace(" ", "")
    return value


def argument_value(name: str, schema: dict[str, Any], text: str, dtmf: str | None,
                   clock: Clock | None = None, partial: str = "") -> Any:
    """The caller's answer to the question for the argument `name`: a person's name read as
    one (`person_name`), anything else by its schema (`coerce`)."""
    if dtmf is None and is_person_name(name, schema):
        return person_name(text)
    return coerce(schema, text, dtmf, clock, partial)


def _coerce_number(schema: dict[str, Any], kind: str, text: str, dtmf: str | None) -> Any:
    if not dtmf and says_a_clock_time(text):
        return Invalid("Sorry, I need a number.")  # "8 pm is fine" is a time, not eight
    together = None if dtmf else _people_together(text)
    if together is None and not dtmf and _ALONE.search(text.lower()):
        text = "one"  # "just me": a party of one
    keyed = re.sub(r"\D", "", dtmf or "")
    number = (float(keyed) if keyed else None if dtmf
              else together if together is not None else _parse_number(text))
    if number is None:
        return Invalid("Sorry, I need a number.")
    if kind == "integer":
        number = round(number)
    low, high = schema.get("minimum"), schema.get("maximum")
    if (low is not None and number < low) or (high is not None and number > high):
        if low is not None and high is not None:
            return Invalid(f"Sorry, that needs to be between {spoken_value(low)} and "
                           f"{spoken_value(high)}.")
        return Invalid("Sorry, that number doesn't work.")
    return int(number) if kind == "integer" else number


def _coerce_when(schema_format: str, text: str, clock: Clock, partial: str) -> Any:
    value = when_value(schema_format, text, clock, partial)
    if isinstance(value, WhenProblem):
        if value.needs_time:
            return NeedsTime(str(value), understood=True)
        return Invalid(str(value), understood=value.understood)
    return value


# Words callers use for the usual levels of a priority or an urgency, by the option's name.
_LEVEL_WORDS = {
    "low": ("minor", "no rush", "not important", "whenever", "low priority"),
    "normal": ("medium", "moderate", "regular", "average", "standard", "middling", "so so"),
    "medium": ("normal", "moderate", "regular", "average", "standard", "middling", "so so"),
    "high": ("urgent", "important", "critical", "asap", "as soon as possible", "serious"),
    "urgent": ("high", "critical", "asap", "as soon as possible", "emergency", "very important",
               "top priority", "serious"),
    "critical": ("emergency", "everything is down", "top priority"),
}
_NEGATED_WORD = re.compile(
    r"\b(?:not|nothing|no|is not|isn't)\s+(?:very |that |too |really )?(\w+)")


def _negations(text: str) -> tuple[str, str, set[str]]:
    """(the words as said, the words without the options said with a negation, those options'
    words): "not urgent, low is fine" chooses low, not urgent."""
    said = normalise(text).lower()
    return said, _NEGATED_WORD.sub(" ", said), set(_NEGATED_WORD.findall(said))


def _pick_enum(options: list[Any], text: str, dtmf: str | None) -> Any:
    invalid = Invalid("Sorry, I didn't catch which one.")
    if not options:
        return invalid
    if dtmf:
        position = int(dtmf) if dtmf.isdigit() else 0
        return options[position - 1] if 1 <= position <= len(options) else invalid
    said, norm, negated = _negations(text)
    names = [normalise(str(option)).lower() for option in options]
    contained = _named(names, said, norm)
    if contained:
        return options[max(contained, key=lambda i: len(names[i]))]
    narrowed = _without_negated(options, names, negated)
    if narrowed is not None:
        return narrowed
    if all(isinstance(option, int | float) for option in options):
        number = _parse_number(text)
        return next((o for o in options if number is not None and o == number), invalid)
    by_place = _by_place(options, norm)
    return by_place if by_place is not None else _closest(options, names, norm, invalid)


def _named(names: list[str], said: str, norm: str) -> list[int]:
    """The options said by name, else by a usual word for their level ("medium" for normal,
    "asap" for urgent)."""
    contained = [i for i, name in enumerate(names) if contains_phrase(norm, name)]
    return contained or [i for i, name in enumerate(names) if any(
        # "no rush" is a level said with a negation: looked for in the words as said
        contains_phrase(said if _NEGATED_WORD.match(word) else norm, word)
        for word in _LEVEL_WORDS.get(name, ()))]


def _without_negated(options: list[Any], names: list[str], negated: set[str]) -> Any:
    """An option ruled out and none named: the one left, or a question for the ones left
    ("not urgent" of low, normal and urgent); None when nothing was ruled out."""
    ruled_out = [i for i, name in enumerate(names) if name in negated]
    if not ruled_out:
        return None
    left = [option for i, option in enumerate(options) if i not in ruled_out]
    if len(left) == 1:
        return left[0]
    said = [str(option).replace("_", " ") for option in left]
    return Invalid(f"Okay. Which one then: {', '.join(said[:-1])} or {said[-1]}?",
                   understood=True, alone=True)


def _by_place(options: list[Any], norm: str) -> Any:
    """"The second one", "the last one", "the middle one"; None when no place is said."""
    ordinal = next((_ORDINALS[t] for t in norm.split() if t in _ORDINALS), 0)
    if re.search(r"\b(?:one|option)\b", norm):
        if ordinal and ordinal <= len(options):
            return options[ordinal - 1]
        if re.search(r"\blast\b", norm):
            return options[-1]
        if re.search(r"\bmiddle\b", norm) and len(options) % 2:
            return options[len(options) // 2]
    return None


def _closest(options: list[Any], names: list[str], norm: str, invalid: Invalid) -> Any:
    """Fuzzy: each option against the same number of consecutive spoken words."""
    tokens = norm.split()
    best, best_score = invalid, 0.0
    for option, name in zip(options, names, strict=True):
        width = max(1, len(name.split()))
        for start in range(max(1, len(tokens) - width + 1)):
            window = " ".join(tokens[start:start + width])
            score = difflib.SequenceMatcher(None, window, name).ratio()
            if score > best_score:
                best, best_score = option, score
    return best if best_score >= 0.75 else invalid


def enum_values_in(tool: ToolSpec, text: str, args: dict[str, Any]) -> dict[str, Any]:
    """Enum arguments the caller already named while asking for the tool (exact words only)."""
    _, norm, negated = _negations(text)  # "not express" names no option
    found = dict(args)
    properties = tool.parameters.get("properties", {})
    for name in required_arguments(tool):
        options = properties.get(name, {}).get("enum")
        if name in found or not options:
            continue
        named = [o for o in options if contains_phrase(norm, normalise(str(o)).lower())]
        left = _without_negated(options, [normalise(str(o)).lower() for o in options], negated)
        if len(named) == 1:
            found[name] = named[0]
        elif not named and left is not None and not isinstance(left, Invalid):
            found[name] = left  # "not express" of standard and express
    return found


_ALONE = re.compile(r"\b(?:just|only) me\b|\bmyself\b|\b(?:on my own|by myself|alone)\b")
# A party said as who comes: "me and my wife", "two adults and two kids", "me and three friends".
_SELF = re.compile(r"\b(?:me|myself|i)\b")
_RELATIVE = re.compile(
    r"\b(?:my|our|a|the) (?:wife|husband|partner|fiance|fiancee|boyfriend|girlfriend|friend|date"
    r"|son|daughter|kid|child|baby|toddler|mum|mom|mother|dad|father|brother|sister|grandma"
    r"|grandmother|grandpa|grandfather|aunt|uncle|cousin|nephew|niece|colleague|boss|guest)\b")
_PEOPLE_NOUN = re.compile(r"\b(?:adults?|kids?|child(?:ren)?|bab(?:y|ies)|friends?|people|guests?"
                          r"|teens?|teenagers?|seniors?|of us)\b")
_PARTS = re.compile(r"\s*(?:,|\band\b|\bplus\b|\bwith\b)\s*")


def _people_together(text: str) -> float | None:
    """The party size when the caller lists who comes, each part a count or people ("me and
    my wife" is 2, "two adults and two kids" 4); None when the answer is not such a list."""
    lowered = text.lower().replace("\u2019", "'")
    parts = [part for part in _PARTS.split(lowered.strip(" .!?")) if part]
    if len(parts) < 2:
        return None
    total, about_people = 0.0, False
    for part in parts:
        said = _parse_number(part)
        people = len(_SELF.findall(part)) + len(_RELATIVE.findall(part))
        if said is None and not people:
            return None  # "four and a high chair": not a list of people
        about_people = about_people or bool(people or _PEOPLE_NOUN.search(part))
        total += said if said is not None else people
    # "a hundred and twenty", "one two and three" are numbers, not a party
    return total if about_people else None


# How a caller gives a name: "under the name Smith", "it's for Maria", "my name is Ana Lopez".
_NAME_LEAD = re.compile(
    r"^(?:(?:yes|yeah|sure|ok|okay|um+|uh+|so|well|oh)[,.]? )*"
    r"(?:(?:you can |please )?(?:put|book) it (?:under|for) (?:the name )?(?:of )?"
    r"|(?:it's |it is |that's |that is )?under (?:the name )?(?:of )?"
    r"|(?:it's |it is )?in the name of |(?:my |the |his |her |our )?(?:full )?name(?:'s| is) "
    r"|(?:it's |it is |that's |that is |this is |i'm |i am |call me |it's for |for )+)",
    re.IGNORECASE)
# A name given with the request: "a table for two on Friday under the name Smith".
_NAME_IN_REQUEST = re.compile(
    r"\b(?:under (?:the name )?(?:of )?|in the name of |(?:my |the )?name(?:'s| is) )"
    r"([a-z][a-z'-]*(?: (?!(?:at|on|for|and|please|thanks|thank|tomorrow|today|tonight)\b)"
    r"[a-z][a-z'-]*){0,2})", re.IGNORECASE)
# Words no person's name is made of: counts, people, times, answers.
_NOT_IN_A_NAME = frozenset(
    set(ONES_VALUE) | set(TENS_VALUE) | NO_WORDS | {
        "people", "persons", "guests", "us", "of", "adults", "kids", "children", "party",
        "table", "booking", "reservation", "appointment", "am", "pm", "oclock", "o'clock",
        "today", "tomorrow", "tonight", "monday", "tuesday", "wednesday", "thursday", "friday",
        "saturday", "sunday", "what", "when", "where", "how", "why", "which", "who", "can",
        "could", "do", "does", "is", "are", "yes", "yeah", "okay", "ok", "couple", "dozen"})


def person_name(text: str) -> str | Invalid:
    """The name in a caller's answer to "What name should the booking be under?" ("it's for
    Maria" is "Maria"), or an `Invalid` for an answer no name is made of ("four of us", "8 pm",
    a question)."""
    value = _TRAILING_FILLER.sub("", _NAME_LEAD.sub("", text.strip().strip(" ,.!?")))
    value = value.strip(" ,.!?")
    words = value.lower().split()
    if not words or len(words) > 4 or any(
            any(ch.isdigit() for ch in word) or word.strip(",.") in _NOT_IN_A_NAME
            for word in words):
        return Invalid("Sorry, I didn't catch the name.")
    return value


_COUNTED = re.compile(r"\b(?:people|persons|guests|party|size|covers|seats|adults|number of)\b")


# A count of people in a request: "a table for four", "a group of six", "three of us".
_COUNT_PATTERNS = (
    re.compile(r"\b(?:for|party of|table for|group of)\s+(\w+(?:\s\w+)?)"
               r"(?:\s+(?:people|persons|guests|of us|adults))?"),
    re.compile(r"\b(\w+(?:\s\w+)?)\s+(?:of us|people|persons|guests|adults)\b"),
)


def _count_said(lowered: str) -> float | None:
    for pattern in _COUNT_PATTERNS:
        for found in pattern.finditer(lowered):  # "for tomorrow night" is no count: go on
            number = _parse_number(found.group(1))
            if number is not None:
                return number
    return None


@dataclass(slots=True)
class Prefilled:
    args: dict[str, Any]
    partial: str = ""  # a day still waiting for its time
    problem: str = ""  # why a date they gave cannot be used ("we're closed on Sundays")


def prefilled(tool: ToolSpec, text: str, args: dict[str, Any],
              clock: Clock | None, days: dict[str, str] | None = None) -> Prefilled:
    """Arguments the caller already gave while asking for the tool ("a table for four on
    Friday at seven"): dates and times, counts of people, a name said as one ("under the name
    Smith"); other free text is always asked for. `days`: the day of each date-time argument
    already filled, which a time said alone keeps."""
    result = Prefilled(dict(args))
    found = result.args
    properties = tool.parameters.get("properties", {})
    for name in required_arguments(tool):
        schema = properties.get(name, {})
        if name in found or not isinstance(schema, dict):
            continue
        if schema.get("format") in DATE_FORMATS and clock is not None:
            # A time alone keeps the day already given ("make it 3 pm" at a read-back)
            said = parse_when(text, clock.now, clock.hours)
            day = ((days or {}).get(name, "") if said is not None and said.has_time
                   and not said.has_date else "")
            value = coerce(schema, text, None, clock, day)
            if isinstance(value, NeedsTime):
                result.partial = text
            elif not isinstance(value, Invalid):
                found[name] = value
            elif parse_when(text, clock.now, clock.hours) is not None:
                result.problem = value.hint
                # closed at that time, open that day: the day is kept, its time asked for
                result.partial = open_day_of(text, clock)
        elif is_person_name(name, schema):
            given = _NAME_IN_REQUEST.search(text)
            value = person_name(given.group(1)) if given else None
            if isinstance(value, str):
                found[name] = value
        elif json_type(schema) == "integer" and _COUNTED.search(
                f"{name} {schema.get('description', '')}".lower().replace("_", " ")):
            number = _count_said(text.lower())
            if number is not None:
                value = coerce(schema, str(int(number)), None)
                if isinstance(value, Invalid):
                    result.problem = value.hint  # "a group of 14": said now, not asked for
                else:
                    found[name] = value
    return result
