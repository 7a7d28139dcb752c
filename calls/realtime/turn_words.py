"""Words-aware end of turn: do the caller's words so far sound finished?

A turn that ends on silence alone is a trade: a short silence cuts off callers who pause
mid-sentence ("my number is five five five … zero one two three"), a long one makes every answer
late. The recogniser's words settle most pauses. A sentence that stops on "is", "and", "my",
"the" or "um", or a phone number paused between its groups (three digits, then three more), is
not finished: the caller gets longer than the agent's usual silence. Anything else is answered
after a short pause.

It is a rule over words, not a model: microseconds per decision, nothing to download, any
language model's vocabulary, and any recogniser that reports interim words (pocketsphinx,
Deepgram). `learning/quality/pauses.py` measures it against the fixed silence on real calls.
"""

from __future__ import annotations

import re

from aybiza.core.spoken import DIGIT_WORDS

# Last words after which an English sentence goes on: articles and possessives, prepositions,
# conjunctions, auxiliaries and "I'd like"-style openers, and hesitations. Words that also end
# sentences naturally ("need", "this", "that", "really") are left out: a wrong "unfinished" only
# costs a slower answer, a wrong "finished" cuts the caller off, but either is a miss.
UNFINISHED_LAST_WORDS = frozenset({
    # articles, possessives, quantifiers before a noun
    "a", "an", "the", "my", "your", "our", "his", "her", "their", "its", "every", "another",
    # prepositions
    "to", "for", "at", "on", "in", "of", "with", "from", "about", "by", "into", "around",
    "after", "before", "until", "till", "between", "than", "past", "like", "near", "over",
    "under", "through", "during", "without", "within", "across", "behind", "toward",
    "towards", "per", "via", "off", "onto", "upon", "regarding",
    # conjunctions
    "and", "or", "but", "so", "because", "cause", "if", "then", "also", "plus",
    # auxiliaries and openers ("I'd like", "can I", "it's")
    "is", "are", "was", "were", "be", "am", "i'm", "i'd", "i'll", "i've", "it's", "that's",
    "there's", "what's", "we're", "we'd", "you're", "can", "could", "would", "will", "should",
    "want", "wanted", "just", "next", "half", "quarter",
    # hesitations, as the recognisers spell them
    "um", "uh", "er", "erm", "uhm", "umm",
})
# Digits said so far when a phone number pauses between its groups (3-3-4 in North America,
# the numbers the platform's Twilio lines take): after three or six, more digits follow.
DICTATION_PAUSES = frozenset({3, 6})
_WORD = re.compile(r"[a-z]+(?:['-][a-z]+)*")


def sounds_finished(text: str) -> bool | None:
    """True when the words could end the caller's turn, False when the sentence is plainly
    going on, None when there are no words to judge."""
    words = _WORD.findall(text.lower())
    if not words:
        return None
    if words[-1] in UNFINISHED_LAST_WORDS:
        return False
    digits = 0
    for word in reversed(words):
        if word not in DIGIT_WORDS:
            break
        digits += 1
    return digits not in DICTATION_PAUSES
