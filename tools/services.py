"""Writes for tools: CRUD with sealed secrets, test runs, and dispatching the live call's tool
calls to Celery (`tools.tasks`). Running one execution and reporting its result back to the call
live in `tools.execution`, which the tasks use: services → tasks → execution, no cycle."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, close_old_connections, transaction

from agents.models import Agent
from aybiza.core.errors import ApplicationError, NotFound
from aybiza.core.models import Tenant
from aybiza.core.tenancy import ensure_owned
from calls.models import Call
from calls.realtime.providers.llm.base import ToolCall
from compliance.services import audit_record
from tools.execution import (
    eager_delivery,
    finish_execution,
    set_arguments,
    task_time_limits,
    tool_execution_run,
    tool_result_message,
    tool_result_send,
)
from tools.executor.outcome import failed
from tools.models import (
    FINISHED_STATUSES,
    TOOL_FIELDS,
    ExecutionStatus,
    TenantToolSettings,
    Tool,
    ToolExecution,
    ToolKind,
    ToolMode,
)
from tools.secrets import merge_secrets, seal_secrets, unseal_secrets
from tools.selectors import tools_for_agent
from tools.tasks import run_tool_call
from tools.validation import arguments_problem

logger = logging.getLogger(__name__)

DEFAULT_EAGER_WORKERS = 8
# How long a test run waits for a worker to pick its task up, beyond the task's own time limit.
TEST_RUN_QUEUE_WAIT_S = 5.0
TEST_RUN_POLL_S = 0.1


# --- tools -------------------------------------------------------------------------------------


@transaction.atomic
def tool_create(
    *, tenant: Tenant, secrets: dict[str, str | None] | None = None,
    agent_ids: list[int] | None = None, actor=None, **fields: Any,
) -> Tool:
    """Create a tool. A built-in gets its description, schema, triggers and filler by default."""
    tool = Tool(tenant=tenant, **_only_tool_fields(fields))
    if tool.kind == ToolKind.BUILTIN:
        _apply_builtin_defaults(tool, given=fields)
    return _save(tool, secrets=secrets, agent_ids=agent_ids, action="tool.created", actor=actor)


@transaction.atomic
def tool_update(
    *, tenant: Tenant, tool: Tool, secrets: dict[str, str | None] | None = None,
    agent_ids: list[int] | None = None, actor=None, **fields: Any,
) -> Tool:
    """Change a tool. `secrets` is merged: a name with a value sets it, with None or "" removes
    it; secrets not named are kept. `agent_ids`, when given, replaces the attached agents.

    A URL to another origin (scheme, host or port) drops the stored secrets, audited: they were
    given for the old host, and must not follow the tool to a host its editor controls. Secrets
    given in the same call are stored for the new host."""
    ensure_owned(tenant, tool)
    old_origin = url_origin(tool.url_template)
    for name, value in _only_tool_fields(fields).items():
        setattr(tool, name, value)
    new_origin = url_origin(tool.url_template)
    if tool.secrets_sealed and new_origin != old_origin:
        tool.secrets_sealed = ""
        audit_record(action="tool.secrets_dropped", tenant=tenant, target=tool, actor=actor,
                     payload={"reason": "url_origin_changed", "old_origin": old_origin,
                              "new_origin": new_origin})
    return _save(tool, secrets=secrets, agent_ids=agent_ids, action="tool.updated", actor=actor)


@transaction.atomic
def tool_delete(*, tenant: Tenant, tool: Tool, actor=None) -> None:
    ensure_owned(tenant, tool)
    audit_record(action="tool.deleted", tenant=tenant, target=tool, actor=actor)
    tool.delete()


def tool_network_allowlist_set(*, tenant: Tenant, entries: list[str]) -> TenantToolSettings:
    """Set the hosts/networks this tenant's tools may reach despite the SSRF guard (staff only)."""
    row, _ = TenantToolSettings.objects.get_or_create(tenant=tenant)
    row.network_allowlist = list(entries)
    _full_clean(row)
    row.save()
    return row


def tool_secrets_merge(*, tool: Tool, secrets: dict[str, str | None]) -> None:
    """Merge `secrets` into the tool's sealed secrets (None or "" removes one); not saved."""
    current = merge_secrets(unseal_secrets(tool.tenant, tool.secrets_sealed), secrets)
    tool.secrets_sealed = seal_secrets(tool.tenant, current)


def _save(tool: Tool, *, secrets, agent_ids, action: str, actor) -> Tool:
    if secrets is not None:
        tool_secrets_merge(tool=tool, secrets=secrets)
    _full_clean(tool)
    if Tool.objects.filter(tenant=tool.tenant, name=tool.name).exclude(pk=tool.pk).exists():
        raise _field_error("name", "The tenant already has a tool with this name.")
    try:
        with transaction.atomic():
            tool.save()
    except IntegrityError as exc:  # a concurrent create took the name
        raise _field_error("name", "The tenant already has a tool with this name.") from exc
    if agent_ids is not None:
        agents = list(Agent.objects.filter(tenant=tool.tenant, pk__in=agent_ids))
        if len(agents) != len(set(agent_ids)):
            raise _field_error("agent_ids", "Unknown agent.")
        tool.agents.set(agents)
    audit_record(action=action, tenant=tool.tenant, target=tool, actor=actor)
    return tool


def url_origin(url_template: str) -> str:
    """`scheme://host:port` of a tool's URL template, lower-cased with the default port filled
    in ("" without a host). The host never holds placeholders (validate_url_template)."""
    scheme, _, rest = url_template.strip().partition("://")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0].rpartition("@")[2].lower()
    scheme = scheme.lower()
    try:
        parts = urlsplit(f"{scheme}://{authority}")
        host, port = parts.hostname or "", parts.port
    except ValueError:  # not a valid port: compare the text as written
        return f"{scheme}://{authority}"
    if not host:
        return ""
    port = port or {"http": 80, "https": 443}.get(scheme, 0)
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}:{port}"


def _apply_builtin_defaults(tool: Tool, *, given: dict[str, Any]) -> None:
    from tools.builtins import BUILTINS

    builtin = BUILTINS.get(tool.builtin_name)
    if builtin is None:
        return  # full_clean names the problem
    defaults = {
        "name": builtin.name, "description": builtin.description,
        "parameters": builtin.parameters, "trigger_phrases": list(builtin.trigger_phrases),
        "filler_text": builtin.filler_text, "idempotent": builtin.idempotent,
    }
    for name, value in defaults.items():
        if name not in given:
            setattr(tool, name, value)


def _only_tool_fields(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(TOOL_FIELDS)
    if unknown:
        raise ApplicationError(f"Unknown tool fields: {', '.join(sorted(unknown))}.")
    return fields


def _full_clean(instance) -> None:
    try:
        instance.full_clean(exclude=["tenant"], validate_constraints=False)
    except ValidationError as exc:
        raise ApplicationError("Invalid fields.", extra={"fields": exc.message_dict}) from exc


def _field_error(field: str, message: str) -> ApplicationError:
    return ApplicationError(message, extra={"fields": {field: [message]}})


# --- running -----------------------------------------------------------------------------------


def tool_test_run(*, tenant: Tenant, tool: Tool, arguments: Any,
                  confirm: bool = False) -> ToolExecution:
    """Run `tool` now, outside any call, with sample arguments (API "test", admin action).
    Unless `confirm`, side-effecting built-ins only say what they would send (a dry run).

    The run is a task on the tools queue, as a live call's tool calls are: a worker process runs
    it, never the web process that carries calls (in the embedded default, without workers, it
    runs here). This waits for its outcome up to the task's hard time limit (plus a few seconds
    in the queue) and returns the execution: finished, or still queued/running when no worker
    got to it in time (its outcome is then read from the executions API).
    """
    ensure_owned(tenant, tool)
    problem = arguments_problem(arguments)
    if problem:
        raise _field_error("arguments", problem)
    execution = ToolExecution(tenant=tenant, tool=tool, tool_name=tool.name,
                              tool_call_id=f"test-{uuid.uuid4().hex[:12]}", dry_run=not confirm)
    set_arguments(execution, arguments)
    execution.save()
    if run_tool_call.app.conf.task_always_eager:
        return tool_execution_run(tenant_id=tenant.id, execution_id=execution.id)
    transaction.on_commit(
        lambda: run_tool_call.apply_async(args=(tenant.id, execution.id, "")))
    if transaction.get_connection().in_atomic_block:
        return execution  # sent when the caller's transaction commits: nothing to wait for yet
    return _wait_finished(execution, timeout_s=task_time_limits()[1] + TEST_RUN_QUEUE_WAIT_S)


def _wait_finished(execution: ToolExecution, *, timeout_s: float) -> ToolExecution:
    deadline = time.monotonic() + timeout_s
    finished = ToolExecution.objects.filter(pk=execution.pk, status__in=FINISHED_STATUSES)
    while time.monotonic() < deadline:
        if finished.exists():
            break
        time.sleep(TEST_RUN_POLL_S)
    execution.refresh_from_db()
    return execution


# --- the live call -----------------------------------------------------------------------------


def tool_calls_dispatch(
    *, tenant_id: int, call_id: int | None, agent_id: int, calls: list[ToolCall],
    reply_channel: str, traceparent: str = "",
) -> list[int]:
    """Queue the brain's tool calls; each result arrives later on `reply_channel` as a
    `tool.result` message (see `tool_result_message`). Returns the execution ids.

    Sync: the live call runs it in a thread. The calls run in parallel (Celery workers; in the
    embedded eager mode a small thread pool). An unknown tool name is answered with an error
    result; an async-mode tool is acknowledged at once and its own result is not sent.
    """
    # Few queries: the caller is waiting. A foreign agent simply has no tools here.
    if call_id and not Call.objects.filter(tenant_id=tenant_id, pk=call_id).exists():
        raise NotFound("Call not found.")
    tools = {tool.name: tool for tool in tools_for_agent(tenant_id=tenant_id, agent_id=agent_id)}
    jobs: list[tuple[int, str]] = []
    acks: list[ToolExecution] = []
    with transaction.atomic():
        for tool_call in calls:
            tool = tools.get(tool_call.name)
            execution = ToolExecution(
                tenant_id=tenant_id, tool=tool, tool_name=tool_call.name[:64], call_id=call_id,
                tool_call_id=tool_call.id)
            too_large = arguments_problem(tool_call.arguments)
            if not too_large:
                set_arguments(execution, tool_call.arguments)
            execution.save()
            if too_large:  # not stored, not run; the brain is told to try again smaller
                finish_execution(execution, failed(
                    f"Invalid arguments for {execution.tool_name}: {too_large}",
                    status=ExecutionStatus.REJECTED, attempts=0), None)
            elif tool is None:
                # Finished here; its task only reports the stored answer.
                names = ", ".join(sorted(tools)) or "none"
                finish_execution(execution, failed(
                    f"There is no tool named {execution.tool_name!r}. Available tools: {names}.",
                    status=ExecutionStatus.REJECTED, attempts=0), None)
            if tool is not None and tool.mode == ToolMode.ASYNC and not too_large:
                acks.append(execution)
                jobs.append((execution.pk, ""))  # runs in the background, reports nothing
            else:
                jobs.append((execution.pk, reply_channel))
        transaction.on_commit(
            lambda: _after_dispatch(tenant_id, acks, jobs, reply_channel, traceparent))
    return [execution_id for execution_id, _ in jobs]


def _after_dispatch(tenant_id: int, acks: list[ToolExecution], jobs: list[tuple[int, str]],
                    reply_channel: str, traceparent: str = "") -> None:
    for execution in acks:
        tool_result_send(reply_channel=reply_channel, message=tool_result_message(
            execution, content={"status": "started",
                                "message": f"{execution.tool_name} is running in the background."},
            is_error=False))
    if run_tool_call.app.conf.task_always_eager:
        pool = _eager_pool()
        loop = _dispatching_loop()
        for execution_id, channel in jobs:
            pool.submit(_run_eager, tenant_id, execution_id, channel, loop, traceparent)
    else:
        for execution_id, channel in jobs:
            run_tool_call.apply_async(args=(tenant_id, execution_id, channel),
                                      kwargs={"traceparent": traceparent})


_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _eager_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            workers = getattr(settings, "TOOLS_EAGER_WORKERS", DEFAULT_EAGER_WORKERS)
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tools-eager")
        return _pool


# The event loop of the live call that dispatches tool calls, set by the call around its
# dispatch (calls/realtime/tooling.py); sync_to_async carries context variables into its thread.
dispatching_loop: ContextVar[asyncio.AbstractEventLoop | None] = ContextVar(
    "tools_dispatching_loop", default=None)


def _dispatching_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop of the async caller (a live call) when dispatch runs in its worker thread."""
    return dispatching_loop.get()


def _run_eager(tenant_id: int, execution_id: int, reply_channel: str,
               loop: asyncio.AbstractEventLoop | None = None, traceparent: str = "") -> None:
    close_old_connections()  # what a Celery worker does around each task (CONN_MAX_AGE)
    eager_delivery.loop = loop
    try:
        run_tool_call.apply(args=(tenant_id, execution_id, reply_channel),
                            kwargs={"traceparent": traceparent}, throw=True)
    except Exception:
        logger.exception("In-process tool run %s failed", execution_id)
    finally:
        eager_delivery.loop = None
        close_old_connections()


# --- catalog -----------------------------------------------------------------------------------


def tool_install_from_catalog(
    *, tenant: Tenant, template_key: str, credentials: dict[str, str], name: str | None = None,
    agent_ids: list[int] | None = None, actor=None,
) -> Tool:
    """Create a tool from a catalog template. `credentials` holds the template's secrets (sealed)
    and settings (written into the URL/headers/body, e.g. a Salesforce instance URL)."""
    from tools.catalog import catalog_get, catalog_tool_fields

    template = catalog_get(template_key)
    fields, secrets = catalog_tool_fields(template, credentials)
    if name:
        fields["name"] = name
    return tool_create(tenant=tenant, secrets=secrets, agent_ids=agent_ids, actor=actor,
                       **fields)
