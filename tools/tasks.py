"""Celery tasks of the tools app (queue "tools": settings route `tools.*` there).

Workers: `celery -A aybiza worker -Q tools` (prefork: time limits need it).
"""

from __future__ import annotations

from celery import Task, shared_task
from celery.exceptions import TimeLimitExceeded
from django.db import OperationalError

from tools.execution import (
    task_time_limits,
    tool_execution_run,
    tool_execution_time_out,
    tool_result_message,
    tool_result_send,
)

SOFT_TIME_LIMIT_S, TIME_LIMIT_S = task_time_limits()


class ToolTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        # At the hard time limit the worker's main process calls this (the run's process is
        # being killed): record the timeout and answer the call, which would otherwise wait.
        if isinstance(exc, TimeLimitExceeded) and len(args) >= 2:
            tenant_id, execution_id = args[0], args[1]
            reply_channel = args[2] if len(args) > 2 else ""
            limit_s = exc.args[0] if exc.args else TIME_LIMIT_S  # the one the message carried
            execution = tool_execution_time_out(tenant_id=tenant_id, execution_id=execution_id,
                                                limit_s=limit_s)
            if execution is not None:
                tool_result_send(reply_channel=reply_channel,
                                 message=tool_result_message(execution))


# A lost database connection is worth a few quick retries: the caller is waiting on the line.
# Time limits well under the call's patience; a timed-out run is acknowledged (never delivered
# again), and a run whose process died is retried within max_retries (settings/celery.py).
@shared_task(base=ToolTask, name="tools.run_tool_call", ignore_result=True,
             autoretry_for=(OperationalError,), max_retries=3, retry_backoff=1,
             retry_backoff_max=4, retry_jitter=True, default_retry_delay=1,
             soft_time_limit=SOFT_TIME_LIMIT_S, time_limit=TIME_LIMIT_S,
             acks_on_timeout=True, reject_on_worker_lost=False, retry_on_worker_lost=True)
def run_tool_call(tenant_id: int, execution_id: int, reply_channel: str,
                  traceparent: str = "") -> None:
    """Run one of the tenant's tool calls and report its result to the live call on
    `reply_channel` ("" = nobody).

    Idempotent: a re-delivered task re-sends the stored result of a finished execution.
    `traceparent`: the call's trace, which the run's span joins (aybiza.core.tracing).
    """
    execution = tool_execution_run(tenant_id=tenant_id, execution_id=execution_id,
                                   traceparent=traceparent)
    if execution is not None:
        tool_result_send(reply_channel=reply_channel, message=tool_result_message(execution))
