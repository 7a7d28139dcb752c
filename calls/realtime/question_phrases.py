"""Other ways callers ask an agent's knowledge questions, for the offline recogniser's per-agent
language model: "How do I reset my password?" is also asked as "I need to reset my password" or
"can you help me reset my password", and the model should expect those word sequences as much as
the entry's own.

The rewrites are generic English question frames (how do I, what is, where is, how much, do you,
is there, when are you open), applied to whatever the business wrote; a question in no known
frame is left as written. They are not the evaluation sets' sentences.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

_CLAUSE_END = re.compile(r"[?.!;]+")
_NOT_SPOKEN = re.compile(r"[^a-z0-9' -]+")


def _how_to(action: str) -> list[str]:
    return [f"how do i {action}", f"how can i {action}", f"i need to {action}",
            f"i want to {action}", f"i'd like to {action}", f"can you help me {action}",
            f"can i {action}", f"how to {action}", f"where do i {action}"]


def _what_is(determiner: str, thing: str) -> list[str]:
    phrases = [f"what's {determiner}{thing}", f"what is {determiner}{thing}",
               f"can you tell me {determiner}{thing}", f"i need {determiner}{thing}"]
    if determiner in ("the ", "a ", ""):
        phrases += [f"is there a {thing}", f"do you have a {thing}"]
    return phrases


def _what_are(determiner: str, things: str) -> list[str]:
    return [f"what are {determiner}{things}", f"can you tell me {determiner}{things}",
            f"i'd like to know {determiner}{things}"]


def _when_open(verb: str, subject: str) -> list[str]:
    does = "does" if verb == "is" else "do"
    hours = "your hours" if subject == "you" else f"the {subject.removeprefix('the ')} hours"
    return [f"when {verb} {subject} open", f"what time {verb} {subject} open",
            f"what time {does} {subject} open", f"what time {does} {subject} close",
            f"{verb} {subject} open today", f"what are {hours}"]


def _where(verb: str, place: str) -> list[str]:
    if place.startswith("you"):  # "where are you located"
        return ["where are you", "where are you located", "what's your address",
                "how do i find you", "how do i get to you"]
    return [f"where {verb} {place}", f"how do i get to {place}", f"how do i find {place}"]


def _how_much(thing: str) -> list[str]:
    return [f"how much is {thing}", f"how much does {thing} cost", f"what does {thing} cost",
            f"what's the price of {thing}", f"what do you charge for {thing}"]


def _do_you(rest: str) -> list[str]:
    if rest.startswith("have "):  # "do you have a kids menu": not "can you have"
        thing = rest.removeprefix("have ")
        return [f"do you have {thing}", f"have you got {thing}", f"do you guys have {thing}",
                f"i was wondering if you have {thing}"]
    return [f"do you {rest}", f"can you {rest}", f"do you guys {rest}",
            f"i was wondering if you {rest}"]


def _is_there(rest: str) -> list[str]:
    return [f"is there {rest}", f"do you have {rest}", f"have you got {rest}"]


def _are_you(rest: str) -> list[str]:
    return [f"are you {rest}", f"are you still {rest}"]


# (pattern over one spoken clause, rewrites of its groups); the first that matches is used.
_FRAMES: tuple[tuple[re.Pattern[str], Callable[..., list[str]]], ...] = tuple(
    (re.compile(pattern), rewrite) for pattern, rewrite in (
        (r"^how (?:do|can|could|should) i (.+)$", _how_to),
        (r"^(?:what is|what's) (the |your |a |an |)(.+)$", _what_is),
        (r"^what are (the |your |)(.+)$", _what_are),
        (r"^when (is|are) (.+?) open$", _when_open),
        (r"^where (is|are) (.+)$", _where),
        (r"^how much (?:does|is|do|are) (.+?)(?: cost)?$", _how_much),
        (r"^do you (.+)$", _do_you),
        (r"^(?:is|are) there (.+)$", _is_there),
        (r"^can you (.+)$", _do_you),
        (r"^are you (.+)$", _are_you),
    ))


def _clauses(question: str) -> list[str]:
    clauses = []
    for part in _CLAUSE_END.split(question.lower().replace("’", "'")):
        spoken = " ".join(_NOT_SPOKEN.sub(" ", part.replace("-", " ")).split())
        if spoken:
            clauses.append(spoken)
    return clauses


def question_phrases(questions: Iterable[str]) -> list[str]:
    """Rewrites of each clause of `questions` in the frames callers ask it in (without the
    clause as written: the questions themselves are in the vocabulary already)."""
    phrases: list[str] = []
    for question in questions:
        for clause in _clauses(question):
            for pattern, rewrite in _FRAMES:
                match = pattern.match(clause)
                if match:
                    phrases += [p for p in rewrite(*match.groups()) if p != clause]
                    break
    return list(dict.fromkeys(phrases))


_CAN = re.compile(r"^can (i|you|we) ", re.IGNORECASE)


def could_phrases(phrases: Iterable[str]) -> list[str]:
    """The polite "could" of every "can I / can you / can we" request ("could I move it to
    another day", "could you transfer me"): callers say both, and the models held no "could"."""
    return list(dict.fromkeys(_CAN.sub(lambda m: f"could {m.group(1).lower()} ", p)
                              for p in phrases if _CAN.match(p)))
