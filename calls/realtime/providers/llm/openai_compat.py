"""Any OpenAI-compatible server (vLLM, llama.cpp, TGI, OpenAI itself) via `openai.AsyncOpenAI`.

Streaming chat completions with tools (PROTOCOLS.md §4). Servers disagree on the details, so
the accumulator is tolerant: tool calls are collected by `index` (or by `id` when a server
omits the index), a whole call may arrive in one chunk, `arguments` may be a JSON string or an
object, the usage chunk may be missing. Invalid or non-object arguments become
`ToolCall(arguments={"_raw": "<the string>"})` (see `parse_tool_arguments`), so the tool layer
can answer the model with a validation error instead of the call silently losing the request.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from django.conf import settings

from calls.realtime.providers.failover import ProviderError, shared_tls_context
from calls.realtime.providers.llm.base import (
    BrainEvent,
    Conversation,
    Done,
    LLMProvider,
    Message,
    TextDelta,
    ToolCall,
    Usage,
)
from calls.realtime.providers.llm.bedrock import (
    compose_memory,
    compose_passages,
    compose_system_prompt,
    parse_tool_arguments,
)

STOP_REASONS = {"stop": "end_turn", "tool_calls": "tool_use", "function_call": "tool_use",
                "length": "max_tokens", "content_filter": "content_filtered"}


def openai_messages(conversation: Conversation) -> list[dict[str, Any]]:
    """Neutral conversation → chat-completions messages (arguments as JSON strings)."""
    messages: list[dict[str, Any]] = []
    # The instructions first and the caller's memory last: servers cache the longest prefix.
    system = "\n\n".join(part for part in (compose_system_prompt(conversation),
                                            compose_memory(conversation)) if part)
    if system:
        messages.append({"role": "system", "content": system})
    for message in conversation.messages:
        messages.extend(_convert(message))
    passages = compose_passages(conversation)
    if passages and messages and messages[-1]["role"] == "user":
        # Per turn, so with the caller's newest words: the prefix before them stays cached.
        messages[-1] = {**messages[-1], "content": f"{messages[-1]['content']}\n\n{passages}"}
    return messages


def _convert(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        return [{"role": "tool", "tool_call_id": r.call_id,
                 "content": r.content if isinstance(r.content, str) else json.dumps(r.content)}
                for r in message.tool_results]
    if message.role == "assistant" and message.tool_calls:
        return [{"role": "assistant", "content": message.text or None, "tool_calls": [
            {"id": c.id, "type": "function",
             "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
            for c in message.tool_calls]}]
    return [{"role": message.role, "content": message.text}]


class OpenAICompatLLM(LLMProvider):
    """A chat-completions server. `base_url` includes `/v1`."""

    name = "openai"

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        model: str | None = None,
        max_tokens: int = 512,
        temperature: float | None = 0.3,
        include_usage: bool = True,
        timeout_s: float = 30.0,
        connect_timeout_s: float = 2.0,
    ) -> None:
        self.base_url = base_url or settings.OPENAI_BASE_URL or None
        self.api_key = api_key or settings.OPENAI_API_KEY or "none"
        self.model = model or settings.OPENAI_MODEL
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.include_usage = include_usage
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self._client: Any = None

    def build_request(self, conversation: Conversation) -> dict[str, Any]:
        """The `chat.completions.create` keyword arguments (streaming)."""
        request: dict[str, Any] = {"model": self.model, "stream": True,
                                   "messages": openai_messages(conversation),
                                   "max_tokens": self.max_tokens}
        if self.include_usage:
            request["stream_options"] = {"include_usage": True}
        if self.temperature is not None:
            request["temperature"] = self.temperature
        if conversation.tools:
            request["tools"] = [{"type": "function", "function": {
                "name": t.name, "description": t.description, "parameters": t.parameters}}
                for t in conversation.tools]
            request["tool_choice"] = "auto"
        return request

    async def warm_up(self) -> None:
        """Import the SDK (~2 s) in a thread, never on the event loop (once per process)."""
        if "openai" not in sys.modules:
            await asyncio.to_thread(importlib.import_module, "openai")
        await shared_tls_context()

    async def _sdk_client(self) -> Any:
        if self._client is None:
            await self.warm_up()
            import openai

            # The shared TLS context: a default client would build its own (30-60 ms, per call).
            http = openai.DefaultAsyncHttpxClient(verify=await shared_tls_context())
            self._client = openai.AsyncOpenAI(
                base_url=self.base_url, api_key=self.api_key, max_retries=0, http_client=http,
                timeout=openai.Timeout(self.timeout_s, connect=self.connect_timeout_s))
        return self._client

    async def respond(self, conversation: Conversation) -> AsyncIterator[BrainEvent]:
        started = time.monotonic()
        turn = _Accumulator()
        try:
            client = await self._sdk_client()
            stream = await client.chat.completions.create(
                **self.build_request(conversation))
        except Exception as exc:
            raise self._error(exc, yielded=False) from exc
        try:
            async for chunk in stream:
                for event in turn.consume(chunk):
                    turn.yielded = True
                    yield event
        except Exception as exc:
            raise self._error(exc, yielded=turn.yielded) from exc
        finally:
            await stream.close()
        for call in turn.tool_calls():
            yield call
        yield turn.done(latency_ms=int((time.monotonic() - started) * 1000))

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        if self._client is not None:
            await self._client.close()
            self._client = None

    def _error(self, exc: BaseException, *, yielded: bool) -> ProviderError:
        import openai

        status = getattr(exc, "status_code", None)
        retryable = (isinstance(exc, openai.APIConnectionError | OSError | TimeoutError)
                     or (status is not None and (status >= 500 or status == 429)))
        return ProviderError(f"openai-compatible: {exc}", provider=self.name, status=status,
                             failover=retryable and not yielded)


class _Accumulator:
    """Text deltas out as they come; tool-call fragments in, whole calls out at the end."""

    def __init__(self) -> None:
        self.calls: dict[int, dict[str, Any]] = {}
        self.finish_reason: str | None = None
        self.usage = Usage()
        self.yielded = False

    def consume(self, chunk: Any) -> list[BrainEvent]:
        usage = getattr(chunk, "usage", None)
        if usage:
            details = getattr(usage, "prompt_tokens_details", None)
            cached = getattr(details, "cached_tokens", 0) or 0
            # OpenAI counts cached tokens inside prompt_tokens; ours are disjoint kinds priced
            # apart (Bedrock's inputTokens excludes cache reads), so split them here.
            self.usage = Usage(input_tokens=max(0, (usage.prompt_tokens or 0) - cached),
                               output_tokens=usage.completion_tokens or 0,
                               cache_read_tokens=cached)
        events: list[BrainEvent] = []
        for choice in getattr(chunk, "choices", None) or []:
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason
            delta = choice.delta
            if delta is None:
                continue
            if delta.content:
                events.append(TextDelta(delta.content))
            for fragment in delta.tool_calls or []:
                self._add_fragment(fragment)
        return events

    def _add_fragment(self, fragment: Any) -> None:
        index = fragment.index
        if index is None:  # some servers leave it out: match by id, else continue the last one
            known = [i for i, c in self.calls.items() if fragment.id and c["id"] == fragment.id]
            if known:
                index = known[0]
            elif fragment.id or not self.calls:
                index = len(self.calls)
            else:
                index = max(self.calls)
        call = self.calls.setdefault(index, {"id": "", "name": "", "arguments": []})
        if fragment.id and not call["id"]:
            call["id"] = fragment.id
        function = fragment.function
        if function is None:
            return
        if function.name and not call["name"]:
            call["name"] = function.name
        arguments = function.arguments
        if isinstance(arguments, dict):
            call["arguments"] = [json.dumps(arguments)]
        elif arguments:
            call["arguments"].append(arguments)

    def tool_calls(self) -> list[ToolCall]:
        return [ToolCall(id=call["id"] or f"call_{index}", name=call["name"],
                         arguments=parse_tool_arguments("".join(call["arguments"])))
                for index, call in sorted(self.calls.items()) if call["name"]]

    def done(self, *, latency_ms: int) -> Done:
        reason = STOP_REASONS.get(self.finish_reason or "stop", self.finish_reason or "end_turn")
        if self.calls:
            reason = "tool_use"
        self.usage.latency_ms = latency_ms
        return Done(stop_reason=reason, usage=self.usage)
