"""Backchannels: the "uh-huh", "okay", "right" a caller says while the agent talks, to show they
are listening. They are not a turn: the agent keeps its floor.

`interrupts` judges what the recogniser heard during the agent's speech. Nothing, an
acknowledgement, or a stray word or two (a cough or a door comes out of the recogniser as "at"
or "i'm") leaves the agent the floor; three words or a cue word ("wait", "no") take it.
"""

from __future__ import annotations

import re

# Whole phrases a listener says without taking the floor. Kept short on purpose: "yes please"
# or "no" while the agent speaks is an answer, and "wait" is an interruption.
BACKCHANNEL_PHRASES: tuple[str, ...] = (
    "uh-huh", "uh huh", "mhm", "mm-hmm", "mm hmm", "hmm", "hm", "mm", "okay", "ok", "yeah",
    "yep", "yup", "right", "all right", "alright", "sure", "i see", "got it", "cool", "great",
    "good", "fine", "oh", "ah", "aha", "uh", "um", "oh okay", "okay okay", "yeah yeah",
    "right right", "oh right", "oh i see", "yeah okay", "okay yeah", "okay great", "sounds good",
    "perfect", "exactly", "true", "indeed", "yes", "oh yes", "yes yes",
)
# The recogniser's spellings of hesitations (words it may add around the phrases above).
_FILLERS = frozenset({"uh", "um", "oh", "ah", "hm", "hmm", "mm", "mhm"})
_PHRASES = frozenset(BACKCHANNEL_PHRASES)
_WORD = re.compile(r"[a-z]+(?:['-][a-z]+)*")
# Words that take the floor on their own ("stop", "wait"). Other words need company: over the
# agent, a cough or a door comes out of the recogniser as one or two stray words ("at",
# "i'm", "can i"), and a short "sure" as "to a".
INTERRUPTION_CUES = frozenset({
    "stop", "wait", "no", "sorry", "hold", "hang", "actually", "excuse", "pardon",
    "hello", "hey",
})
MIN_INTERRUPTING_WORDS = 3

# Phrases the offline recogniser's per-agent language model should expect (its dictionary's
# spellings): without them "uh-huh" comes out as the nearest domain words.
RECOGNISER_PHRASES: tuple[str, ...] = (
    "uh-huh", "mhm", "okay", "yeah", "right", "yep", "sure", "i see", "got it", "all right",
    "oh okay", "sounds good", "okay great",
)


def interrupts(text: str) -> bool:
    """True when words heard over the agent take the floor: three or more words beyond
    acknowledgements, or a cue word ("wait", "no"). Fewer is a backchannel or noise (a longer
    burst of speech interrupts whatever its words: the session times it)."""
    if is_backchannel(text):
        return False
    content = [word for word in _WORD.findall(text.lower())
               if word not in _FILLERS and word not in _PHRASES]
    return (len(content) >= MIN_INTERRUPTING_WORDS
            or any(word in INTERRUPTION_CUES for word in content))


def is_backchannel(text: str) -> bool:
    """True when `text` holds words and all of them only acknowledge ("okay", "uh-huh")."""
    heard = _WORD.findall(text.lower())
    if not heard:
        return False  # nothing at all is noise, not an acknowledgement
    if " ".join(heard) in _PHRASES:
        return True
    words = [word for word in heard if word not in _FILLERS]
    # Only fillers ("uh", "hmm") acknowledge too; so does a run of acknowledgements.
    return not words or " ".join(words) in _PHRASES or all(word in _PHRASES for word in words)
