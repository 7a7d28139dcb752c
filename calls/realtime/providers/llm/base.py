"""The agent's brain: an LLM (or the offline brain) behind one small base.

`respond` is an async generator: given the conversation so far it yields text deltas as they are
produced, tool calls, and finally one `Done`. The session speaks text clause by clause, runs the
tool calls (in parallel), appends their results to the conversation and calls `respond` again.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal


@dataclass(slots=True)
class ToolSpec:
    """A tool the brain may call: name, description and JSON Schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]
    # Phrases that make the offline brain pick this tool (LLMs ignore them).
    trigger_phrases: list[str] = field(default_factory=list)
    # An argument the caller keys in on the phone's keypad (a card number): it is not in
    # `parameters` (no brain ever sees or asks for it); the call collects it securely.
    secure_argument: str = ""
    secure_prompt: str = ""
    # The tool changes something (it is not idempotent): the offline brain reads the arguments
    # back and asks before running it.
    confirm: bool = False


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(slots=True)
class ToolResult:
    call_id: str
    name: str
    content: Any
    is_error: bool = False


@dataclass(slots=True)
class Message:
    """One conversation entry in a vendor-neutral form.

    role "user" carries the caller's words (or DTMF as text), "assistant" the agent's text plus
    any tool calls it made, "tool" the results of those calls.
    """

    role: Literal["user", "assistant", "tool"]
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_results: list[ToolResult] = field(default_factory=list)
    # On a caller's message: passages of the agent's documents about it, found when it was
    # said (kept on the message, so a brain that replays the conversation sees the same ones).
    passages: list[str] = field(default_factory=list)


def message_as_dict(message: Message) -> dict[str, Any]:
    """A message as JSON-ready data (kept between calls: memory/working.py); passages are not
    kept, they are found again when needed."""
    return {"role": message.role, "text": message.text,
            "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments}
                           for c in message.tool_calls],
            "tool_results": [{"call_id": r.call_id, "name": r.name, "content": r.content,
                              "is_error": r.is_error} for r in message.tool_results]}


def message_from_dict(data: dict[str, Any]) -> Message:
    return Message(role=data["role"], text=data.get("text", ""),
                   tool_calls=[ToolCall(c["id"], c["name"], c["arguments"])
                               for c in data.get("tool_calls", [])],
                   tool_results=[ToolResult(r["call_id"], r["name"], r["content"], r["is_error"])
                                 for r in data.get("tool_results", [])])


@dataclass(slots=True)
class Conversation:
    system_prompt: str
    messages: list[Message] = field(default_factory=list)
    tools: list[ToolSpec] = field(default_factory=list)
    # Knowledge the agent answers from: (question, answer) pairs.
    knowledge: list[tuple[str, str]] = field(default_factory=list)
    language: str = "en-US"
    # What earlier calls taught about this caller (memory/): their name and remembered facts.
    # Given after the cacheable instructions, so a returning caller does not spoil the cache.
    caller_name: str = ""
    memory: dict[str, str] = field(default_factory=dict)
    # When the business is open and where (aybiza.core.hours), for dates callers ask for;
    # `now` is fixed by evaluations, a live call reads the clock.
    business_hours: str = ""
    timezone: str = "UTC"
    now: datetime | None = None


@dataclass(slots=True)
class TextDelta:
    text: str


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    latency_ms: int | None = None


@dataclass(slots=True)
class Done:
    """End of one `respond` round.

    `stop_reason`: "end_turn", "tool_use", "max_tokens", ... . `end_call` asks the session to hang
    up after speaking; `transfer_to` asks for a transfer to a human.
    """

    stop_reason: str = "end_turn"
    end_call: bool = False
    transfer_to: str | None = None
    usage: Usage = field(default_factory=Usage)
    # Automatic model selection (routing.py): the model that answered, its tier ("fast" is
    # priced under `<provider>_fast`) and why it was chosen; "" without routing.
    model: str = ""
    tier: str = ""
    route_reason: str = ""
    # What the question just asked expects the caller to answer ("yes", "no"; the options of a
    # choice; days and times): an offline recogniser leans toward them for the caller's next
    # turn. The offline brain fills it; language models leave it empty.
    expects: tuple[str, ...] = ()


BrainEvent = TextDelta | ToolCall | Done


class LLMProvider(ABC):
    name: str = "base"

    @abstractmethod
    def respond(self, conversation: Conversation) -> AsyncIterator[BrainEvent]:
        """Yield TextDelta and ToolCall events, then exactly one Done."""
