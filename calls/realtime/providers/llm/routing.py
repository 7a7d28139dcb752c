"""Automatic model selection: per turn, a fast and cheap model (Haiku-class) or the agent's
strong one (Sonnet-class). Off unless the agent names a fast model
(`provider_options.llm.fast_model`); the choice and its reason are recorded on the turn.

The rule is conservative — the strong model whenever the turn may have to act or reason:
- after tool results (the model decides what to do with them, maybe another tool): strong;
- the caller asks for something a tool does (its name, trigger phrases or an action verb):
  strong;
- a long utterance (more than LONG_WORDS words): strong;
- keypad entries, confirmations, thanks, greetings and goodbyes (short and made only of
  such words): fast;
- any other short turn (a question the knowledge answers): fast.
Each model keeps its own prompt cache, so switching costs cache reads: `make bench-cost` measures
routing on against off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aybiza.core.spoken import NO_WORDS, YES_WORDS
from calls.realtime.providers.llm.base import Conversation

LONG_WORDS = 18
# Confirmations and politeness: the shared yes/no words (aybiza/core/spoken.py) and thanks,
# greetings and goodbyes.
SMALL_TALK = YES_WORDS | NO_WORDS | frozenset("""
perfect great good cheers thanks thank you hello hi hey bye goodbye that's that is it all
sounds exactly
""".split())  # noqa: SIM905 - a word list reads better as text
ACTION = re.compile(r"\b(book|schedule|reserve|cancel|reschedul\w*|change|move|order|buy|pay|"
                    r"refund|open|ticket|reset|transfer|send|update|sign\s?up|register|"
                    r"appointment|reservation)\b")
WORD = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True)
class Route:
    model: str
    tier: str  # "fast" or "strong"
    reason: str


def route_turn(conversation: Conversation, *, fast_model: str, strong_model: str) -> Route:
    def fast(reason: str) -> Route:
        return Route(fast_model, "fast", reason)

    def strong(reason: str) -> Route:
        return Route(strong_model, "strong", reason)

    last = conversation.messages[-1] if conversation.messages else None
    if last is not None and last.role == "tool":
        return strong("acting on tool results")
    if last is None or last.role != "user":
        return strong("no caller turn to answer")
    text = last.text.lower()
    if text.startswith("[dtmf"):
        return fast("keypad entry")
    words = WORD.findall(text)
    if ACTION.search(text) or any(_asks_for(tool, text) for tool in conversation.tools):
        return strong("may need a tool")
    if len(words) > LONG_WORDS:
        return strong("long or complex request")
    if words and all(word in SMALL_TALK for word in words):
        return fast("confirmation or small talk")
    return fast("short question")


def _asks_for(tool, text: str) -> bool:
    if tool.name.replace("_", " ") in text:
        return True
    return any(phrase.lower() in text for phrase in tool.trigger_phrases)
