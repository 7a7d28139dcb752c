"""What callers answer to the offline brain's questions, as phrases: the days and times of a
date, the options of a choice, a count of people, a yes or a no. The recogniser's per-agent
language model is trained on them (`calls/realtime/slot_phrases.py`), and the brain hands the
ones its question expects to the recogniser for the caller's next turn (`Done.expects`)."""

from __future__ import annotations

import functools
import itertools
from pathlib import Path
from typing import Any

from aybiza.core.hours import DAY_NAMES, MONTH_NAMES
from aybiza.core.spoken import NO_WORDS, ONES, ORDINAL_DAY_WORDS, YES_WORDS
from calls.realtime.providers.llm.offline.when import DATE_FORMATS

_HOURS = ONES[1:13]


def _date_phrases() -> list[str]:
    # Few phrases per pattern: the trigram model generalises "at ten" from them, and a long list
    # would outweigh the agent's own questions in its model ("when is my appointment" heard as
    # "when at nine appointment").
    days = [day.lower() for day in DAY_NAMES]
    phrases = ["tomorrow", "the day after tomorrow", "in the morning", "in the afternoon",
               "next week", "at noon"]
    phrases += [f"on {day}" for day in days] + [f"next {day}" for day in days]
    phrases += [f"{day} at {hour}" for day, hour in zip(days, _HOURS[8:] + _HOURS[:4],
                                                         strict=False)]
    # Every month: the brain reads a date back with its month ("Monday, December 7"), and the
    # caller's correction names it (ten ordinals once left November and December out).
    phrases += [f"the {day}" for day in _ORDINAL_DAYS[::2]] + [
        f"{month} {day}" for month, day in zip(_MONTHS, itertools.cycle(_ORDINAL_DAYS[1::3]))]
    phrases += [f"at {hour}" for hour in _HOURS] + [
        f"{hour} thirty" for hour in _HOURS[::3]] + ["half past two", "quarter past three"]
    # The clock's words ("two o'clock" was heard as "what on day", "two pm" as "two p am").
    phrases += [f"{hour} o'clock" for hour in _HOURS[1::3]] + [
        f"at {hour} pm" for hour in _HOURS[::4]] + [f"{hour} am" for hour in _HOURS[2::4]]
    return phrases


# The days of a month in order ("first" .. "thirty first").
_ORDINAL_DAYS = tuple(word for word, day in sorted(ORDINAL_DAY_WORDS.items(), key=lambda i: i[1])
                      if day <= 31)
_MONTHS = tuple(month.lower() for month in MONTH_NAMES)


def _count_phrases(maximum: int) -> list[str]:
    phrases = []
    for n in range(1, min(maximum, 20) + 1):
        word = ONES[n]
        phrases += [f"{word} people", f"for {word}"]
    return phrases


# Answers to a yes-or-no question (a read-back, an offer): the words `yes_no` reads as either.
YES_NO_PHRASES: tuple[str, ...] = (
    *sorted((YES_WORDS | NO_WORDS) - {"not", "don't", "dont", "rather", "please", "refuse"}),
    "yes please", "no thank you", "no thanks", "that's right", "that's correct", "go ahead",
    "i'd rather not", "i don't mind", "not really")


# How callers correct a read-back: "No, make it Friday at two", "Actually, four people". The
# expected model holds the new answer after its lead-in as well as alone, so the words after a
# "no" or an "actually" are expected too ("actually make it thursday at ten").
CORRECTION_LEADS = ("no make it", "no", "actually")


def correction_phrases(answers: list[str]) -> list[str]:
    """A read-back's corrections: each answer on its own and after a lead-in."""
    return [*answers, *(f"{lead} {answer}" for lead in CORRECTION_LEADS for answer in answers)]


def answer_phrases(name: str, schema: dict[str, Any]) -> list[str]:
    """What callers say to the brain's question for one tool argument: the days and times of a
    date, the options of a choice, a yes or a no, a count of people ([] when it cannot be
    foreseen: a name, a description)."""
    if not isinstance(schema, dict):
        return []
    if schema.get("format") in DATE_FORMATS:
        return _date_phrases()
    if "enum" in schema:
        return [str(option).replace("_", " ") for option in schema["enum"]]
    if schema.get("type") == "boolean":
        return list(YES_NO_PHRASES)
    if schema.get("type") == "integer" and any(
            word in name.lower() for word in ("party", "guests", "people", "size")):
        return _count_phrases(int(schema.get("maximum", 12)))
    return []


# Arguments named "..._name" that are not a person's ("company_name", "user_name": a login).
_NOT_A_PERSON = frozenset({
    "company", "business", "product", "file", "user", "host", "server", "device", "account",
    "pet", "street", "city", "domain", "app", "project", "team", "item", "service", "display",
    "brand", "model", "network", "event", "venue", "shop", "store", "organisation",
    "organization"})
_NAMES_FILE = Path(__file__).with_name("person_names.txt")
# Each given name is paired with this many surnames in the expected model, so a surname is
# likely after any given name (a trigram model learns pairs, and backs off to single names).
_SURNAMES_PER_GIVEN_NAME = 3


def is_person_name(name: str, schema: dict[str, Any]) -> bool:
    """The argument is a person's name ("name", "guest_name", "full_name"): free text with no
    options or format, whose name ends in "name" and is not a company's, a login's, a file's."""
    if not isinstance(schema, dict) or "enum" in schema or schema.get("format"):
        return False
    if schema.get("type", "string") != "string":
        return False
    words = name.lower().replace("-", "_").split("_")
    return words[-1] == "name" and not set(words[:-1]) & _NOT_A_PERSON


@functools.cache
def name_phrases() -> tuple[str, ...]:
    """What callers say when asked for a name: common given names, alone and with a surname
    (`person_names.txt`). Expected only after the brain's question for a name: in the agent's
    own model some 1,800 names would outweigh its sentences."""
    given: list[str] = []
    surnames: list[str] = []
    section = given
    for line in _NAMES_FILE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = given if line == "[given]" else surnames
            continue
        section.append(line)
    count = len(given) * _SURNAMES_PER_GIVEN_NAME  # every surname about as often
    pairs = [f"{given[k // _SURNAMES_PER_GIVEN_NAME]} {surnames[k % len(surnames)]}"
             for k in range(count)]
    return (*pairs, *given)


def question_phrases(name: str, schema: dict[str, Any]) -> list[str]:
    """What the caller's answer to the brain's question for `name` is expected to be: a name
    for a person's name, else `answer_phrases`."""
    if is_person_name(name, schema):
        return list(name_phrases())
    return answer_phrases(name, schema)
