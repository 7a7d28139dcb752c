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
import re
from collections.abc import AsyncIterator

from calls.realtime.providers.llm.base import (
    BrainEvent,
    Conversation,
    Done,
    LLMProvider,
    TextDelta,
    ToolCall,
)
from calls.realtime.providers.llm.offline.dialogue import plan
from calls.realtime.providers.llm.offline.responses import TRANSFER_LINE


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
        reply = plan(conversation)
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
        yield Done(stop_reason="end_turn", end_call=reply.end_call, transfer_to=reply.transfer_to,
                   expects=reply.expects)


__all__ = ["TRANSFER_LINE", "OfflineBrain", "word_chunks"]
