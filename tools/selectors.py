"""Reads for tools and their runs. Every selector takes the tenant; foreign looks like missing."""

from __future__ import annotations

from django.db.models import QuerySet

from agents.models import Agent
from aybiza.core.errors import NotFound
from aybiza.core.models import Tenant
from aybiza.core.selectors import parse_pk
from calls.realtime.providers.llm.base import ToolSpec
from tools.models import TenantToolSettings, Tool, ToolExecution
from tools.ssrf import EMPTY_ALLOWLIST, Allowlist, parse_allowlist

EMPTY_PARAMETERS = {"type": "object", "properties": {}}


def tool_list(*, tenant: Tenant) -> QuerySet[Tool]:
    return Tool.objects.filter(tenant=tenant).prefetch_related("agents")


def tool_get(*, tenant: Tenant, pk) -> Tool:
    pk = parse_pk(pk)  # str.isdigit() also takes "²", which int() refuses: a 500, not a 404
    tool = tool_list(tenant=tenant).filter(pk=pk).first() if pk is not None else None
    if tool is None:
        raise NotFound("Tool not found.")
    return tool


def tools_for_agent(*, tenant_id: int, agent_id: int) -> QuerySet[Tool]:
    """The active tools attached to the agent (the tenant is checked on both sides). By ids:
    the live call has them and must not wait for extra queries."""
    return Tool.objects.filter(tenant_id=tenant_id, agents__id=agent_id,
                               agents__tenant_id=tenant_id, is_active=True).order_by("name")


def confirms_before_running(tool: Tool) -> bool:
    """Whether an agent reads the arguments back before running the tool: it changes
    something (not idempotent) with what the caller said (it has required arguments)."""
    return not tool.idempotent and bool((tool.parameters or {}).get("required"))


def tool_specs_for_agent(*, tenant: Tenant, agent: Agent) -> list[ToolSpec]:
    """What the brain is told about the agent's tools."""
    return [
        ToolSpec(name=tool.name, description=tool.description,
                 parameters=without_secure_argument(tool.parameters or dict(EMPTY_PARAMETERS),
                                     tool.secure_capture_argument),
                 trigger_phrases=list(tool.trigger_phrases),
                 secure_argument=tool.secure_capture_argument,
                 secure_prompt=(tool.secure_capture_prompt
                                if tool.secure_capture_argument else ""),
                 confirm=confirms_before_running(tool))
        for tool in tools_for_agent(tenant_id=tenant.id, agent_id=agent.id)
    ]


def without_secure_argument(parameters: dict, argument: str) -> dict:
    """The schema minus a securely captured argument: brains must not ask for it."""
    if not argument:
        return parameters
    properties = {k: v for k, v in parameters.get("properties", {}).items() if k != argument}
    required = [name for name in parameters.get("required", []) if name != argument]
    return {**parameters, "properties": properties, "required": required}


def tool_fillers_for_agent(*, tenant: Tenant, agent: Agent) -> dict[str, str]:
    """Tool name → what to say while it runs (only tools that have a filler)."""
    tools = tools_for_agent(tenant_id=tenant.id, agent_id=agent.id)
    return {name: filler for name, filler in tools.values_list("name", "filler_text") if filler}


def tool_execution_list(
    *, tenant: Tenant, tool_id: int | None = None, call_id: int | None = None,
    status: str | None = None,
) -> QuerySet[ToolExecution]:
    executions = ToolExecution.objects.filter(tenant=tenant)
    if tool_id is not None:
        executions = executions.filter(tool_id=tool_id)
    if call_id is not None:
        executions = executions.filter(call_id=call_id)
    if status:
        executions = executions.filter(status=status)
    return executions.order_by("-created_at", "-id")


def tool_execution_get(*, tenant: Tenant, pk) -> ToolExecution:
    pk = parse_pk(pk)
    execution = (ToolExecution.objects.filter(tenant=tenant, pk=pk).first()
                 if pk is not None else None)
    if execution is None:
        raise NotFound("Tool execution not found.")
    return execution


def tool_network_allowlist(*, tenant: Tenant) -> Allowlist:
    settings_row = TenantToolSettings.objects.filter(tenant=tenant).first()
    if settings_row is None:
        return EMPTY_ALLOWLIST
    return parse_allowlist(settings_row.network_allowlist)


def tool_verified_senders(*, tenant: Tenant) -> list[str]:
    """The e-mail senders staff verified for `tenant` (addresses, or domains as "@domain")."""
    settings_row = TenantToolSettings.objects.filter(tenant=tenant).first()
    return list(settings_row.verified_senders) if settings_row else []
