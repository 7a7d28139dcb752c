"""OpenAICompatLLM against the SSE wire fake (tests/fakes/openai.py) with the real SDK."""

from __future__ import annotations

import json

import pytest

from calls.realtime.providers.failover import ProviderError
from calls.realtime.providers.llm.base import (
    Conversation,
    Done,
    Message,
    TextDelta,
    ToolCall,
    ToolResult,
    ToolSpec,
)
from calls.realtime.providers.llm.openai_compat import OpenAICompatLLM
from tests.fakes.openai import ChatResponse, http_error, text_answer, tool_answer

pytest_plugins = ["tests.fakes.fixtures"]
pytestmark = pytest.mark.integration

LOOKUP = ToolSpec(name="lookup_order", description="Look up an order",
                  parameters={"type": "object", "properties": {"order_id": {"type": "string"}}})
HOURS = ToolSpec(name="opening_hours", description="Opening hours",
                 parameters={"type": "object", "properties": {}})


def conversation(*messages: Message) -> Conversation:
    return Conversation(system_prompt="You are Acme's receptionist.",
                        messages=list(messages) or [Message(role="user", text="where is my order")],
                        tools=[LOOKUP, HOURS])


async def respond(fake, conv: Conversation | None = None) -> list:
    llm = OpenAICompatLLM(**fake.provider_options())
    try:
        return [event async for event in llm.respond(conv or conversation())]
    finally:
        await llm.aclose()


@pytest.mark.asyncio
async def test_text_streams_and_request_carries_tools_and_usage_option(fake_openai):
    # given a streamed text answer with cached prompt tokens
    fake_openai.queue(text_answer("One ", "moment.", usage=(120, 4), cached_tokens=100))

    # when the brain responds
    events = await respond(fake_openai)

    # then the deltas, the stop reason and the usage come through
    assert events[:2] == [TextDelta("One "), TextDelta("moment.")]
    done = events[-1]
    assert isinstance(done, Done) and done.stop_reason == "end_turn"
    # (OpenAI's prompt_tokens include the cached ones: billed once, at the cache price)
    assert (done.usage.input_tokens, done.usage.output_tokens,
            done.usage.cache_read_tokens) == (20, 4, 100)
    assert done.usage.latency_ms is not None
    # and the request is a streaming chat completion with tools (PROTOCOLS §4)
    [body] = fake_openai.requests
    assert body["model"] == "local-llm" and body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [{"role": "system", "content": "You are Acme's receptionist."},
                                {"role": "user", "content": "where is my order"}]
    assert body["tools"][0] == {"type": "function", "function": {
        "name": "lookup_order", "description": "Look up an order",
        "parameters": LOOKUP.parameters}}
    assert body["tool_choice"] == "auto"
    assert fake_openai.headers[0]["Authorization"] == "Bearer test-key"


@pytest.mark.asyncio
@pytest.mark.parametrize("whole", [False, True], ids=["fragments", "whole-call-in-one-chunk"])
async def test_parallel_tool_calls_are_assembled_by_index(fake_openai, whole):
    # given two tool calls, streamed in fragments or each in one chunk
    fake_openai.queue(tool_answer("Checking.", [
        ("call_a", "lookup_order", '{"order_id": "A123"}'),
        ("call_b", "opening_hours", "{}"),
    ], whole=whole))

    # when the brain responds
    events = await respond(fake_openai)

    # then both calls come out whole, after the text, and the round stops for tool use
    assert events[0] == TextDelta("Checking.")
    assert [e for e in events if isinstance(e, ToolCall)] == [
        ToolCall(id="call_a", name="lookup_order", arguments={"order_id": "A123"}),
        ToolCall(id="call_b", name="opening_hours", arguments={}),
    ]
    assert events[-1].stop_reason == "tool_use"


@pytest.mark.asyncio
async def test_missing_usage_chunk_and_stop_finish_with_tools_are_tolerated(fake_openai):
    # given a server that omits the usage chunk and says "stop" after a tool call
    fake_openai.queue(tool_answer("", [("call_a", "lookup_order", '{"order_id": "9"}')],
                                  finish_reason="stop", usage=None))

    # when the brain responds
    events = await respond(fake_openai)

    # then the call still comes out, the stop reason says tool use, usage is zero
    assert events[0] == ToolCall(id="call_a", name="lookup_order", arguments={"order_id": "9"})
    assert events[-1].stop_reason == "tool_use"
    assert events[-1].usage.input_tokens == 0


@pytest.mark.asyncio
async def test_invalid_json_arguments_are_kept_raw_for_the_tool_layer(fake_openai):
    # given a model that emits broken JSON arguments
    fake_openai.queue(tool_answer("", [("call_a", "lookup_order", '{"order_id": "A1')]))

    # when the brain responds
    events = await respond(fake_openai)

    # then the call is not dropped: its raw arguments travel under "_raw"
    assert events[0] == ToolCall(id="call_a", name="lookup_order",
                                 arguments={"_raw": '{"order_id": "A1'})


@pytest.mark.asyncio
async def test_server_without_index_or_with_object_arguments_is_tolerated(fake_openai):
    # given a server that leaves out the index and sends arguments as an object
    call = {"id": "call_x", "type": "function",
            "function": {"name": "lookup_order", "arguments": {"order_id": "7"}}}
    fake_openai.queue(ChatResponse(payloads=[
        {"choices": [{"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    ]))

    # when the brain responds
    events = await respond(fake_openai)

    # then the call is still understood
    assert events[0] == ToolCall(id="call_x", name="lookup_order", arguments={"order_id": "7"})


@pytest.mark.asyncio
async def test_tool_results_are_sent_back_as_tool_messages(fake_openai):
    # given the assistant called a tool and got its result
    conv = conversation(
        Message(role="user", text="where is A123"),
        Message(role="assistant", text="One moment.", tool_calls=[
            ToolCall(id="call_abc", name="lookup_order", arguments={"order_id": "A123"})]),
        Message(role="tool", tool_results=[
            ToolResult(call_id="call_abc", name="lookup_order", content={"status": "shipped"})]),
    )

    # when the brain responds again
    await respond(fake_openai, conv)

    # then the history has arguments as a JSON string and a role "tool" message
    messages = fake_openai.requests[0]["messages"]
    assert messages[2] == {"role": "assistant", "content": "One moment.", "tool_calls": [
        {"id": "call_abc", "type": "function",
         "function": {"name": "lookup_order", "arguments": '{"order_id": "A123"}'}}]}
    assert messages[3] == {"role": "tool", "tool_call_id": "call_abc",
                           "content": json.dumps({"status": "shipped"})}


@pytest.mark.asyncio
@pytest.mark.parametrize(("status", "failover"), [(503, True), (429, True), (400, False)])
async def test_http_errors_become_provider_errors(fake_openai, status, failover):
    # given the server fails
    fake_openai.queue(http_error(status))

    # when the brain responds, then the error says whether another provider may answer
    with pytest.raises(ProviderError) as caught:
        await respond(fake_openai)
    assert (caught.value.status, caught.value.failover) == (status, failover)
