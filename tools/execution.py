"""Running one tool execution and reporting its result: what a Celery worker (`tools.tasks`)
does with a queued execution, and the channel-layer message that answers the live call.

Arguments are stored redacted for display, the real ones sealed until the run ends; results and
errors are stored redacted; every finished run is published as `tool.executed`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from typing import Any

from asgiref.sync import async_to_sync
from celery.exceptions import SoftTimeLimitExceeded
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone

from aybiza.core import metrics, tracing
from aybiza.core.events import EventType, publish_event
from aybiza.core.text import storable
from compliance.crypto import decrypt_text_for_tenant, encrypt_text_for_tenant
from compliance.redaction import redact
from tools.executor import execute
from tools.executor.outcome import ToolOutcome, cap_result, failed
from tools.models import FINISHED_STATUSES, ExecutionStatus, ToolExecution
from tools.selectors import tool_network_allowlist

logger = logging.getLogger(__name__)

INTERRUPTED_MESSAGE = ("The tool run was interrupted; not retried because the tool is not "
                       "idempotent.")
DEFAULT_TASK_SOFT_TIME_LIMIT_S = 20
DEFAULT_TASK_TIME_LIMIT_S = 25

# The event loop of the call that dispatched an in-process (eager) run, per pool thread.
eager_delivery = threading.local()


def task_time_limits() -> tuple[int, int]:
    """(soft, hard) seconds a tool task may run on a worker (settings TOOLS_TASK_*)."""
    return (getattr(settings, "TOOLS_TASK_SOFT_TIME_LIMIT_S", DEFAULT_TASK_SOFT_TIME_LIMIT_S),
            getattr(settings, "TOOLS_TASK_TIME_LIMIT_S", DEFAULT_TASK_TIME_LIMIT_S))


def tool_execution_run(*, tenant_id: int, execution_id: int,
                       traceparent: str = "") -> ToolExecution | None:
    """Run the tenant's queued execution and store its outcome; None when there is nothing to
    report (no such execution of this tenant, or another delivery is running it). The tenant
    travels with the task so that a forged or stale id can never run another tenant's tool.
    Safe to call again for the same id:

    - finished: returned as is (its stored result is what gets reported);
    - left "running" by a dead worker: an idempotent tool runs again, another is failed as
      interrupted (it may have acted already).
    """
    execution = (ToolExecution.objects
                 .select_related("tenant", "tool__tenant", "call__phone_number")
                 .filter(pk=execution_id, tenant_id=tenant_id).first())
    if execution is None or execution.is_finished:
        return execution
    tool = execution.tool
    if tool is None:
        return finish_execution(execution, failed("The tool no longer exists.", attempts=0), 0)
    if execution.status == ExecutionStatus.RUNNING and not tool.idempotent:
        return finish_execution(execution, failed(INTERRUPTED_MESSAGE, attempts=0), None)
    claimed = ToolExecution.objects.filter(pk=execution.pk, status=execution.status).update(
        status=ExecutionStatus.RUNNING, started_at=timezone.now())
    if not claimed:  # a concurrent delivery claimed it: that one reports the result
        execution.refresh_from_db()
        return execution if execution.is_finished else None
    started = time.monotonic()
    with tracing.span_from(traceparent, "tool", tool=tool.name, tenant_id=tenant_id,
                           execution_id=execution.pk) as span:
        outcome = _execute(execution, tool)
        if span is not None:
            span.set_attribute("aybiza.tool_status", outcome.status)
    return finish_execution(execution, outcome, round((time.monotonic() - started) * 1000))


def _execute(execution: ToolExecution, tool) -> ToolOutcome:
    try:
        return execute(tool=tool, arguments=_real_arguments(execution), call=execution.call,
                       allowlist=tool_network_allowlist(tenant=execution.tenant),
                       dry_run=execution.dry_run)
    except SoftTimeLimitExceeded:  # the worker stopped it: the caller is told, not left waiting
        return failed(_time_limit_message(task_time_limits()[0]),
                      status=ExecutionStatus.TIMEOUT)
    except Exception as exc:  # a bug must not leave the call waiting for ever
        logger.exception("Tool %s (execution %s) crashed", tool.name, execution.pk)
        return failed("The tool failed unexpectedly.", detail=f"{type(exc).__name__}: {exc}")


def tool_execution_time_out(*, tenant_id: int, execution_id: int,
                            limit_s: float) -> ToolExecution | None:
    """Record that a worker killed the run at its hard time limit; None if it had finished.
    Called by the worker's main process (the process that ran the tool is gone)."""
    execution = (ToolExecution.objects.select_related("tool")
                 .filter(pk=execution_id, tenant_id=tenant_id)
                 .exclude(status__in=FINISHED_STATUSES).first())
    if execution is None:
        return None
    started = execution.started_at or execution.created_at
    latency_ms = round((timezone.now() - started).total_seconds() * 1000)
    return finish_execution(
        execution, failed(_time_limit_message(limit_s), status=ExecutionStatus.TIMEOUT),
        latency_ms)


def _time_limit_message(limit_s: float) -> str:
    return f"The tool took longer than {limit_s:g} s and was stopped."


_ARGUMENTS_CONTEXT = "tool-execution-arguments"


def set_arguments(execution: ToolExecution, arguments: Any) -> None:
    """Store arguments redacted for display, and the real ones sealed until the run ends."""
    execution.arguments = redact_json(arguments)
    secure = execution.tool.secure_capture_argument if execution.tool else ""
    if secure and isinstance(arguments, dict) and secure in arguments:
        execution.arguments[secure] = "[SECURE]"  # keyed in by the caller: never stored
    if execution.arguments != arguments:
        execution.sealed_arguments = encrypt_text_for_tenant(
            execution.tenant, json.dumps(arguments), context=_ARGUMENTS_CONTEXT)


def _real_arguments(execution: ToolExecution) -> Any:
    if not execution.sealed_arguments:
        return execution.arguments
    return json.loads(decrypt_text_for_tenant(execution.tenant, execution.sealed_arguments,
                                              context=_ARGUMENTS_CONTEXT))


def redact_json(value: Any) -> Any:
    """`value` with PII redacted from every string in it (dict keys kept)."""
    if isinstance(value, str):
        return redact(value).text
    if isinstance(value, dict):
        return {key: redact_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_json(item) for item in value]
    return value


def finish_execution(execution: ToolExecution, outcome: ToolOutcome, latency_ms: int | None):
    execution.status = outcome.status
    # Results are stored (and handed to the brain) redacted; the real arguments are wiped.
    execution.result = redact_json(cap_result(outcome.content))
    execution.sealed_arguments = ""
    execution.error = redact_json(storable(outcome.error)) if outcome.is_error else ""
    execution.http_status = outcome.http_status
    execution.attempts += outcome.attempts
    execution.latency_ms = latency_ms
    execution.finished_at = timezone.now()
    execution.save(update_fields=["status", "result", "error", "http_status", "attempts",
                                  "latency_ms", "finished_at", "updated_at",
                                  "sealed_arguments"])
    logger.info("Tool %s (execution %s): %s in %s ms", execution.tool_name, execution.pk,
                execution.status, latency_ms)
    if latency_ms is not None:
        metrics.TOOL_RUNS.labels(status=execution.status).observe(latency_ms / 1000)
    publish_event(tenant=execution.tenant_id, type=EventType.TOOL_EXECUTED,
                  payload={"execution_id": execution.pk, "call_id": execution.call_id,
                           "tool": execution.tool_name, "status": execution.status,
                           "latency_ms": latency_ms})
    return execution


def tool_result_message(
    execution: ToolExecution, *, content: Any = None, is_error: bool | None = None
) -> dict[str, Any]:
    """The channel-layer message a live call's consumer handles in `tool_result`."""
    return {
        "type": "tool.result",
        "tenant_id": execution.tenant_id,
        "call_id": execution.call_id,
        "execution_id": execution.pk,
        "tool_call_id": execution.tool_call_id,
        "name": execution.tool_name,
        "content": execution.result if content is None else content,
        "is_error": execution.is_error if is_error is None else is_error,
    }


def tool_result_send(*, reply_channel: str, message: dict[str, Any]) -> None:
    if not reply_channel:
        return
    layer = get_channel_layer()
    if layer is None:
        logger.warning("No channel layer: tool result for %s dropped", message.get("name"))
        return
    loop = getattr(eager_delivery, "loop", None)
    if loop is not None and loop.is_running():
        # In-process run: hand the message to the live call's own event loop, thread-safely
        # (the in-memory layer's queues belong to that loop).
        asyncio.run_coroutine_threadsafe(layer.send(reply_channel, message), loop).result(10)
        return
    async_to_sync(layer.send)(reply_channel, message)
