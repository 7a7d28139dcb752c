"""`tools.run_tool_call`: thin, routed to the tools queue, idempotent when Celery re-delivers."""

from __future__ import annotations

import pytest

from aybiza import celery_app
from tools.execution import INTERRUPTED_MESSAGE
from tools.models import ExecutionStatus, ToolExecution
from tools.tasks import run_tool_call

pytestmark = pytest.mark.django_db


def queued(tool, **fields) -> ToolExecution:
    fields.setdefault("tool_call_id", "toolu_01")
    return ToolExecution.objects.create(tenant=tool.tenant, tool=tool, tool_name=tool.name,
                                        arguments={}, **fields)


def test_task_is_named_for_the_tools_queue():
    # when
    route = celery_app.amqp.router.route({}, run_tool_call.name)
    # then
    assert run_tool_call.name == "tools.run_tool_call"
    assert route["queue"].name == "tools"


def test_task_runs_the_tool_and_replies_on_the_channel(target, allow_loopback, make_http_tool,
                                                       replies):
    # given
    target.reply("POST", "/stock", json={"in_stock": 3})
    execution = queued(make_http_tool(target.url("/stock")))
    # when
    run_tool_call(execution.tenant_id, execution.id, replies.channel)
    # then
    [message] = replies.receive(1)
    assert message == {
        "type": "tool.result", "tenant_id": execution.tenant_id, "call_id": None,
        "execution_id": execution.id, "tool_call_id": "toolu_01", "name": "lookup_order",
        "content": {"in_stock": 3}, "is_error": False,
    }
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED and execution.attempts == 1


def test_redelivered_task_resends_the_stored_result_without_running_again(
        target, allow_loopback, make_http_tool, replies):
    # given a task that already ran
    target.reply("POST", "/charge", json={"charged": True})
    execution = queued(make_http_tool(target.url("/charge")))
    run_tool_call(execution.tenant_id, execution.id, replies.channel)
    first = replies.receive(1)
    # when Celery delivers it again (acks_late after a lost ack)
    run_tool_call(execution.tenant_id, execution.id, replies.channel)
    # then the same result is sent again, and the service was called once
    again = replies.receive(1)
    assert again == first
    assert len(target.requests) == 1


def test_idempotent_tool_left_running_by_a_dead_worker_runs_again(
        target, allow_loopback, make_http_tool, replies):
    # given
    target.reply("GET", "/slots", json={"slots": ["9:00"]})
    tool = make_http_tool(target.url("/slots"), method="GET", idempotent=True)
    execution = queued(tool, status=ExecutionStatus.RUNNING, attempts=1)
    # when
    run_tool_call(execution.tenant_id, execution.id, replies.channel)
    # then
    [message] = replies.receive(1)
    assert message["content"] == {"slots": ["9:00"]} and message["is_error"] is False
    assert len(target.requests) == 1
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED and execution.attempts == 2


def test_non_idempotent_tool_left_running_is_reported_failed_not_repeated(
        target, allow_loopback, make_http_tool, replies):
    # given a payment-like tool that may already have acted before the worker died
    target.reply("POST", "/pay", json={"paid": True})
    execution = queued(make_http_tool(target.url("/pay")), status=ExecutionStatus.RUNNING)
    # when
    run_tool_call(execution.tenant_id, execution.id, replies.channel)
    # then
    [message] = replies.receive(1)
    assert message["is_error"] is True
    assert "interrupted; not retried because the tool is not idempotent" in message["content"]
    assert target.requests == []
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED
    assert execution.error == INTERRUPTED_MESSAGE


def test_task_for_a_missing_execution_does_nothing(tenant, replies):
    # when
    run_tool_call(tenant.id, 987654, replies.channel)
    # then
    with pytest.raises(AssertionError):
        replies.receive(1, timeout_s=0.1)


def test_task_never_runs_another_tenants_execution(target, allow_loopback, make_http_tool,
                                                    replies, other_tenant):
    # given one tenant's queued execution
    target.reply("POST", "/charge", json={"charged": True})
    execution = queued(make_http_tool(target.url("/charge")))
    # when a task names it under another tenant
    run_tool_call(other_tenant.id, execution.id, replies.channel)
    # then nothing runs and nothing is reported
    with pytest.raises(AssertionError):
        replies.receive(1, timeout_s=0.1)
    assert target.requests == []
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.QUEUED


def test_task_module_imports_for_a_worker():
    # given what `celery -A aybiza worker -Q tools` loads
    celery_app.loader.import_default_modules()
    # then the task is registered under its name
    assert "tools.run_tool_call" in celery_app.tasks


def test_finished_run_publishes_tool_executed(target, allow_loopback, make_http_tool, replies,
                                              django_capture_on_commit_callbacks):
    # given
    from aybiza.core.events import EventType, subscribe, unsubscribe

    seen = []
    subscribe(EventType.TOOL_EXECUTED)(seen.append)
    target.reply("POST", "/stock", json={"in_stock": 3})
    execution = queued(make_http_tool(target.url("/stock")))
    # when
    try:
        with django_capture_on_commit_callbacks(execute=True):
            run_tool_call(execution.tenant_id, execution.id, replies.channel)
    finally:
        unsubscribe(seen.append)
    # then
    assert [(e.tenant_id, e.payload["execution_id"], e.payload["status"]) for e in seen] == [
        (execution.tenant_id, execution.id, ExecutionStatus.SUCCEEDED)]


def test_a_tool_run_joins_the_calls_trace_and_passes_it_on(target, allow_loopback,
                                                            make_http_tool, replies):
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from aybiza.core import tracing

    exporter = InMemorySpanExporter()
    tracing.install(SimpleSpanProcessor(exporter))
    try:
        # given a live call's trace
        call = tracing.start_call_span(tenant_id=1, call_sid="CA7", agent_id=1,
                                       direction="inbound")
        target.reply("POST", "/stock", json={"in_stock": 3})
        execution = queued(make_http_tool(target.url("/stock")))
        # when its tool call runs on a worker (the task carries the trace)
        run_tool_call(execution.tenant_id, execution.id, replies.channel,
                      traceparent=tracing.traceparent(call))
    finally:
        tracing.uninstall()
    # then the run is a span of the call's trace, and the tenant's service got it too
    [tool] = [span for span in exporter.get_finished_spans() if span.name == "tool"]
    assert tool.context.trace_id == call.context.trace_id
    assert tool.parent.span_id == call.context.span_id
    assert tool.attributes["aybiza.tool_status"] == "succeeded"
    sent = target.requests[0].headers.get("Traceparent") or target.requests[0].headers.get(
        "traceparent")
    assert sent.split("-")[1] == f"{call.context.trace_id:032x}"
