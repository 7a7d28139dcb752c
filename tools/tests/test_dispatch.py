"""The live call's side: tool specs for the brain, dispatch, results on the reply channel."""

from __future__ import annotations

import time

import pytest

from aybiza.core.errors import NotFound
from calls.realtime.providers.llm.base import ToolCall, ToolSpec
from calls.services import call_start
from tools.models import ExecutionStatus, ToolExecution
from tools.selectors import tool_fillers_for_agent, tool_specs_for_agent
from tools.services import tool_calls_dispatch, tool_create


def dispatch(tenant, agent, calls, reply_channel, call=None):
    return tool_calls_dispatch(tenant_id=tenant.id, call_id=call.id if call else None,
                               agent_id=agent.id, calls=calls, reply_channel=reply_channel)


@pytest.mark.django_db(transaction=True)
def test_the_tools_of_one_dispatch_run_at_the_same_time(
        target, tenant, agent, allow_loopback, eager_celery, make_http_tool, replies):
    # given two tools whose servers answer only once both requests are in flight
    target.reply_when_all_arrived(["/a", "/b"])
    make_http_tool(target.url("/a"), name="tool_a", agent_ids=[agent.id])
    make_http_tool(target.url("/b"), name="tool_b", agent_ids=[agent.id])
    calls = [ToolCall("call-a", "tool_a", {}), ToolCall("call-b", "tool_b", {})]
    # when the brain asks for both at once
    execution_ids = dispatch(tenant, agent, calls, replies.channel)
    messages = replies.receive(2, timeout_s=30)
    # then both results arrived, each run while the other was in flight (one after the
    # other, the first would have given up waiting for its partner)
    assert {m["tool_call_id"]: m["content"] for m in messages} == {
        "call-a": {"path": "/a", "together": True}, "call-b": {"path": "/b", "together": True}}
    assert all(m["type"] == "tool.result" and m["is_error"] is False for m in messages)
    assert {m["execution_id"] for m in messages} == set(execution_ids)
    assert {m["tenant_id"] for m in messages} == {tenant.id}


@pytest.mark.django_db(transaction=True)
def test_unknown_tool_and_bad_arguments_come_back_as_errors_the_brain_can_read(
        target, tenant, agent, allow_loopback, eager_celery, make_http_tool, replies,
        phone_number):
    # given
    call = call_start(tenant=tenant, phone_number=phone_number, call_sid="CA" + "1" * 32,
                      from_number="+15557654321", to_number=phone_number.e164)
    make_http_tool(target.url("/book"), name="book_table", agent_ids=[agent.id],
                   parameters={"type": "object", "properties": {"party": {"type": "integer"}},
                               "required": ["party"]})
    calls = [ToolCall("t1", "fly_to_the_moon", {}), ToolCall("t2", "book_table", {"party": "x"})]
    # when
    dispatch(tenant, agent, calls, replies.channel, call=call)
    messages = {m["tool_call_id"]: m for m in replies.receive(2)}
    # then
    assert messages["t1"]["is_error"] and "no tool named 'fly_to_the_moon'" in \
        messages["t1"]["content"] and "book_table" in messages["t1"]["content"]
    assert messages["t2"]["is_error"] and "Invalid arguments for book_table" in \
        messages["t2"]["content"]
    assert {m["call_id"] for m in messages.values()} == {call.id}
    assert target.requests == []
    statuses = set(ToolExecution.objects.filter(call=call).values_list("status", flat=True))
    assert statuses == {ExecutionStatus.REJECTED}


@pytest.mark.django_db(transaction=True)
def test_async_tool_is_acknowledged_at_once_and_runs_in_the_background(
        target, tenant, agent, allow_loopback, eager_celery, make_http_tool, replies):
    # given a fire-and-forget tool whose server does not answer until we let it
    released = target.hold("POST", "/notify", json={"ok": True})
    make_http_tool(target.url("/notify"), name="notify_team", mode="async",
                   agent_ids=[agent.id])
    # when
    [execution_id] = dispatch(tenant, agent, [ToolCall("n1", "notify_team", {})], replies.channel)
    [ack] = replies.receive(1, timeout_s=10)
    # then the brain hears "started" while the tool is still running
    assert ack["tool_call_id"] == "n1" and ack["is_error"] is False
    assert ack["content"]["status"] == "started"
    assert ToolExecution.objects.get(pk=execution_id).status != ExecutionStatus.SUCCEEDED
    # and once the tool answers, it finishes in the background, with nothing more sent
    released.set()
    deadline = time.monotonic() + 10
    while ToolExecution.objects.get(pk=execution_id).status != ExecutionStatus.SUCCEEDED:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    with pytest.raises(AssertionError):
        replies.receive(1, timeout_s=0.2)


def test_dispatch_refuses_another_tenants_call(tenant, other_tenant, phone_number, replies):
    # given a call of this tenant, and the other tenant's own agent
    from agents.services import agent_create

    call = call_start(tenant=tenant, phone_number=phone_number, call_sid="CA" + "2" * 32,
                      from_number="+15557654321", to_number=phone_number.e164)
    theirs = agent_create(tenant=other_tenant, name="Theirs")
    # when / then
    with pytest.raises(NotFound, match="Call"):
        tool_calls_dispatch(tenant_id=other_tenant.id, call_id=call.id, agent_id=theirs.id,
                            calls=[], reply_channel=replies.channel)
    assert not ToolExecution.objects.exists()


def test_tool_specs_list_the_agents_active_tools_only(tenant, other_tenant, agent, target,
                                                      make_http_tool):
    # given
    make_http_tool(target.url("/a"), name="check_stock", agent_ids=[agent.id],
                   description="Check stock.", trigger_phrases=["in stock"],
                   filler_text="Checking the shelves.")
    make_http_tool(target.url("/b"), name="retired", agent_ids=[agent.id], is_active=False)
    make_http_tool(target.url("/c"), name="unattached")
    tool_create(tenant=tenant, kind="builtin", builtin_name="end_call", agent_ids=[agent.id])
    # when
    specs = tool_specs_for_agent(tenant=tenant, agent=agent)
    foreign = tool_specs_for_agent(tenant=other_tenant, agent=agent)
    # then
    assert [s.name for s in specs] == ["check_stock", "end_call"]
    assert specs[0] == ToolSpec(name="check_stock", description="Check stock.",
                                parameters={"type": "object", "properties": {}},
                                trigger_phrases=["in stock"])
    assert "Hang up" in specs[1].description
    assert foreign == []
    assert tool_fillers_for_agent(tenant=tenant, agent=agent) == {
        "check_stock": "Checking the shelves."}
