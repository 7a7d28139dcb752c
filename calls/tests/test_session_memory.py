"""Long-term memory as a language model uses it on a live call: the built-in `remember` and
`recall` tools (offered only when the caller may be remembered), answered by the session itself,
and `forget_caller` turning both off for the rest of the call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from calls.models import Outcome
from calls.realtime.call_control import with_call_control
from calls.realtime.providers.llm.base import (
    BrainEvent,
    Conversation,
    Done,
    LLMProvider,
    TextDelta,
    ToolCall,
    ToolSpec,
)
from calls.tests.session_harness import SILENCE, SPEECH, feed, make_session


class ToolCallingLLM(LLMProvider):
    """Calls the scripted tools one round each, then says what the last result said."""

    name = "scripted"

    def __init__(self, *calls: ToolCall) -> None:
        self.calls = list(calls)
        self.results: list = []
        self.offered: list[str] = []

    async def respond(self, conversation: Conversation) -> AsyncIterator[BrainEvent]:
        self.offered = [tool.name for tool in conversation.tools]
        last = conversation.messages[-1]
        if last.role == "tool":
            self.results.extend(last.tool_results)
        if self.calls:
            yield self.calls.pop(0)
            yield Done(stop_reason="tool_use")
            return
        yield TextDelta("All set.")
        yield Done()


def test_memory_tools_are_offered_only_when_the_caller_may_be_remembered():
    booking = ToolSpec(name="book", description="Book", parameters={})
    names = [t.name for t in with_call_control([booking], llm_provider="bedrock", memory=True)]
    assert names == ["book", "end_call", "forget_caller", "remember", "recall"]
    assert "remember" not in [t.name for t in with_call_control([booking],
                                                                llm_provider="bedrock")]


@pytest.mark.asyncio
async def test_a_remembered_fact_is_stored_and_recalled_on_the_same_call():
    llm = ToolCallingLLM(ToolCall("t1", "remember", {"key": "preferred_dentist",
                                                     "value": "Dr. Rivera"}),
                         ToolCall("t2", "recall", {}))
    session, _, store, _ = await make_session(
        llm=llm, stt_lines=["please note I like Dr. Rivera"], greeting="",
        remembers_caller=True,
        tool_specs=with_call_control([], llm_provider="bedrock", memory=True))
    session.conversation.memory["last_booking"] = "Tuesday at ten"  # from an earlier call

    await feed(session, SPEECH, 0.3)
    await feed(session, SILENCE, 2.5)

    assert ("remembered", {"key": "preferred_dentist", "value": "Dr. Rivera"}) in store.events
    remembered, recalled = llm.results
    assert remembered.is_error is False
    assert recalled.content == {"facts": {"last_booking": "Tuesday at ten",
                                          "preferred_dentist": "Dr. Rivera"}}
    await session.finish("caller_hung_up")


@pytest.mark.asyncio
async def test_after_forget_me_nothing_is_recalled_or_remembered():
    llm = ToolCallingLLM(ToolCall("t1", "forget_caller", {}),
                         ToolCall("t2", "remember", {"key": "k", "value": "v"}),
                         ToolCall("t3", "recall", {}))
    session, _, store, _ = await make_session(
        llm=llm, stt_lines=["forget me"], greeting="", remembers_caller=True,
        tool_specs=with_call_control([], llm_provider="bedrock", memory=True))
    session.conversation.memory["last_booking"] = "Tuesday at ten"

    await feed(session, SPEECH, 0.3)
    await feed(session, SILENCE, 2.5)

    forgot, remember, recall = llm.results
    assert "I won't remember anything about you" in forgot.content["message"]
    assert remember.is_error and "not remembered" in remember.content
    assert recall.content == {"message": "Nothing is remembered about this caller."}
    assert ("forgotten", {}) in store.events
    assert not [event for event in store.events if event[0] == "remembered"]
    await session.finish("caller_hung_up")


@pytest.mark.asyncio
async def test_an_oversized_fact_is_refused_with_a_reason():
    llm = ToolCallingLLM(ToolCall("t1", "remember", {"key": "note", "value": "x" * 501}))
    session, _, store, _ = await make_session(
        llm=llm, stt_lines=["remember this"], greeting="", remembers_caller=True,
        tool_specs=with_call_control([], llm_provider="bedrock", memory=True))

    await feed(session, SPEECH, 0.3)
    await feed(session, SILENCE, 2.0)

    [refused] = llm.results
    assert refused.is_error and "at most 500" in refused.content
    await asyncio.wait_for(session.finish("caller_hung_up"), 5)


@pytest.mark.asyncio
@pytest.mark.parametrize(("reply", "outcome", "remembers", "kept"), [
    ("What day and time would you like?", Outcome.CALLER_HUNG_UP, True, True),
    ("What day and time would you like?", Outcome.DISCONNECTED, True, True),
    ("What day and time would you like?", Outcome.AGENT_ENDED, True, False),  # ended by us
    ("Booked for Tuesday at ten.", Outcome.CALLER_HUNG_UP, True, False),  # no question pending
    ("Is there anything else I can help with?", Outcome.CALLER_HUNG_UP, True, False),
    ("What day and time would you like?", Outcome.CALLER_HUNG_UP, False, False),  # opted out
])
async def test_a_call_cut_off_while_the_agent_waits_for_an_answer_is_kept_for_a_call_back(
        reply, outcome, remembers, kept):
    from calls.realtime.providers.llm.instant import InstantLLM

    session, wire, store, _ = await make_session(
        llm=InstantLLM(reply), stt_lines=["book me in"], greeting="Hi.",
        remembers_caller=remembers)
    await feed(session, SILENCE, 0.6)
    await feed(session, SPEECH, 0.3)
    await feed(session, SILENCE, 1.5)
    await session.finish(outcome)

    if kept:
        assert [(m["role"], m["text"]) for m in store.kept_for_resume] == [
            ("assistant", "Hi."), ("user", "book me in"), ("assistant", reply)]
    else:
        assert store.kept_for_resume == []  # and an older kept conversation is dropped
