"""Tool tasks on a real `celery worker` (prefork, over Redis): test runs leave the web process,
and a run that hangs is stopped at its time limits, answered, and never delivered again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from aybiza import celery_app
from tests import stubborn_builtin
from tests.celery_worker import CeleryWorker, celery_worker
from tools.models import ExecutionStatus, ToolExecution
from tools.services import tool_create, tool_network_allowlist_set, tool_test_run
from tools.tasks import run_tool_call
from tools.tests.conftest import ReplyInbox, TargetServer

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not django_settings.REDIS_URL,
                       reason="needs Redis (REDIS_URL): run through `make test` (tests.services)"),
]
SOFT_LIMIT_S = 2
HARD_LIMIT_S = 4
# Longer than the hard limit, as it must be; short, so the redelivery check is too.
VISIBILITY_TIMEOUT_S = 6
WAIT_S = 20.0


@pytest.fixture(autouse=True)
def _tasks_to_the_broker(settings, monkeypatch):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    # The sender puts the task's limits in the message: ours must match the worker's settings.
    settings.TOOLS_TASK_SOFT_TIME_LIMIT_S = SOFT_LIMIT_S
    settings.TOOLS_TASK_TIME_LIMIT_S = HARD_LIMIT_S
    monkeypatch.setattr(run_tool_call, "soft_time_limit", SOFT_LIMIT_S)
    monkeypatch.setattr(run_tool_call, "time_limit", HARD_LIMIT_S)
    monkeypatch.setattr(run_tool_call, "_exec_options", None)  # Celery caches them per task
    # The worker registers it on import (see `worker`); this process, for saving the tool.
    monkeypatch.setitem(stubborn_builtin.BUILTINS, stubborn_builtin.STUBBORN.name,
                        stubborn_builtin.STUBBORN)


@pytest.fixture
def worker(transactional_db) -> Iterator[CeleryWorker]:
    with celery_worker({
        "TOOLS_TASK_SOFT_TIME_LIMIT_S": str(SOFT_LIMIT_S),
        "TOOLS_TASK_TIME_LIMIT_S": str(HARD_LIMIT_S),
        "CELERY_VISIBILITY_TIMEOUT_S": str(VISIBILITY_TIMEOUT_S),
        "AYBIZA_TEST_STUBBORN_BUILTIN": "1",
    }, pool="prefork", concurrency=1, include=("tests.stubborn_builtin",)) as started:
        yield started


@pytest.fixture
def replies() -> Iterator[ReplyInbox]:
    inbox = ReplyInbox()
    yield inbox
    inbox.close()


@pytest.fixture
def service() -> Iterator[TargetServer]:
    with TargetServer() as server:
        yield server


def answer(replies: ReplyInbox, worker: CeleryWorker) -> list[dict]:
    try:
        return replies.receive(1, timeout_s=WAIT_S)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{worker.log()}") from None


def finished(execution_id: int, timeout_s: float = WAIT_S) -> ToolExecution:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        execution = ToolExecution.objects.get(pk=execution_id)
        if execution.is_finished:
            return execution
        time.sleep(0.1)
    raise AssertionError(f"execution {execution_id} not finished within {timeout_s} s")


def test_a_test_run_is_run_by_a_worker_not_the_web_process(tenant, service, worker):
    # given a tool whose service answers
    tool_network_allowlist_set(tenant=tenant, entries=["127.0.0.1"])
    service.reply("POST", "/stock", json={"in_stock": 3})
    tool = tool_create(tenant=tenant, name="stock", description="Stock.",
                       url_template=service.url("/stock"), max_retries=0)
    # when the tenant tests it (API and admin call this)
    execution = tool_test_run(tenant=tenant, tool=tool, arguments={})
    # then the worker ran it, and the caller still got the result back
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.result
    assert execution.result == {"in_stock": 3}
    assert worker.tasks_succeeded("tools.run_tool_call") == 1, worker.log()


def test_a_slow_tool_is_stopped_at_the_soft_limit_and_answered(tenant, service, worker,
                                                               replies):
    # given a tool allowed a minute, whose service holds the request far longer than the limit
    tool_network_allowlist_set(tenant=tenant, entries=["127.0.0.1"])
    service.reply("POST", "/slow", json={"late": True}, delay_s=60)
    tool = tool_create(tenant=tenant, name="slow", description="Slow.", timeout_ms=60_000,
                       url_template=service.url("/slow"), max_retries=0)
    execution = ToolExecution.objects.create(tenant=tenant, tool=tool, tool_name=tool.name,
                                             tool_call_id="toolu_slow")
    # when a live call's tool call runs it
    started = time.monotonic()
    run_tool_call.apply_async(args=(tenant.id, execution.pk, replies.channel))
    [message] = answer(replies, worker)
    # then the run stops at the soft limit and the call hears why, well within its patience
    assert time.monotonic() - started < SOFT_LIMIT_S + 3, worker.log()
    assert message["is_error"] is True
    assert message["content"] == f"The tool took longer than {SOFT_LIMIT_S} s and was stopped."
    assert finished(execution.pk).status == ExecutionStatus.TIMEOUT
    assert len(service.requests) == 1


def test_a_hung_task_is_killed_at_the_hard_limit_and_never_delivered_again(
        tenant, worker, replies, tmp_path: Path):
    # given a tool that hangs and shrugs off the soft limit (as a C call would)
    runs_file = tmp_path / "runs"
    tool = tool_create(tenant=tenant, kind="builtin", builtin_name=stubborn_builtin.STUBBORN.name,
                       builtin_config={"runs_file": str(runs_file)})
    execution = ToolExecution.objects.create(tenant=tenant, tool=tool, tool_name=tool.name,
                                             tool_call_id="toolu_hang")
    # when a live call's tool call runs it
    started = time.monotonic()
    run_tool_call.apply_async(args=(tenant.id, execution.pk, replies.channel))
    [message] = answer(replies, worker)
    answered_after = time.monotonic() - started
    # then its process is killed at the hard limit, the run is recorded as timed out and the
    # call is answered
    assert HARD_LIMIT_S - 0.5 < answered_after < HARD_LIMIT_S + 4, worker.log()
    assert message["content"] == f"The tool took longer than {HARD_LIMIT_S} s and was stopped."
    assert finished(execution.pk).status == ExecutionStatus.TIMEOUT
    assert f"Hard time limit ({HARD_LIMIT_S}" in worker.log()
    # and, past the broker's visibility timeout, the task was not delivered again
    time.sleep(VISIBILITY_TIMEOUT_S + 3)
    assert runs_file.read_text().count("run by") == 1, worker.log()
    with pytest.raises(AssertionError):
        replies.receive(1, timeout_s=0.2)
