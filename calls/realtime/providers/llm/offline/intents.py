"""Whole-utterance intents that need no knowledge: asking for a human, goodbye, cancel, repeat,
thanks, a greeting, a bare no, and keypad entries (`[DTMF 12#]`)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

DTMF_ENTRY = re.compile(r"\s*\[\s*DTMF\s*([0-9*#]+)\s*\]\s*", re.IGNORECASE)


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


# "Forget me", "delete my data", "don't remember me" (not "forget it": that is CANCEL).
FORGET_ME = _any([
    r"forget (?:me|about me|my (?:number|name|details|information|data))",
    r"(?:delete|erase|remove) (?:all )?(?:my|of my) (?:data|details|information|info|number|"
    r"records?|personal data)",
    r"(?:do not|don't|dont) (?:remember|keep|store) (?:me|my (?:details|information|data))",
])


GOODBYE = _any([
    r"good ?bye", r"bye", r"that is (?:all|it)", r"nothing else", r"hang up", r"i am done",
    r"have a (?:good|nice|great|lovely) (?:day|one|evening|night|weekend)", r"see you",
    r"talk to you later",
])


CANCEL = re.compile(
    r"^(?:no )?(?:cancel(?: (?:that|it|this))?|never ?mind|forget (?:it|about it)|stop)"
    r"(?: please)?$"
)


REPEAT = re.compile(
    r"^(?:sorry|pardon|pardon me|what|excuse me)$|\brepeat\b|\bsay (?:that |it )?again\b"
    r"|\bcome again\b|\bwhat did you say\b"
)


THANKS = re.compile(r"^(?:(?:ok|okay|great|perfect) )?(?:thank you|thanks)(?: (?:very much|so "
                     r"much|a lot))?$|^cheers$")


GREETING = re.compile(r"^(?:hi|hello|hey|good (?:morning|afternoon|evening))(?: there)?$")


BARE_NO = re.compile(r"^(?:no|nope|nah)(?: (?:thank you|thanks))?$")


def is_human_request(norm: str) -> bool:
    if _HUMAN.search(norm):
        return True
    # Tolerate misrecognised single words such as "representive".
    return any(
        difflib.get_close_matches(token, _HUMAN_WORDS, n=1, cutoff=0.8)
        for token in norm.split() if len(token) >= 8
    )
