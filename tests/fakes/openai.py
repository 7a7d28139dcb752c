"""A fake OpenAI-compatible server: `POST /v1/chat/completions` streamed as SSE (the
chunks `calls/realtime/providers/llm/openai_compat.py` reads through the openai SDK).

Scripted answers (`ChatResponse`) are lists of chunk `choices`/`usage` payloads, wrapped in the
chunk envelope and sent as `data: …` events, then `data: [DONE]`. Builders cover what servers
do differently: `text_answer`, `tool_answer` (fragmented arguments, or the whole call in one
chunk, invalid JSON arguments) and `http_error`; `usage=None` leaves the usage chunk out.
Unscripted requests get `text_answer("OK.")`. Request bodies are recorded.

Point the SDK at it with `base_url=fake.base_url + "/v1"`.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes import FakeServer

DEFAULT_USAGE = (20, 9)


@dataclass
class ChatResponse:
    status: int = 200
    payloads: list[dict[str, Any]] = field(default_factory=list)  # {"choices": [...]} etc.
    delay_before_s: float = 0.0
    chunk_delay_s: float = 0.0


def _choice(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}


def _usage(usage: tuple[int, int] | None, cached: int = 0) -> list[dict[str, Any]]:
    if usage is None:
        return []
    prompt, completion = usage
    return [{"choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                                      "total_tokens": prompt + completion,
                                      "prompt_tokens_details": {"cached_tokens": cached}}}]


def text_answer(*chunks: str, finish_reason: str = "stop",
                usage: tuple[int, int] | None = DEFAULT_USAGE, cached_tokens: int = 0,
                chunk_delay_s: float = 0.0, delay_before_s: float = 0.0) -> ChatResponse:
    payloads = [_choice({"role": "assistant", "content": ""})]
    payloads += [_choice({"content": c}) for c in chunks]
    payloads += [_choice({}, finish_reason), *_usage(usage, cached_tokens)]
    return ChatResponse(payloads=payloads, chunk_delay_s=chunk_delay_s,
                        delay_before_s=delay_before_s)


def tool_answer(text: str, calls: list[tuple[str, str, str]], *, whole: bool = False,
                finish_reason: str = "tool_calls",
                usage: tuple[int, int] | None = DEFAULT_USAGE) -> ChatResponse:
    """Text, then tool calls (id, name, arguments string). `whole` sends each call in one
    chunk; otherwise id+name come first and the arguments follow in two fragments."""
    payloads = [_choice({"role": "assistant", "content": ""})]
    if text:
        payloads.append(_choice({"content": text}))
    for index, (call_id, name, arguments) in enumerate(calls):
        if whole:
            payloads.append(_choice({"tool_calls": [{"index": index, "id": call_id,
                                                     "type": "function", "function": {
                                                         "name": name, "arguments": arguments}}]}))
            continue
        payloads.append(_choice({"tool_calls": [{"index": index, "id": call_id,
                                                 "type": "function",
                                                 "function": {"name": name, "arguments": ""}}]}))
        half = len(arguments) // 2
        for part in (arguments[:half], arguments[half:]):
            payloads.append(_choice({"tool_calls": [{"index": index,
                                                     "function": {"arguments": part}}]}))
    payloads += [_choice({}, finish_reason), *_usage(usage)]
    return ChatResponse(payloads=payloads)


def http_error(status: int = 503, *, delay_before_s: float = 0.0) -> ChatResponse:
    return ChatResponse(status=status, delay_before_s=delay_before_s)


class FakeOpenAI(FakeServer):
    """Scriptable streaming chat-completions endpoint."""

    def __init__(self) -> None:
        super().__init__()
        self.script: deque[ChatResponse] = deque()
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []

    def queue(self, *responses: ChatResponse) -> None:
        self.script.extend(responses)

    def provider_options(self, model: str = "local-llm") -> dict[str, Any]:
        """Keyword arguments pointing OpenAICompatLLM at this fake."""
        return {"base_url": f"{self.base_url}/v1", "api_key": "test-key", "model": model}

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._completions)
        return app

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        answer = self.script.popleft() if self.script else text_answer("OK.")
        if answer.delay_before_s:
            await asyncio.sleep(answer.delay_before_s)
        if answer.status != 200:
            return web.json_response({"error": {"message": "fake failure", "type": "server_error"}},
                                     status=answer.status)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for payload in answer.payloads:
            chunk = {"id": "chatcmpl-1", "object": "chat.completion.chunk",
                     "created": 1700000000, "model": body.get("model", ""), **payload}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
            if answer.chunk_delay_s:
                await asyncio.sleep(answer.chunk_delay_s)
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response
