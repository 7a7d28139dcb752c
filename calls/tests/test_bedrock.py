"""BedrockLLM against the converse-stream wire fake (tests/fakes/bedrock.py) with real boto3."""

from __future__ import annotations

import asyncio

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
from calls.realtime.providers.llm.bedrock import BedrockLLM, bedrock_messages
from tests.fakes.bedrock import (
    access_denied,
    billed,
    corrupted_stream,
    cut_stream,
    mid_stream_error,
    server_error,
    text_turn,
    throttled,
    tool_turn,
)

pytest_plugins = ["tests.fakes.fixtures"]
pytestmark = pytest.mark.integration

LOOKUP = ToolSpec(name="lookup_order", description="Look up an order",
                  parameters={"type": "object", "properties": {"order_id": {"type": "string"}},
                              "required": ["order_id"]})
HOURS = ToolSpec(name="opening_hours", description="Opening hours of a store",
                 parameters={"type": "object", "properties": {"store": {"type": "string"}}})


def conversation(*messages: Message, tools: list[ToolSpec] | None = None) -> Conversation:
    return Conversation(system_prompt="You are the receptionist of Acme.",
                        messages=list(messages) or [Message(role="user", text="Hi")],
                        tools=tools or [], knowledge=[("Parking?", "Behind the building.")])


async def collect(llm: BedrockLLM, conv: Conversation) -> list:
    return [event async for event in llm.respond(conv)]


@pytest.mark.asyncio
async def test_text_streams_as_deltas_with_usage_cache_tokens_and_latency(fake_bedrock):
    # given a streamed answer that read from the prompt cache
    fake_bedrock.queue(text_turn("Our parking ", "is behind the building.", usage={
        "inputTokens": 1200, "outputTokens": 9, "cacheReadInputTokens": 1100,
        "cacheWriteInputTokens": 40}, latency_ms=412))
    llm = BedrockLLM(model="us.anthropic.claude-sonnet-4-20250514-v1:0",
                     **fake_bedrock.provider_options())

    # when the brain responds
    events = await collect(llm, conversation())

    # then text arrives delta by delta and Done carries stop reason, usage and latency
    assert events[:2] == [TextDelta("Our parking "), TextDelta("is behind the building.")]
    done = events[-1]
    assert isinstance(done, Done) and done.stop_reason == "end_turn"
    assert (done.usage.input_tokens, done.usage.output_tokens, done.usage.cache_read_tokens,
            done.usage.cache_write_tokens, done.usage.latency_ms) == (1200, 9, 1100, 40, 412)
    # and the request had the model in the path, the system prompt with the knowledge (no
    # cache point: far below the model's minimum cacheable prefix)
    [request] = fake_bedrock.requests
    assert request.model_id == "us.anthropic.claude-sonnet-4-20250514-v1:0"
    assert request.body["system"] == [
        {"text": "You are the receptionist of Acme.\n\nAnswer from this knowledge when it "
                 "applies:\nQ: Parking?\nA: Behind the building."}]
    assert request.body["inferenceConfig"] == {"maxTokens": 512, "temperature": 0.3}
    assert "toolConfig" not in request.body


@pytest.mark.asyncio
async def test_text_deltas_reach_the_session_before_the_stream_ends(fake_bedrock):
    # given a model that produces its words slowly
    fake_bedrock.queue(text_turn("One", " two", " three", frame_delay_s=0.05))
    llm = BedrockLLM(**fake_bedrock.provider_options())
    loop = asyncio.get_running_loop()
    seen: list[tuple[object, float]] = []

    # when the brain responds
    async for event in llm.respond(conversation()):
        seen.append((event, loop.time()))

    # then the first words were yielded well before the last frame was sent
    assert isinstance(seen[0][0], TextDelta)
    assert seen[-1][1] - seen[0][1] >= 0.15


@pytest.mark.asyncio
async def test_two_parallel_tool_uses_in_one_turn_become_two_tool_calls(fake_bedrock):
    # given the model calls two tools at once
    fake_bedrock.queue(tool_turn("Let me check.", [
        ("tooluse_a", "lookup_order", {"order_id": "A123"}),
        ("tooluse_b", "opening_hours", {"store": "Main Street"}),
    ]))
    llm = BedrockLLM(**fake_bedrock.provider_options())

    # when the brain responds
    events = await collect(llm, conversation(tools=[LOOKUP, HOURS]))

    # then both calls come out whole, with their ids, and the round stops for tool use
    assert events[0] == TextDelta("Let me check.")
    assert [e for e in events if isinstance(e, ToolCall)] == [
        ToolCall(id="tooluse_a", name="lookup_order", arguments={"order_id": "A123"}),
        ToolCall(id="tooluse_b", name="opening_hours", arguments={"store": "Main Street"}),
    ]
    assert events[-1].stop_reason == "tool_use"
    # and the tools were offered with automatic choice
    tool_config = fake_bedrock.requests[0].body["toolConfig"]
    assert tool_config["toolChoice"] == {"auto": {}}
    assert tool_config["tools"][0]["toolSpec"]["name"] == "lookup_order"
    assert tool_config["tools"][0]["toolSpec"]["inputSchema"] == {"json": LOOKUP.parameters}


@pytest.mark.asyncio
async def test_tool_results_go_back_as_one_user_message_after_the_assistant_tool_uses(
        fake_bedrock):
    # given a conversation where both tool calls were answered
    fake_bedrock.queue(text_turn("It shipped, and we open at nine."))
    conv = conversation(
        Message(role="user", text="Where is order A123, and when do you open?"),
        Message(role="assistant", text="Let me check.", tool_calls=[
            ToolCall(id="tooluse_a", name="lookup_order", arguments={"order_id": "A123"}),
            ToolCall(id="tooluse_b", name="opening_hours", arguments={"store": "Main"})]),
        Message(role="tool", tool_results=[
            ToolResult(call_id="tooluse_a", name="lookup_order", content={"status": "shipped"}),
            ToolResult(call_id="tooluse_b", name="opening_hours", content="9am",
                       is_error=False)]),
        tools=[LOOKUP, HOURS])

    # when the brain responds again
    await collect(BedrockLLM(**fake_bedrock.provider_options()), conv)

    # then the fake received the exact PROTOCOLS §3.3 shapes
    messages = fake_bedrock.requests[0].body["messages"]
    assert messages[1:] == [
        {"role": "assistant", "content": [
            {"text": "Let me check."},
            {"toolUse": {"toolUseId": "tooluse_a", "name": "lookup_order",
                         "input": {"order_id": "A123"}}},
            {"toolUse": {"toolUseId": "tooluse_b", "name": "opening_hours",
                         "input": {"store": "Main"}}}]},
        {"role": "user", "content": [
            {"toolResult": {"toolUseId": "tooluse_a", "content": [{"json": {"status": "shipped"}}],
                            "status": "success"}},
            {"toolResult": {"toolUseId": "tooluse_b", "content": [{"text": "9am"}],
                            "status": "success"}}]},
    ]


def test_messages_merge_same_role_turns_and_open_with_a_user_turn():
    # given a call that opened with the greeting and a tool error followed by the caller
    messages = [
        Message(role="assistant", text="Hello, Acme."),
        Message(role="assistant", text="", tool_calls=[
            ToolCall(id="t1", name="lookup_order", arguments={})]),
        Message(role="tool", tool_results=[
            ToolResult(call_id="t1", name="lookup_order", content="timeout", is_error=True)]),
        Message(role="user", text="Hello?"),
    ]

    # when converted
    converted = bedrock_messages(messages)

    # then roles alternate, starting with a user turn, and consecutive turns are merged
    assert [m["role"] for m in converted] == ["user", "assistant", "user"]
    assert converted[1]["content"] == [
        {"text": "Hello, Acme."},
        {"toolUse": {"toolUseId": "t1", "name": "lookup_order", "input": {}}}]
    assert converted[2]["content"] == [
        {"toolResult": {"toolUseId": "t1", "content": [{"text": "timeout"}], "status": "error"}},
        {"text": "Hello?"}]


@pytest.mark.asyncio
async def test_throttling_before_the_stream_is_retried_with_backoff(fake_bedrock):
    # given two 429 ThrottlingExceptions, then an answer
    fake_bedrock.queue(throttled(), throttled(), text_turn("Hello."))
    llm = BedrockLLM(**fake_bedrock.provider_options())

    # when the brain responds
    events = await collect(llm, conversation())

    # then the caller gets the answer after two retries in the same region
    assert events[0] == TextDelta("Hello.")
    assert llm.throttle_retries == 2
    assert [r.region for r in fake_bedrock.requests] == ["us-east-1"] * 3


@pytest.mark.asyncio
async def test_mid_stream_throttling_before_any_text_is_retried(fake_bedrock):
    # given a stream that fails with throttlingException before any text
    fake_bedrock.queue(mid_stream_error(), text_turn("Recovered."))
    llm = BedrockLLM(**fake_bedrock.provider_options())

    # when the brain responds
    events = await collect(llm, conversation())

    # then the retry's answer is all the session sees
    assert [e for e in events if isinstance(e, TextDelta)] == [TextDelta("Recovered.")]
    assert len(fake_bedrock.requests) == 2


@pytest.mark.asyncio
async def test_mid_stream_throttling_after_text_is_not_retried(fake_bedrock):
    # given a stream that throttles after the caller may have heard words
    fake_bedrock.queue(mid_stream_error("Sure, "), text_turn("never sent"))
    llm = BedrockLLM(**fake_bedrock.provider_options())

    # when the brain responds
    seen = []
    with pytest.raises(ProviderError) as caught:
        async for event in llm.respond(conversation()):
            seen.append(event)

    # then the words are not repeated by a retry, and no other provider takes over
    assert seen == [TextDelta("Sure, ")]
    assert not caught.value.failover
    assert len(fake_bedrock.requests) == 1


@pytest.mark.asyncio
async def test_server_error_fails_over_to_the_next_region(fake_bedrock):
    # given the primary region answers 503
    fake_bedrock.queue(server_error(503), region="us-east-1")
    fake_bedrock.queue(text_turn("From Oregon."), region="us-west-2")
    llm = BedrockLLM(**fake_bedrock.provider_options(regions=["us-east-1", "us-west-2"]))

    # when the brain responds
    events = await collect(llm, conversation())

    # then the second region answered
    assert events[0] == TextDelta("From Oregon.")
    assert [r.region for r in fake_bedrock.requests] == ["us-east-1", "us-west-2"]
    assert llm.region_failovers == 1


@pytest.mark.asyncio
async def test_exhausted_throttling_fails_over_to_the_next_region(fake_bedrock):
    # given the primary region throttles every attempt
    fake_bedrock.queue(throttled(), throttled(), throttled(), region="us-east-1")
    fake_bedrock.queue(text_turn("From Ohio."), region="us-east-2")
    llm = BedrockLLM(max_attempts=3,
                     **fake_bedrock.provider_options(regions=["us-east-1", "us-east-2"]))

    # when the brain responds
    events = await collect(llm, conversation())

    # then after three attempts the next region served the turn
    assert events[0] == TextDelta("From Ohio.")
    assert [r.region for r in fake_bedrock.requests] == ["us-east-1"] * 3 + ["us-east-2"]


@pytest.mark.asyncio
async def test_every_region_down_raises_a_failover_error(fake_bedrock):
    # given both regions fail
    fake_bedrock.queue(server_error(500, "InternalServerException"), region="us-east-1")
    fake_bedrock.queue(server_error(503), region="us-west-2")
    llm = BedrockLLM(**fake_bedrock.provider_options(regions=["us-east-1", "us-west-2"]))

    # when the brain responds, then another provider may take the turn
    with pytest.raises(ProviderError) as caught:
        await collect(llm, conversation())
    assert caught.value.failover


@pytest.mark.asyncio
async def test_connection_refused_fails_over_to_a_region_that_answers(fake_bedrock):
    # given the first endpoint does not listen at all (nothing on port 9 of the loopback)
    llm = BedrockLLM(**{**fake_bedrock.provider_options(), "endpoint_url": "http://127.0.0.1:9"})

    # when the brain responds, then the connect error is a failover error
    with pytest.raises(ProviderError) as caught:
        await collect(llm, conversation())
    assert caught.value.failover and fake_bedrock.requests == []


@pytest.mark.asyncio
async def test_refused_credentials_fail_over_to_another_provider_not_another_region(
        fake_bedrock):
    # given the credentials are refused (the same keys serve every region)
    fake_bedrock.queue(access_denied(), region="us-east-1")
    fake_bedrock.queue(text_turn("Never asked."), region="us-west-2")
    llm = BedrockLLM(**fake_bedrock.provider_options(regions=["us-east-1", "us-west-2"]))

    # when the brain responds
    with pytest.raises(ProviderError) as caught:
        await collect(llm, conversation())

    # then it is an auth error another provider may take over, with AWS's words, after one try
    assert caught.value.auth and caught.value.failover and caught.value.status == 403
    assert "not authorized" in str(caught.value)
    assert [r.region for r in fake_bedrock.requests] == ["us-east-1"]


@pytest.mark.asyncio
@pytest.mark.parametrize("broken", [cut_stream, corrupted_stream], ids=["cut", "corrupted"])
async def test_a_broken_stream_before_any_text_is_retried_not_an_empty_answer(fake_bedrock,
                                                                              broken):
    # given the first answer is cut (or corrupted) before any text, the retry answers
    fake_bedrock.queue(broken(), text_turn("We open at nine."))
    llm = BedrockLLM(**fake_bedrock.provider_options())

    # when the brain responds
    events = await collect(llm, conversation())

    # then the caller gets the real answer, not a successful empty one
    assert events[0] == TextDelta("We open at nine.")
    assert len(fake_bedrock.requests) == 2


@pytest.mark.asyncio
async def test_a_stream_cut_on_every_attempt_is_a_failover_error(fake_bedrock):
    fake_bedrock.queue(cut_stream(), cut_stream(), cut_stream())
    llm = BedrockLLM(max_attempts=3, **fake_bedrock.provider_options())

    with pytest.raises(ProviderError) as caught:
        await collect(llm, conversation())

    assert caught.value.failover and "messageStop" in str(caught.value.__cause__)


@pytest.mark.asyncio
async def test_a_stream_cut_after_text_is_an_error_not_a_finished_answer(fake_bedrock):
    # given the stream is cut after the caller already heard some words
    fake_bedrock.queue(cut_stream("We open "))
    llm = BedrockLLM(**fake_bedrock.provider_options())

    events = []
    with pytest.raises(ProviderError) as caught:
        async for event in llm.respond(conversation()):
            events.append(event)

    # then no Done(end_turn) pretends it finished, and nobody else repeats it
    assert events == [TextDelta("We open ")]
    assert not caught.value.failover


def test_document_passages_go_with_the_callers_newest_words_not_into_the_cached_prefix():
    llm = BedrockLLM(prompt_cache=True)
    asked = Message(role="user", text="Do you take Cigna?",
                    passages=["[Handbook — Insurance] We accept Delta Dental and Cigna."])
    request = llm.build_request(conversation(asked))

    assert "Cigna" not in str(request["system"])
    content = request["messages"][-1]["content"]
    assert content[0] == {"text": "Do you take Cigna?"}
    assert "We accept Delta Dental and Cigna." in content[1]["text"]
    # only the last caller turn's passages: earlier ones answered earlier questions
    later = llm.build_request(conversation(
        asked, Message(role="assistant", text="Yes."), Message(role="user", text="Thanks")))
    assert "Cigna." not in str(later["messages"][-1]) and "Cigna." not in str(later["system"])


LONG_PROMPT = "You are the receptionist of Acme Dental. " + "Be brief and kind. " * 300


def test_cache_points_go_where_the_prefix_reaches_the_models_minimum():
    sonnet = BedrockLLM(model="us.anthropic.claude-sonnet-4-20250514-v1:0")
    point = {"cachePoint": {"type": "default"}}
    # a long, stable prompt (over 1,024 tokens): a point after it, before the caller's memory
    long = Conversation(system_prompt=LONG_PROMPT, caller_name="Ana",
                        messages=[Message(role="user", text="Hi")])
    request = sonnet.build_request(long)
    assert request["system"][1] == point and "Ana" in request["system"][2]["text"]
    # the same prompt is below Haiku 4.5's minimum (4,096): no point there
    haiku = BedrockLLM(model="us.anthropic.claude-haiku-4-5-20251001-v1:0")
    assert point not in haiku.build_request(long)["system"]
    # a short prompt: nothing at first, then a rolling point on the conversation once it is
    # long enough, at the end of the exchange before the caller's newest words
    talk = [Message(role="user", text="Hi")]
    for turn in range(40):
        talk += [Message(role="assistant", text=f"Answer number {turn}, " + "words " * 40),
                 Message(role="user", text=f"Question number {turn}?")]
    short = conversation(talk[0])
    assert "cachePoint" not in str(sonnet.build_request(short))
    short.messages = talk
    messages = sonnet.build_request(short)["messages"]
    assert messages[-2]["content"][-1] == point and point not in messages[-1]["content"]
    assert sum(str(m).count("cachePoint") for m in messages) == 1
    # caching off: no points at all
    assert "cachePoint" not in str(BedrockLLM(prompt_cache=False).build_request(short))


@pytest.mark.asyncio
async def test_a_long_call_reads_its_growing_prefix_from_the_cache_as_bedrock_bills_it(
        fake_bedrock):
    # given a call whose conversation grows past the model's minimum, billed by the fake's
    # prompt cache (tokens counted from each request, cached by its cache points)
    llm = BedrockLLM(**fake_bedrock.provider_options())
    conv = conversation(Message(role="user", text="Hi"))
    for turn in range(16):
        fake_bedrock.queue(billed(text_turn(f"Answer {turn}: " + "we can help with that " * 24)))
        async for _ in llm.respond(conv):
            pass
        conv.messages += [Message(role="assistant", text=f"Answer {turn}: "
                                  + "we can help with that " * 24),
                          Message(role="user", text=f"And question {turn + 1}?")]
    usage = fake_bedrock.billed
    # then the first turns cache nothing (too short), and once the prefix is long enough each
    # turn reads what the turn before wrote
    assert usage[0]["cacheReadInputTokens"] == usage[0]["cacheWriteInputTokens"] == 0
    assert usage[-1]["cacheReadInputTokens"] >= 1024
    assert usage[-1]["cacheReadInputTokens"] > 5 * usage[-1]["inputTokens"]
    # and output is billed on what the model wrote (four characters a token), not on the
    # stream's framing
    answer = len("Answer 15: " + "we can help with that " * 24)
    assert usage[-1]["outputTokens"] == answer // 4


def test_more_than_four_cache_points_are_refused_like_bedrock_does(fake_bedrock):
    import botocore.exceptions

    llm = BedrockLLM(**fake_bedrock.provider_options())
    request = llm.build_request(conversation(Message(role="user", text="Hi")))
    request["system"] += [{"cachePoint": {"type": "default"}}] * 5
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        llm._client(llm.regions[0]).converse_stream(**request)
    assert refused.value.response["Error"]["Code"] == "ValidationException"


def test_the_router_keeps_the_strong_model_for_turns_that_may_act_or_reason():
    from calls.realtime.providers.llm.routing import route_turn

    book = ToolSpec(name="book_appointment", description="Book", parameters={},
                    trigger_phrases=["see the dentist"])

    def route(*messages: Message):
        conv = conversation(*messages, tools=[book])
        return route_turn(conv, fast_model="fast", strong_model="strong")

    assert route(Message(role="user", text="Yes, thanks!")).tier == "fast"
    assert route(Message(role="user", text="[DTMF 1]")).reason == "keypad entry"
    assert route(Message(role="user", text="Do you have parking?")).tier == "fast"
    assert route(Message(role="user", text="I'd like to book for Tuesday")).tier == "strong"
    assert route(Message(role="user", text="Can I see the dentist soon")).reason == \
        "may need a tool"
    assert route(Message(role="user", text=" ".join(["word"] * 30))).tier == "strong"
    assert route(Message(role="user", text="book"), Message(
        role="tool", tool_results=[ToolResult("t", "book_appointment", {"ok": True})])
    ).reason == "acting on tool results"


@pytest.mark.asyncio
async def test_with_a_fast_model_each_turn_goes_to_the_model_its_route_chose(fake_bedrock):
    llm = BedrockLLM(**fake_bedrock.provider_options(), fast_model="fast-model-id")
    fake_bedrock.queue(text_turn("You're welcome."), text_turn("Which day?"))

    thanks = [e async for e in llm.respond(conversation(Message(role="user", text="Thanks")))]
    book = [e async for e in llm.respond(conversation(
        Message(role="user", text="I want to book an appointment")))]

    assert [r.model_id for r in fake_bedrock.requests] == [
        "fast-model-id", "us.anthropic.claude-sonnet-4-20250514-v1:0"]
    assert (thanks[-1].tier, thanks[-1].route_reason) == ("fast", "confirmation or small talk")
    assert (book[-1].tier, book[-1].model) == (
        "strong", "us.anthropic.claude-sonnet-4-20250514-v1:0")
    # without a fast model nothing is routed
    plain = [e async for e in BedrockLLM(**fake_bedrock.provider_options()).respond(
        conversation(Message(role="user", text="Thanks")))]
    assert plain[-1].tier == "" and plain[-1].model == ""
