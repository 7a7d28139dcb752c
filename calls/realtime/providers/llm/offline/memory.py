"""What the offline brain recalls about a returning caller: a question about their own earlier
call or booking ("when is my appointment?", "what did I book last time?") is answered from the
memory the call started with (memory/), before any knowledge entry."""

from __future__ import annotations

import re

from calls.realtime.providers.llm.base import Conversation
from calls.realtime.providers.llm.offline.text import humanise
from calls.realtime.providers.llm.offline.when import spoken_moment

_ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2})?(?:[+-]\d{2}:\d{2}|Z)?)?")


def spoken_moments(text: str) -> str:
    """Dates a tool was given, as said ("Monday, December 7 at 10 AM"), not as stored."""
    return _ISO_MOMENT.sub(lambda found: spoken_moment(found[0]), text)

ABOUT_ME = re.compile(r"\b(?:my|i)\b")
RECALL = re.compile(r"\b(?:last time|before|earlier|already|remember|my (?:appointment|booking|"
                    r"reservation|order|ticket)|did i (?:book|order|ask))\b")


def recall_line(conversation: Conversation, norm: str) -> str:
    """A sentence recalling the caller's last action, or "" (not asked, or nothing known)."""
    if not conversation.memory or not (ABOUT_ME.search(norm) and RECALL.search(norm)):
        return ""
    for key, value in conversation.memory.items():
        if key.startswith("last_") and key != "last_call":
            return f"From your last call: {humanise(key[5:])}, {spoken_moments(value)}."
    last = conversation.memory.get("last_call")
    return f"From your last call: {last}" if last else ""
