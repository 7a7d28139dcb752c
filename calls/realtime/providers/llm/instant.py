"""A fake brain for tests and benchmarks: a fixed reply after a configurable delay.

`InstantLLM` stands in for a real LLM where the words do not matter but the timing does: the
first event comes after `first_token_ms`, then the reply streams word by word with
`chunk_delay_ms` between words. Scripted tool calls let tests drive the tool path: they are
emitted on the first round of every caller turn, and the reply is spoken after the results.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence

from calls.realtime.providers.llm.base import (
    BrainEvent,
    Conversation,
    Done,
    LLMProvider,
    TextDelta,
    ToolCall,
    Usage,
)
from calls.realtime.providers.llm.offline import word_chunks


class InstantLLM(LLMProvider):
    """A scripted brain with controllable latency; it never looks at what the caller said.

    `reply` is the text of every turn, or a callable that builds it from the conversation.
    `tool_calls` are yielded (with `Done(stop_reason="tool_use")`) whenever the last message is
    the caller's; a call without an id gets ``"instant-<turn>-<n>"``. `rounds` counts `respond`
    calls so tests can assert how often the session asked.
    """

    name = "instant"

    def __init__(
        self,
        reply: str | Callable[[Conversation], str] = "Okay.",
        *,
        first_token_ms: float = 0.0,
        chunk_delay_ms: float = 0.0,
        tool_calls: Sequence[ToolCall] = (),
        end_call: bool = False,
        transfer_to: str | None = None,
    ) -> None:
        self.reply = reply
        self.first_token_ms = first_token_ms
        self.chunk_delay_ms = chunk_delay_ms
        self.tool_calls = list(tool_calls)
        self.end_call = end_call
        self.transfer_to = transfer_to
        self.rounds = 0

    async def respond(self, conversation: Conversation) -> AsyncIterator[BrainEvent]:
        """Wait `first_token_ms`, then yield the tool calls or the reply's words, then Done."""
        self.rounds += 1
        started = time.perf_counter()
        await asyncio.sleep(self.first_token_ms / 1000)
        usage = Usage(latency_ms=round((time.perf_counter() - started) * 1000))
        messages = conversation.messages
        if self.tool_calls and messages and messages[-1].role == "user":
            turn = sum(1 for message in messages if message.role == "user")
            for n, call in enumerate(self.tool_calls, start=1):
                # Fresh objects: the session may keep and mutate what it receives.
                yield ToolCall(
                    id=call.id or f"instant-{turn}-{n}",
                    name=call.name,
                    arguments=dict(call.arguments),
                )
            yield Done(stop_reason="tool_use", usage=usage)
            return
        text = self.reply(conversation) if callable(self.reply) else self.reply
        for n, word in enumerate(word_chunks(text)):
            if n and self.chunk_delay_ms > 0:
                await asyncio.sleep(self.chunk_delay_ms / 1000)
            yield TextDelta(word)
        yield Done(
            stop_reason="end_turn",
            end_call=self.end_call,
            transfer_to=self.transfer_to,
            usage=usage,
        )
