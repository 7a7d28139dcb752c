"""Text analysis for the offline brain: normalising what the recogniser heard (contractions,
punctuation, stop words, light stemming, phone-call concepts), fuzzy similarity, and the small
string helpers its replies use."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from aybiza.core.spoken import ONES_VALUE, TENS_VALUE


def split_words(text: str) -> list[str]:
    """Whitespace-separated words: keeps long vocabulary lists readable."""
    return text.split()


_STOP_WORDS = frozenset(split_words(
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
    "hours": ("hour", "hours", "open", "opening", "opens", "close", "closing", "closes", "closed",
              "late", "shut", "until", "till"),
    "location": (
        "address", "location", "located", "locate", "where", "find", "directions", "direction",
        "map", "situated", "street", "road", "based", "whereabouts", "area",
    ),
    "price": (
        "price", "prices", "pricing", "cost", "costs", "fee", "fees", "charge", "charges", "rate",
        "rates", "expensive", "pricey", "cheap", "afford", "quote", "dollars", "money",
    ),
    "payment": ("pay", "paying", "payment", "payments", "card", "cards", "credit", "debit", "cash"),
    "booking": (
        "book", "booking", "appointment", "appointments", "schedule", "reserve", "reservation",
        "slot", "availability", "available",
    ),
    "cancel": ("cancel", "cancellation", "cancelling", "canceling"),
    "contact": ("phone", "telephone", "email", "mail", "contact", "reach", "mobile", "iphone",
                "android", "cell", "smartphone", "tablet"),
    # What a clinic, a restaurant and an office help desk get asked about on the phone.
    "parking": ("park", "parking", "car", "cars", "garage"),
    "insurance": ("insurance", "insured", "insurer", "plan", "covered", "coverage"),
    "patient": ("patient", "patients", "register", "registering", "join"),
    "vegetarian": ("vegetarian", "vegan", "vegans", "meat", "plant"),
    "cater": ("cater", "catering", "accommodate", "handle"),
    "allergy": ("allergy", "allergies", "allergic", "gluten", "coeliac", "celiac", "nut", "nuts",
                "dairy", "intolerance"),
    "event": ("party", "parties", "event", "events", "private", "group", "groups", "birthday",
              "hire", "celebration", "host"),
    "children": ("kid", "kids", "child", "children", "family", "chair", "chairs"),
    "remote": ("vpn", "remote", "remotely", "home"),
    "wifi": ("wifi", "wireless", "network", "internet"),
    "guest": ("guest", "guests", "visitor", "visitors", "visiting"),
    "printer": ("print", "printer", "printers", "printing"),
    "software": ("software", "app", "application", "applications", "program", "programs",
                 "install", "installed", "download", "zoom", "photoshop", "visio"),
    "password": ("password", "passwords", "login", "log"),
    "day": (
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "weekend",
        "weekends", "today", "tomorrow", "holiday", "holidays",
    ),
    "delivery": ("deliver", "delivery", "ship", "shipping", "shipped"),
    "refund": ("refund", "refunds", "return", "returns"),
    "services": ("service", "services", "offer", "provide", "menu", "sell", "treatment",
                 "serve", "dishes", "food"),
    "order": ("order", "orders", "purchase"),
}


# Multi-word phrasings folded before tokenising, so "how much" reads as the price concept.
_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(rf"\b{pattern}\b"), replacement)
    for pattern, replacement in (
        # "how much notice" asks about time, not money
        ("how much(?! (?:notice|time|warning|longer|later|earlier|sooner))", "cost"),
        ("get (?:there|to you)", "directions"),
        ("money back", "refund"),
        ("(?:payment|monthly|instalment|installment|finance) plans?", "payment"),
        ("set (?:me|us|you) back", "cost"),
        ("part of town", "location"),
        ("(?:accepting|taking|take|accept) (?:on )?new (?:people|clients|customers)",
         "new patients"),
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


def normalise(text: str) -> str:
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
    if (found or token in _STOP_WORDS or len(token) < 4 or not token.isalpha()
            or token in ONES_VALUE or token in TENS_VALUE):  # "seven" is not "serve"
        return found
    close = difflib.get_close_matches(token, _FUZZY_VOCABULARY, n=1, cutoff=0.8)
    # The first sound is rarely misheard; "looking" is not "booking".
    return _CONCEPT_OF[close[0]] if close and close[0][0] == token[0] else None


@dataclass(frozen=True, slots=True)
class Analysis:
    norm: str
    # Stems, and concepts prefixed with "@" (concepts only ever match exactly).
    terms: tuple[str, ...]


@lru_cache(maxsize=8192)
def analyse(text: str) -> Analysis:
    norm = normalise(text)
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
    return Analysis(norm=norm, terms=tuple(terms))


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


def _overlap(utterance: Analysis, reference: Analysis) -> tuple[float, float]:
    """(recall of the reference's terms, precision of the utterance's terms), fuzzily."""
    if not utterance.terms or not reference.terms:
        return 0.0, 0.0
    # A generic verb ("take", "use") says little of what is asked: half a term on either side,
    # so "can I use my insurance" is as close to "Do you take insurance?" as its topic is.
    matched = sum(
        _weight(ref) * max(_term_match(ref, said) for said in utterance.terms)
        for ref in reference.terms
    )
    said_weight = sum(_weight(term) for term in utterance.terms)
    return (matched / sum(_weight(ref) for ref in reference.terms),
            min(1.0, matched / said_weight))


def _weight(term: str) -> float:
    return 0.5 if term in GENERIC_VERBS else 1.0


# Verbs that ask how to do something to a thing but do not say which thing: a question matched
# on one of them alone is a different question ("when are need to add", misheard nonsense, is
# not "How do I add a printer?").
GENERIC_VERBS = frozenset({"add", "set", "use", "put", "take", "find", "give", "see", "try",
                           "fix", "change", "check", "send", "show", "come", "keep"})


def shares_topic(utterance: Analysis, reference: Analysis,
                 common: frozenset[str] = frozenset()) -> bool:
    """Whether the utterance has one of the reference's terms other than a generic verb or a
    `common` term (one the agent's questions share: "restaurant" in "Where is the restaurant?"
    and "Is there parking near the restaurant?" says which business, not which question)."""
    return any(_term_match(ref, said) > 0 for ref in reference.terms
               if ref not in GENERIC_VERBS and ref not in common for said in utterance.terms)


def token_overlap_score(utterance: Analysis, reference: Analysis) -> float:
    recall, precision = _overlap(utterance, reference)
    return 0.65 * recall + 0.35 * precision


def similarity(
    utterance: Analysis, reference: Analysis, token_score: float | None = None
) -> float:
    """How well an utterance matches a short reference text (a question, a trigger phrase)."""
    if token_score is None:
        token_score = token_overlap_score(utterance, reference)
    if token_score < 0.25:
        # Even a perfect character ratio and the request bias could not lift it to the threshold.
        return 0.8 * token_score
    char_score = difflib.SequenceMatcher(None, utterance.norm, reference.norm).ratio()
    return 0.8 * token_score + 0.2 * char_score


def coverage(utterance: Analysis, text: Analysis) -> float:
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


def contains_phrase(haystack: str, needle: str) -> bool:
    return bool(needle) and re.search(rf"(?:^| ){re.escape(needle)}(?: |$)", haystack) is not None


def humanise(name: str) -> str:
    """"appointment_time" / "appointmentTime" → "appointment time"."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").replace("-", " ").lower()


def spoken_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return join_words([spoken_value(item) for item in value[:3]], "and")
    return str(value)


def join_words(items: Sequence[str], conjunction: str = "or") -> str:
    if len(items) <= 1:
        return "".join(items)
    if len(items) == 2:
        return f"{items[0]} {conjunction} {items[1]}"
    return f"{', '.join(items[:-1])}, {conjunction} {items[-1]}"


def lower_first(text: str) -> str:
    # Keep acronyms ("SMS reminder") and "I" as written.
    if len(text) > 1 and (text[1].isupper() or text[:2] == "I "):
        return text
    return text[:1].lower() + text[1:]


def upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def as_sentence(text: str) -> str:
    text = upper_first(text.strip())
    return text if text[-1:] in ".!?" else f"{text}."
