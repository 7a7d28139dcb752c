"""Matching an utterance to what the agent knows: its knowledge entries (question, answer) and its
tools, scored by token overlap and character similarity; below `MATCH_THRESHOLD` nothing matches."""

from __future__ import annotations

import heapq
import re
from collections import Counter
from dataclasses import dataclass, replace
from functools import lru_cache

from calls.realtime.providers.llm.base import Conversation
from calls.realtime.providers.llm.offline.intents import GOODBYE
from calls.realtime.providers.llm.offline.text import (
    Analysis,
    analyse,
    contains_phrase,
    coverage,
    humanise,
    shares_topic,
    similarity,
    token_overlap_score,
)

MATCH_THRESHOLD = 0.5


# A knowledge match this strong wins over taking the utterance as a slot's value.
STRONG_MATCH = 0.7


QUESTION_START = re.compile(r"^(?:how|what|where|when|why|which|who|is|are|do|does)\b")


# Anything asked as a question ("can you recommend...", "have you got..."): one the agent has
# no answer to is said to be one, not "not understood".
QUESTION_LIKE = re.compile(r"^(?:(?:so|and|but|um|uh|hmm|hm|actually|wait|okay|ok|hi|hello|sorry|"
                           r"excuse me|also|oh) )*"
                           r"(?:how|what|where|when|why|which|who|whose|is|are|was|were|do|does|"
                           r"did|can|could|would|will|may|have you|has|should|shall)\b")


_REQUEST = re.compile(
    r"\b(?:want|would like|need|can i|could i|let me|help me|i would|please|i am looking)\b"
)

# A question inside the sentence ("my daughter has an allergy, can you cater for that").
_ASKING = re.compile(r"\b(?:can|could|would|will) (?:you|we|i)\b")


def says_goodbye(norm: str) -> bool:
    """A closing ("that's it", "bye") that is not part of a question or a request.

    "Is there parking near bye" is "nearby" misheard, and "can I switch my booking to a
    different day, that's it" asks for something before it closes: answering the request is
    right, hanging up on it is the worst mistake the brain can make. Asking to be hung up on
    ("could you hang up") is a goodbye all the same.
    """
    closing = GOODBYE.search(norm)
    if closing is None or QUESTION_START.match(norm):
        return False
    if closing.group(0).startswith("hang up"):
        return True
    if re.search(r"\b(?:good ?bye|bye(?: bye)?(?: now)?)$", norm):
        # The last words are a farewell ("I need to check with my wife first, bye"): whatever
        # came before, the caller is leaving (a question was ruled out above).
        return not QUESTION_LIKE.match(norm)
    before = norm[:closing.start()]
    return not (QUESTION_LIKE.match(before) or _REQUEST.search(before)
                or _ASKING.search(before))


@dataclass(frozen=True, eq=False)
class Index:
    """Analysed knowledge and tools of one agent; hashed by identity so matches can be cached."""

    questions: tuple[Analysis, ...]
    answers: tuple[Analysis, ...]
    triggers: tuple[tuple[Analysis, ...], ...]
    names: tuple[Analysis, ...]
    descriptions: tuple[Analysis, ...]
    # Terms in two or more of the questions: they tell the questions apart from nothing.
    common: frozenset[str] = frozenset()


@lru_cache(maxsize=256)
def _build_index(
    knowledge: tuple[tuple[str, str], ...],
    tools: tuple[tuple[str, str, tuple[str, ...]], ...],
) -> Index:
    questions = tuple(analyse(question) for question, _ in knowledge)
    counts = Counter(term for question in questions for term in set(question.terms))
    return Index(
        questions=questions,
        answers=tuple(analyse(answer) for _, answer in knowledge),
        triggers=tuple(tuple(analyse(phrase) for phrase in phrases) for _, _, phrases in tools),
        names=tuple(analyse(humanise(name)) for name, _, _ in tools),
        descriptions=tuple(analyse(description) for _, description, _ in tools),
        common=frozenset(term for term, count in counts.items() if count >= 2),
    )


@dataclass(frozen=True, slots=True)
class _Match:
    kind: str  # "knowledge", "tool" or "none"
    index: int = -1
    score: float = 0.0


_SHORTLIST = 5


@lru_cache(maxsize=8192)
def best_match(text: str, index: Index) -> _Match:
    """The knowledge entry or tool the utterance is about, if any scores above the threshold."""
    said = analyse(text)
    token_scores = [token_overlap_score(said, question) for question in index.questions]
    # The character ratio is the costly part and only separates close candidates.
    shortlist = set(heapq.nlargest(_SHORTLIST, range(len(token_scores)), token_scores.__getitem__))
    best_knowledge = _Match("none")
    for i, (question, answer) in enumerate(zip(index.questions, index.answers, strict=True)):
        if not shares_topic(said, question, index.common):
            question_score = 0.0
        elif i in shortlist:
            question_score = similarity(said, question, token_scores[i])
        else:
            question_score = 0.8 * token_scores[i]
        score = max(question_score, 0.6 * coverage(said, answer))
        if score > best_knowledge.score:
            best_knowledge = _Match("knowledge", i, score)
    best_tool = _Match("none")
    asked = bool(QUESTION_START.match(said.norm))
    for i, triggers in enumerate(index.triggers):
        contained = [0.9 for trigger in triggers if contains_phrase(said.norm, trigger.norm)]
        if asked and not contained:
            # A question ("what are your hours?") starts a tool only by naming it; a loose
            # likeness to a trigger ("open a ticket") is not enough.
            continue
        score = max(
            [similarity(said, trigger) for trigger in triggers] + contained
            + [0.9 * similarity(said, index.names[i]),
               # Below the threshold alone: "open" in "Open a ticket" is not opening hours.
               0.45 * coverage(said, index.descriptions[i])]
        )
        if score > best_tool.score:
            best_tool = _Match("tool", i, score)
    # A request ("I'd like to book") leans to the action, a question ("how do I book") to facts.
    if QUESTION_START.match(said.norm):
        best_knowledge = replace(best_knowledge, score=best_knowledge.score + 0.05)
    elif _REQUEST.search(said.norm):
        best_tool = replace(best_tool, score=best_tool.score + 0.1)
    best = best_tool if best_tool.score >= best_knowledge.score else best_knowledge
    return best if best.score >= MATCH_THRESHOLD else _Match("none")


def index_of(conversation: Conversation) -> Index:
    return _build_index(
        tuple((str(q), str(a)) for q, a in conversation.knowledge),
        tuple((t.name, t.description, tuple(t.trigger_phrases)) for t in conversation.tools),
    )
