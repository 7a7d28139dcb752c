"""Celery tasks of the tools app (queue "tools": settings route `tools.*` there).

Workers: `celery -A aybiza worker -Q tools`.
"""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from tools.services import tool_execution_run, tool_result_message, tool_result_send


# A lost database connection is worth a few quick retries: the caller is waiting on the line.
@shared_task(name="tools.run_tool_call", ignore_result=True, autoretry_for=(OperationalError,),
             max_retries=3, retry_backoff=1, retry_backoff_max=4, retry_jitter=True)
def run_tool_call(execution_id: int, reply_channel: str) -> None:
    """Run one tool call and report its result to the live call on `reply_channel` ("" = nobody).

    Idempotent: a re-delivered task re-sends the stored result of a finished execution.
    """
    execution = tool_execution_run(execution_id=execution_id)
    if execution is not None:
        tool_result_send(reply_channel=reply_channel, message=tool_result_message(execution))
