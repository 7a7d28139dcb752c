"""The offline brain: a deterministic, rule-based conversational brain. It is NOT an LLM.

It lets a fresh clone run a whole phone call with no network: it answers from the agent's
knowledge (question, answer) pairs, fills the required arguments of a tool over several turns and
calls it, speaks tool results, says goodbye, and asks for a transfer to a human. English only.

How it decides
    The object is stateless: every `respond` replays the conversation's caller turns through the
    same pure decision function, so one instance serves any number of calls and a barge-in that
    cut the agent's last sentence short cannot confuse it. The state derived from the replay is:
    the tool being filled and the arguments collected so far, the count of consecutive
    misunderstandings, and whether a transfer to a human was just offered. A tool call closes the
    tool flow: one the brain decided on (even if the session cancelled it before it ran) and any
    recorded in the messages.

    The last message decides what is answered: "user" → a reply to the caller, "tool" → the
    results spoken, anything else (e.g. only the greeting so far) → an empty turn.

Matching
    Utterances are normalised (contractions expanded, punctuation dropped), stop words removed,
    words lightly stemmed and folded into concepts for common phone-call vocabulary (hours,
    location, price, booking, ...). Words a recogniser got slightly wrong are matched fuzzily. The
    score mixes token overlap with a character-level difflib ratio; below `MATCH_THRESHOLD`
    the caller is not understood.

DTMF
    The session sends key presses as user text ``"[DTMF <digits>]"``, e.g. ``"[DTMF 1]"`` or
    ``"[DTMF 42#]"``; digits are ``0-9``, ``*`` and ``#``; a trailing ``#`` ends an entry.
    - While an argument is being asked for: integer/number → the digits as a number, string →
      the digits as text, boolean → 1 yes / 2 no, enum → the n-th option (1-based). A lone 0
      still asks for a human unless a number is being asked for.
    - After a transfer was offered: 1 yes (transfer), 2 no.
    - Otherwise: 0 → transfer to a human, * → repeat the last thing said, other keys → not
      understood.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import heapq
import itertools
import json
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from aybiza.core.spoken import (
    DIGIT_WORDS,
    NO_WORDS,
    ONES_VALUE,
    ORDINALS,
    TENS_VALUE,
    YES_WORDS,
    yes_no,
)
from calls.realtime.providers.llm.base import (
    BrainEvent,
    Conversation,
    Done,
    LLMProvider,
    Message,
    TextDelta,
    ToolCall,
    ToolResult,
    ToolSpec,
)

MATCH_THRESHOLD = 0.5
# A knowledge match this strong wins over taking the utterance as a slot's value.
STRONG_MATCH = 0.7
# Consecutive misunderstandings after which a human is offered.
MISSES_BEFORE_HUMAN = 2

GOODBYE_LINE = "Thank you for calling. Goodbye!"
TRANSFER_LINE = "Let me transfer you to a member of our team."
REPROMPT_LINE = "Sorry, I didn't catch that."
ANYTHING_ELSE = "Is there anything else I can help you with?"
OFFER_HUMAN_LINE = (
    "Sorry, I'm still not sure I understand. "
    "Would you like me to transfer you to a member of our team?"
)

_DTMF = re.compile(r"\s*\[\s*DTMF\s*([0-9*#]+)\s*\]\s*", re.IGNORECASE)

# --------------------------------------------------------------------------------------------
# Text analysis
# --------------------------------------------------------------------------------------------

def _words(text: str) -> list[str]:
    """Whitespace-separated words: keeps long vocabulary lists readable."""
    return text.split()


_STOP_WORDS = frozenset(_words(
    """
    a an the and or but if so to of for in on at by with from up about into over after before
    then than too very can could would should will shall may might must do does did doing done
    be been being am is are was were have has had having i me my mine myself we us our ours
    you your yours he she him her it its they them their this that these those what which who
    whom whose when why how there here hi hello hey please thanks thank like want wanted need
    know tell just okay ok um uh er erm ah oh well also any some get got make let lets go going
    guys yeah yes no not really actually maybe something anything thing much many more
    """
))

# Concept → words (and phrasings) callers use for it; matching is done on concepts.
_SYNONYM_GROUPS: dict[str, tuple[str, ...]] = {
    "hours": ("hour", "hours", "open", "opening", "opens", "close", "closing", "closes", "closed"),
    "location": (
        "address", "location", "located", "locate", "where", "find", "directions", "direction",
        "map", "situated", "street", "road", "based",
    ),
    "price": (
        "price", "prices", "pricing", "cost", "costs", "fee", "fees", "charge", "charges", "rate",
        "rates", "expensive", "cheap", "afford", "quote", "dollars", "money",
    ),
    "payment": ("pay", "paying", "payment", "payments", "card", "cards", "credit", "debit", "cash"),
    "booking": (
        "book", "booking", "appointment", "appointments", "schedule", "reserve", "reservation",
        "slot", "availability", "available",
    ),
    "cancel": ("cancel", "cancellation", "cancelling", "canceling"),
    "contact": ("phone", "telephone", "email", "contact", "reach"),
    "day": (
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "weekend",
        "weekends", "today", "tomorrow", "holiday", "holidays",
    ),
    "delivery": ("deliver", "delivery", "ship", "shipping", "shipped"),
    "refund": ("refund", "refunds", "return", "returns"),
    "services": ("service", "services", "offer", "provide", "menu", "sell", "treatment"),
    "order": ("order", "orders", "purchase"),
}

# Multi-word phrasings folded before tokenising, so "how much" reads as the price concept.
_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(rf"\b{pattern}\b"), replacement)
    for pattern, replacement in (
        ("how much", "cost"),
        ("get (?:there|to you)", "directions"),
        ("money back", "refund"),
    )
)


def _stem(word: str) -> str:
    """A light suffix stripper: enough to make opening/opens/open and booked/booking agree."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ing") and len(word) > 5:
        word = word[:-3]
    elif word.endswith("ed") and len(word) > 4:
        word = word[:-2]
    if len(word) >= 4 and word[-1] == word[-2] and word[-1] not in "aeiouylsz":
        word = word[:-1]
    if word.endswith("e") and len(word) >= 5:
        word = word[:-1]
    return word


_CONCEPT_OF: dict[str, str] = {}
for _group, _members in _SYNONYM_GROUPS.items():
    for _member in _members:
        _CONCEPT_OF[_member] = _group
        _CONCEPT_OF.setdefault(_stem(_member), _group)
_FUZZY_VOCABULARY = sorted(word for word in _CONCEPT_OF if len(word) >= 4 and word.isalpha())


def _normalise(text: str) -> str:
    """Lowercase, expand contractions, turn punctuation into spaces."""
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    text = text.replace("can't", "can not").replace("won't", "will not")
    text = re.sub(r"n't\b", " not", text)
    for suffix, expansion in (("'re", " are"), ("'s", " is"), ("'d", " would"),
                              ("'ll", " will"), ("'ve", " have"), ("'m", " am")):
        text = re.sub(rf"{suffix}\b", expansion, text)
    return " ".join(re.sub(r"[\W_]+", " ", text).split())


@lru_cache(maxsize=8192)
def _concept(token: str) -> str | None:
    """The concept a token stands for, tolerating small recognition errors ("locatid")."""
    found = _CONCEPT_OF.get(token) or _CONCEPT_OF.get(_stem(token))
    if found or token in _STOP_WORDS or len(token) < 4 or not token.isalpha():
        return found
    close = difflib.get_close_matches(token, _FUZZY_VOCABULARY, n=1, cutoff=0.8)
    return _CONCEPT_OF[close[0]] if close else None


@dataclass(frozen=True, slots=True)
class _Analysis:
    norm: str
    # Stems, and concepts prefixed with "@" (concepts only ever match exactly).
    terms: tuple[str, ...]


@lru_cache(maxsize=8192)
def _analyse(text: str) -> _Analysis:
    norm = _normalise(text)
    folded = norm
    for pattern, replacement in _PHRASES:
        folded = pattern.sub(replacement, folded)
    terms: dict[str, None] = {}
    for token in folded.split():
        concept = _concept(token)
        if concept:
            terms["@" + concept] = None
        elif token not in _STOP_WORDS:
            terms[_stem(token)] = None
    return _Analysis(norm=norm, terms=tuple(terms))


def _term_match(a: str, b: str) -> float:
    if a == b:
        return 1.0
    if a[0] == "@" or b[0] == "@" or len(a) < 4 or len(b) < 4:
        return 0.0
    # Words of very different length cannot reach the ratio: skip difflib for them.
    if 2 * min(len(a), len(b)) < 0.8 * (len(a) + len(b)):
        return 0.0
    return _word_ratio(a, b) if a < b else _word_ratio(b, a)


@lru_cache(maxsize=65536)
def _word_ratio(a: str, b: str) -> float:
    matcher = difflib.SequenceMatcher(None, a, b)
    if matcher.quick_ratio() < 0.8:
        return 0.0
    ratio = matcher.ratio()
    return ratio if ratio >= 0.8 else 0.0


def _overlap(utterance: _Analysis, reference: _Analysis) -> tuple[float, float]:
    """(recall of the reference's terms, precision of the utterance's terms), fuzzily."""
    if not utterance.terms or not reference.terms:
        return 0.0, 0.0
    matched = sum(
        max(_term_match(ref, said) for said in utterance.terms) for ref in reference.terms
    )
    return matched / len(reference.terms), min(1.0, matched / len(utterance.terms))


def _token_score(utterance: _Analysis, reference: _Analysis) -> float:
    recall, precision = _overlap(utterance, reference)
    return 0.65 * recall + 0.35 * precision


def _similarity(
    utterance: _Analysis, reference: _Analysis, token_score: float | None = None
) -> float:
    """How well an utterance matches a short reference text (a question, a trigger phrase)."""
    if token_score is None:
        token_score = _token_score(utterance, reference)
    if token_score < 0.25:
        # Even a perfect character ratio and the request bias could not lift it to the threshold.
        return 0.8 * token_score
    char_score = difflib.SequenceMatcher(None, utterance.norm, reference.norm).ratio()
    return 0.8 * token_score + 0.2 * char_score


def _coverage(utterance: _Analysis, text: _Analysis) -> float:
    """How much of what the caller said is found in a long text (an answer, a description).

    Concepts count for less than specific words: a long text mentions some broad concept
    ("available") by chance, a specific word ("parking") rarely.
    """
    if not utterance.terms or not text.terms:
        return 0.0
    found = sum(
        max(_term_match(said, word) for word in text.terms) * (0.75 if said[0] == "@" else 1.0)
        for said in utterance.terms
    )
    return found / len(utterance.terms)


def _contains_phrase(haystack: str, needle: str) -> bool:
    return bool(needle) and re.search(rf"(?:^| ){re.escape(needle)}(?: |$)", haystack) is not None


# --------------------------------------------------------------------------------------------
# Intent matching: knowledge entries and tools
# --------------------------------------------------------------------------------------------

_QUESTION_START = re.compile(r"^(?:how|what|where|when|why|which|who|is|are|do|does)\b")
_REQUEST = re.compile(
    r"\b(?:want|would like|need|can i|could i|let me|help me|i would|please|i am looking)\b"
)


@dataclass(frozen=True, eq=False)
class _Index:
    """Analysed knowledge and tools of one agent; hashed by identity so matches can be cached."""

    questions: tuple[_Analysis, ...]
    answers: tuple[_Analysis, ...]
    triggers: tuple[tuple[_Analysis, ...], ...]
    names: tuple[_Analysis, ...]
    descriptions: tuple[_Analysis, ...]


@lru_cache(maxsize=256)
def _build_index(
    knowledge: tuple[tuple[str, str], ...],
    tools: tuple[tuple[str, str, tuple[str, ...]], ...],
) -> _Index:
    return _Index(
        questions=tuple(_analyse(question) for question, _ in knowledge),
        answers=tuple(_analyse(answer) for _, answer in knowledge),
        triggers=tuple(tuple(_analyse(phrase) for phrase in phrases) for _, _, phrases in tools),
        names=tuple(_analyse(_humanise(name)) for name, _, _ in tools),
        descriptions=tuple(_analyse(description) for _, description, _ in tools),
    )


@dataclass(frozen=True, slots=True)
class _Match:
    kind: str  # "knowledge", "tool" or "none"
    index: int = -1
    score: float = 0.0


_SHORTLIST = 5


@lru_cache(maxsize=8192)
def _best_match(text: str, index: _Index) -> _Match:
    """The knowledge entry or tool the utterance is about, if any scores above the threshold."""
    said = _analyse(text)
    token_scores = [_token_score(said, question) for question in index.questions]
    # The character ratio is the costly part and only separates close candidates.
    shortlist = set(heapq.nlargest(_SHORTLIST, range(len(token_scores)), token_scores.__getitem__))
    best_knowledge = _Match("none")
    for i, (question, answer) in enumerate(zip(index.questions, index.answers, strict=True)):
        question_score = (
            _similarity(said, question, token_scores[i]) if i in shortlist
            else 0.8 * token_scores[i]
        )
        score = max(question_score, 0.6 * _coverage(said, answer))
        if score > best_knowledge.score:
            best_knowledge = _Match("knowledge", i, score)
    best_tool = _Match("none")
    for i, triggers in enumerate(index.triggers):
        score = max(
            [_similarity(said, trigger) for trigger in triggers]
            + [0.9 for trigger in triggers if _contains_phrase(said.norm, trigger.norm)]
            + [0.9 * _similarity(said, index.names[i]),
               0.7 * _coverage(said, index.descriptions[i])]
        )
        if score > best_tool.score:
            best_tool = _Match("tool", i, score)
    # A request ("I'd like to book") leans to the action, a question ("how do I book") to facts.
    if _QUESTION_START.match(said.norm):
        best_knowledge = replace(best_knowledge, score=best_knowledge.score + 0.05)
    elif _REQUEST.search(said.norm):
        best_tool = replace(best_tool, score=best_tool.score + 0.1)
    best = best_tool if best_tool.score >= best_knowledge.score else best_knowledge
    return best if best.score >= MATCH_THRESHOLD else _Match("none")


def _index_of(conversation: Conversation) -> _Index:
    return _build_index(
        tuple((str(q), str(a)) for q, a in conversation.knowledge),
        tuple((t.name, t.description, tuple(t.trigger_phrases)) for t in conversation.tools),
    )


# --------------------------------------------------------------------------------------------
# Whole-utterance intents
# --------------------------------------------------------------------------------------------


def _any(patterns: Sequence[str]) -> re.Pattern[str]:
    return re.compile("|".join(rf"(?:\b{p}\b)" for p in patterns))


_HUMAN = _any([
    r"(?:real|live|actual) (?:person|human|people)", r"humans?", r"operators?",
    r"representatives?", r"agent", r"receptionist", r"customer (?:service|support)",
    r"member of (?:your |the )?(?:staff|team)",
    r"(?:speak|talk) (?:to|with) (?:someone|somebody|a person|a manager|staff|a member)",
])
# Long words only: a fuzzy "operator" would also hear "operate".
_HUMAN_WORDS = ("representative", "receptionist")
_GOODBYE = _any([
    r"good ?bye", r"bye", r"that is (?:all|it)", r"nothing else", r"hang up", r"i am done",
    r"have a (?:good|nice|great|lovely) (?:day|one|evening|night|weekend)", r"see you",
    r"talk to you later",
])
_CANCEL = re.compile(
    r"^(?:no )?(?:cancel(?: (?:that|it|this))?|never ?mind|forget (?:it|about it)|stop)"
    r"(?: please)?$"
)
_REPEAT = re.compile(
    r"^(?:sorry|pardon|pardon me|what|excuse me)$|\brepeat\b|\bsay (?:that |it )?again\b"
    r"|\bcome again\b|\bwhat did you say\b"
)
_THANKS = re.compile(r"^(?:(?:ok|okay|great|perfect) )?(?:thank you|thanks)(?: (?:very much|so "
                     r"much|a lot))?$|^cheers$")
_GREETING = re.compile(r"^(?:hi|hello|hey|good (?:morning|afternoon|evening))(?: there)?$")
_BARE_NO = re.compile(r"^(?:no|nope|nah)(?: (?:thank you|thanks))?$")


def _is_human_request(norm: str) -> bool:
    if _HUMAN.search(norm):
        return True
    # Tolerate misrecognised single words such as "representive".
    return any(
        difflib.get_close_matches(token, _HUMAN_WORDS, n=1, cutoff=0.8)
        for token in norm.split() if len(token) >= 8
    )


# --------------------------------------------------------------------------------------------
# Spoken numbers and argument coercion
# --------------------------------------------------------------------------------------------

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


class _Invalid:
    """Marker for an answer that does not fit the argument; `hint` says what was expected."""

    def __init__(self, hint: str) -> None:
        self.hint = hint


def _json_type(schema: dict[str, Any]) -> str:
    declared = schema.get("type", "string")
    if isinstance(declared, list):
        declared = next((t for t in declared if t != "null"), "string")
    return str(declared)


def _coerce(schema: dict[str, Any], text: str, dtmf: str | None) -> Any:
    """The caller's answer as a value of the JSON-schema type, or an `_Invalid`."""
    kind = _json_type(schema)
    if "enum" in schema:
        return _pick_enum(list(schema["enum"]), text, dtmf)
    if kind in ("integer", "number"):
        keyed = re.sub(r"\D", "", dtmf or "")
        number = float(keyed) if keyed else None if dtmf else _parse_number(text)
        if number is None:
            return _Invalid("Sorry, I need a number.")
        if kind == "integer":
            number = round(number)
        low, high = schema.get("minimum"), schema.get("maximum")
        if (low is not None and number < low) or (high is not None and number > high):
            return _Invalid(f"Sorry, that needs to be between {_say(low)} and {_say(high)}."
                            if low is not None and high is not None
                            else "Sorry, that number doesn't work.")
        return int(number) if kind == "integer" else number
    if kind == "boolean":
        answer = {"1": True, "2": False}.get(dtmf or "") if dtmf else yes_no(_normalise(text))
        return _Invalid("Sorry, please say yes or no.") if answer is None else answer
    if dtmf:
        return dtmf
    value = _clean_spoken_text(text)
    # A bare "no" is a refusal, not a value ("yes" is already stripped as filler).
    if not value or _normalise(value) in NO_WORDS:
        return _Invalid("Sorry, I didn't get that.")
    if schema.get("format") == "email":
        value = re.sub(r"\s+at\s+", "@", value.lower())
        value = re.sub(r"\s+dot\s+", ".", value).replace(" ", "")
    return value


def _pick_enum(options: list[Any], text: str, dtmf: str | None) -> Any:
    invalid = _Invalid("Sorry, I didn't catch which one.")
    if not options:
        return invalid
    if dtmf:
        position = int(dtmf) if dtmf.isdigit() else 0
        return options[position - 1] if 1 <= position <= len(options) else invalid
    norm = _normalise(text)
    names = [_normalise(str(option)) for option in options]
    contained = [i for i, name in enumerate(names) if _contains_phrase(norm, name)]
    if contained:
        return options[max(contained, key=lambda i: len(names[i]))]
    if all(isinstance(option, int | float) for option in options):
        number = _parse_number(text)
        return next((o for o in options if number is not None and o == number), invalid)
    ordinal = next((_ORDINALS[t] for t in norm.split() if t in _ORDINALS), 0)
    if ordinal and re.search(r"\b(?:one|option)\b", norm) and ordinal <= len(options):
        return options[ordinal - 1]
    # Fuzzy: compare each option to the same number of consecutive spoken words.
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


def _enum_values_in(tool: ToolSpec, text: str, args: dict[str, Any]) -> dict[str, Any]:
    """Enum arguments the caller already named while asking for the tool (exact words only)."""
    norm = _normalise(text)
    found = dict(args)
    properties = tool.parameters.get("properties", {})
    for name in _required(tool):
        options = properties.get(name, {}).get("enum")
        if name in found or not options:
            continue
        named = [o for o in options if _contains_phrase(norm, _normalise(str(o)))]
        if len(named) == 1:
            found[name] = named[0]
    return found


# --------------------------------------------------------------------------------------------
# Wording
# --------------------------------------------------------------------------------------------


def _humanise(name: str) -> str:
    """"appointment_time" / "appointmentTime" → "appointment time"."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").replace("-", " ").lower()


def _say(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return _join([_say(item) for item in value[:3]], "and")
    return str(value)


def _join(items: Sequence[str], conjunction: str = "or") -> str:
    if len(items) <= 1:
        return "".join(items)
    if len(items) == 2:
        return f"{items[0]} {conjunction} {items[1]}"
    return f"{', '.join(items[:-1])}, {conjunction} {items[-1]}"


def _lower_first(text: str) -> str:
    # Keep acronyms ("SMS reminder") and "I" as written.
    if len(text) > 1 and (text[1].isupper() or text[:2] == "I "):
        return text
    return text[:1].lower() + text[1:]


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _slot_question(name: str, schema: dict[str, Any]) -> str:
    """A natural question for a missing argument, worded from its schema description."""
    description = str(schema.get("description") or "").strip()
    if description.endswith("?"):
        return description
    phrase = description or _humanise(name)
    # Format hints such as "(YYYY-MM-DD)" and second sentences read badly aloud.
    phrase = re.split(r"[.;:]\s|, e\.g\.|\(", phrase, maxsplit=1)[0].strip().rstrip(".")
    phrase = re.sub(r"^(?:the|a|an)\s+", "", _lower_first(phrase))
    if "enum" in schema:
        options = _join([_say(option) for option in schema["enum"]])
        return f"Which {phrase} would you like: {options}?"
    if _json_type(schema) == "boolean":
        whether = re.match(r"(?:whether|if) to (.+)", phrase)
        if whether:
            return f"Would you like to {whether.group(1)}?"
        return f"{_upper_first(phrase)}? Please say yes or no."
    phrase = re.sub(
        r"\b(?:the\s+)?(?:caller|customer|user|client|patient|guest)(?:'s|s')\s+", "your ", phrase
    )
    if phrase.startswith("your "):
        return f"What is {phrase}?"
    if re.search(r"\b(?:name|email|phone|address)\b", phrase) or (
        phrase.endswith("number") and "of" not in phrase
    ):
        return f"What is your {phrase}?"
    if phrase.startswith("number of ") and _json_type(schema) in ("integer", "number"):
        return f"How many {phrase[len('number of '):]}?"
    if len(phrase.split()) <= 2:
        return f"What {phrase} would you like?"
    return f"What is the {phrase}?"


_WORKING_VERBS = frozenset(_words(
    "book check find get send cancel schedule reserve create update confirm place order look search"
))


def _working_line(tool: ToolSpec) -> str:
    """ "One moment while I book that." for book_appointment."""
    verb = _humanise(tool.name).split()[:1]
    doing = verb[0] if verb and verb[0] in _WORKING_VERBS else "take care of"
    return f"One moment while I {doing} that."


def _tool_purpose(tool: ToolSpec) -> str:
    """The tool's description as something "I can ..." do: "Books a table." → "book a table"."""
    text = re.split(r"\.\s|;", tool.description.strip(), maxsplit=1)[0].strip().rstrip(".")
    if not text:
        return _humanise(tool.name)
    words = text.split()
    first = words[0]
    if first.lower().endswith(("ches", "shes", "sses", "xes")):
        first = first[:-2]
    elif first.lower().endswith("s") and not first.lower().endswith("ss"):
        first = first[:-1]
    phrase = _lower_first(" ".join([first, *words[1:]]))
    return re.sub(r"\bthe (?:caller|customer|user|client)\b", "you", phrase)


def _help_line(conversation: Conversation) -> str:
    """What the brain can help with: a few knowledge questions and tool purposes."""
    questions = [
        _lower_first(question.strip().rstrip("?.! ")) for question, _ in conversation.knowledge[:3]
    ]
    purposes = [_tool_purpose(tool) for tool in conversation.tools[:2]]
    parts = []
    if questions:
        parts.append(f"You can ask me things like: {_join(questions)}.")
    if purposes:
        parts.append(f"I can {'also ' if questions else ''}{_join(purposes)}.")
    return " ".join(parts) or "Could you say that another way?"


def _speak_results(results: Sequence[ToolResult]) -> str:
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
                return _sentence(content[key])
        details = [
            f"{_humanise(str(key))}: {_say(value)}"
            for key, value in content.items()
            if value is not None and not isinstance(value, dict)
        ][:4]
        return f"Done. {_upper_first('; '.join(details))}." if details else "That's done."
    if isinstance(content, list):
        found = "one result" if len(content) == 1 else f"{len(content)} results"
        scalars = [_say(item) for item in content[:3] if not isinstance(item, dict | list)]
        return f"I found {found}" + (f": {_join(scalars, 'and')}." if scalars else ".")
    return _sentence(_say(content))


def _sentence(text: str) -> str:
    text = _upper_first(text.strip())
    return text if text[-1:] in ".!?" else f"{text}."


# --------------------------------------------------------------------------------------------
# The conversation state machine
# --------------------------------------------------------------------------------------------


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


def _required(tool: ToolSpec) -> list[str]:
    return [str(name) for name in tool.parameters.get("required", [])]


def _missing(tool: ToolSpec, args: dict[str, Any]) -> list[str]:
    return [name for name in _required(tool) if name not in args]


def _schema_of(tool: ToolSpec, name: str) -> dict[str, Any]:
    schema = tool.parameters.get("properties", {}).get(name, {})
    return schema if isinstance(schema, dict) else {}


class _Turn:
    """Decides the reply to one caller turn from the state the earlier turns left."""

    def __init__(self, conversation: Conversation, index: _Index, heard_last: str) -> None:
        self.conversation = conversation
        self.index = index
        self.heard_last = heard_last

    def decide(self, state: _State, text: str) -> tuple[_Reply, _State]:
        dtmf_match = _DTMF.fullmatch(text)
        dtmf = dtmf_match.group(1).rstrip("#") if dtmf_match else None
        if dtmf_match is None and not text.strip():
            return self._reprompt(state), state
        if dtmf is not None:
            return self._dtmf(state, dtmf)
        norm = _normalise(text)
        if _is_human_request(norm):
            return _Reply(TRANSFER_LINE, transfer_to="human"), _State()
        if _GOODBYE.search(norm):
            return _Reply(GOODBYE_LINE, end_call=True), _State()
        if state.offered_human and len(norm.split()) <= 5:
            answer = yes_no(norm)
            if answer is True:
                return _Reply(TRANSFER_LINE, transfer_to="human"), _State()
            if answer is False:
                return self._declined_human(state)
        state = replace(state, offered_human=False)
        if _REPEAT.search(norm):
            return _Reply(self._repeat_line(state)), state
        if state.flow is not None:
            return self._fill(state, state.flow, text, None)
        return self._idle(state, text, norm)

    # -- caller turns outside a tool flow ---------------------------------------------------

    def _idle(self, state: _State, text: str, norm: str) -> tuple[_Reply, _State]:
        understood = replace(state, misses=0)
        if _THANKS.match(norm):
            return _Reply(f"You're welcome. {ANYTHING_ELSE}"), understood
        if _GREETING.match(norm):
            return _Reply("Hello! How can I help you today?"), understood
        if _BARE_NO.match(norm):
            # "No" after "anything else?" ends the call; elsewhere it just hands the floor back.
            if "anything else" in self.heard_last.lower():
                return _Reply(GOODBYE_LINE, end_call=True), _State()
            return _Reply("Okay. What else can I help you with?"), understood
        if norm in YES_WORDS:
            return _Reply("Sure, what can I help you with?"), understood
        match = _best_match(text, self.index)
        if match.kind == "knowledge":
            return _Reply(self.conversation.knowledge[match.index][1]), understood
        if match.kind == "tool":
            return self._start_flow(understood, match.index, text)
        return self._not_understood(state)

    def _start_flow(self, state: _State, tool_index: int, text: str) -> tuple[_Reply, _State]:
        tool = self.conversation.tools[tool_index]
        defaults = {
            name: _schema_of(tool, name)["default"]
            for name in _required(tool) if "default" in _schema_of(tool, name)
        }
        flow = _Flow(tool_index, _enum_values_in(tool, text, defaults))
        return self._advance(state, flow, "Sure, I can help with that.")

    # -- slot filling -----------------------------------------------------------------------

    def _fill(
        self, state: _State, flow: _Flow, text: str, dtmf: str | None
    ) -> tuple[_Reply, _State]:
        tool = self.conversation.tools[flow.tool]
        if dtmf is None and _CANCEL.match(_normalise(text)):
            return _Reply(f"Okay, I've cancelled that. {ANYTHING_ELSE}"), _State()
        slot = _missing(tool, flow.args)[0]
        schema = _schema_of(tool, slot)
        value = _coerce(schema, text, dtmf)
        question = _slot_question(slot, schema)
        # A caller may ask something else mid-flow: answer it, then ask again.
        if dtmf is None and (
            isinstance(value, _Invalid)
            or (_json_type(schema) == "string" and _QUESTION_START.match(_normalise(text)))
        ):
            match = _best_match(text, self.index)
            if match.kind == "knowledge" and match.score >= STRONG_MATCH:
                answer = self.conversation.knowledge[match.index][1]
                return _Reply(f"{answer} {question}"), replace(state, misses=0)
        if isinstance(value, _Invalid):
            missed = replace(state, misses=state.misses + 1)
            if missed.misses >= MISSES_BEFORE_HUMAN:
                return _Reply(OFFER_HUMAN_LINE), replace(missed, offered_human=True)
            return _Reply(f"{value.hint} {question}"), missed
        flow = replace(flow, args={**flow.args, slot: value})
        return self._advance(replace(state, misses=0), flow, "Got it.")

    def _advance(self, state: _State, flow: _Flow, acknowledgement: str) -> tuple[_Reply, _State]:
        """Ask for the next missing argument, or call the tool once none is missing."""
        tool = self.conversation.tools[flow.tool]
        missing = _missing(tool, flow.args)
        if missing:
            question = _slot_question(missing[0], _schema_of(tool, missing[0]))
            return _Reply(f"{acknowledgement} {question}"), replace(state, flow=flow)
        reply = _Reply(_working_line(tool), call=(tool.name, dict(flow.args)))
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
            kind = _json_type(_schema_of(tool, _missing(tool, state.flow.args)[0]))
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
        slot = _missing(tool, state.flow.args)[0]
        return _slot_question(slot, _schema_of(tool, slot))

    def _declined_human(self, state: _State) -> tuple[_Reply, _State]:
        state = replace(state, offered_human=False, misses=0)
        question = self._pending_question(state) or "What can I help you with?"
        return _Reply(f"No problem. {question}"), state

    def _not_understood(self, state: _State) -> tuple[_Reply, _State]:
        missed = replace(state, misses=state.misses + 1)
        if missed.misses >= MISSES_BEFORE_HUMAN:
            return _Reply(OFFER_HUMAN_LINE), replace(missed, offered_human=True)
        return _Reply(f"Sorry, I didn't understand that. {_help_line(self.conversation)}"), missed

    def _reprompt(self, state: _State) -> _Reply:
        return _Reply(f"{REPROMPT_LINE} {self._pending_question(state)}".strip())

    def _repeat_line(self, state: _State) -> str:
        return (
            self.heard_last.strip() or self._pending_question(state) or "How can I help you?"
        )


def _plan(conversation: Conversation) -> _Reply:
    """Replay the caller's turns to rebuild the state, and decide the reply to the last one."""
    messages: Sequence[Message] = conversation.messages
    if not messages or messages[-1].role == "assistant":
        return _Reply()
    if messages[-1].role == "tool":
        return _Reply(_speak_results(messages[-1].tool_results))
    index = _index_of(conversation)
    state = _State()
    reply = _Reply()
    heard_last = ""
    calls_made = 0
    for message in messages:
        if message.role == "user":
            reply, state = _Turn(conversation, index, heard_last).decide(state, message.text)
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


def word_chunks(text: str) -> list[str]:
    """Word-sized pieces (each with its trailing space) that concatenate back to the text.

    Brains without a real token stream use it so the session's clause chunker still does work.
    """
    return re.findall(r"\S+\s*", text.strip())


class OfflineBrain(LLMProvider):
    """A deterministic brain for calls without network access; it is not a language model.

    Stateless: everything is derived from `conversation.messages`, so one instance may serve
    every call of a process. The module docstring describes the matching and the DTMF format.
    """

    name = "offline"

    async def respond(self, conversation: Conversation) -> AsyncIterator[BrainEvent]:
        """Yield the reply in word chunks, at most one ToolCall, then exactly one Done."""
        reply = _plan(conversation)
        for i, chunk in enumerate(word_chunks(reply.text)):
            if i:
                # Let other calls' tasks run between chunks; no real delay.
                await asyncio.sleep(0)
            yield TextDelta(chunk)
        if reply.call is not None:
            tool_name, arguments = reply.call
            yield ToolCall(id=reply.call_id, name=tool_name, arguments=arguments)
            yield Done(stop_reason="tool_use")
            return
        yield Done(stop_reason="end_turn", end_call=reply.end_call, transfer_to=reply.transfer_to)
