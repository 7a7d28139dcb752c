"""Tools: list, create and edit an HTTP tool (JSON Schema checked at the field, secrets
write-only), and "Try it": a real run through the executor, with the request and the reply."""

from __future__ import annotations

import contextlib
import json

from django.contrib import messages
from django.db.models import Count
from django.shortcuts import redirect, render

from agents.selectors import agent_list
from aybiza.core.errors import ApplicationError
from aybiza.portal.access import portal_view
from aybiza.portal.forms import HttpToolForm, ToolForm, ToolTryForm, add_service_errors
from tools.execution import redact_json
from tools.models import ToolKind
from tools.selectors import tool_get, tool_list
from tools.services import tool_create, tool_test_run, tool_update

SERVICE_ALIASES = {"agent_ids": "agents"}


@portal_view()
def tool_index(request):
    tools = (tool_list(tenant=request.member.tenant).prefetch_related(None)
             .annotate(agent_count=Count("agents", distinct=True)))
    return render(request, "portal/tools/list.html", {"tools": tools})


@portal_view(write_page=True)
def tool_new(request):
    return _tool_form_page(request, tool=None)


@portal_view()
def tool_edit(request, pk: int):
    tool = tool_get(tenant=request.member.tenant, pk=pk)
    return _tool_form_page(request, tool=tool)


@portal_view(write_page=True)
def tool_try(request, pk: int):
    """Run the tool with the posted sample arguments; the tool page shows what happened."""
    tool = tool_get(tenant=request.member.tenant, pk=pk)
    try_form = ToolTryForm(request.POST or None)
    run = None
    if request.method == "POST" and try_form.is_valid():
        arguments = try_form.cleaned_data["arguments"]
        execution = tool_test_run(tenant=request.member.tenant, tool=tool, arguments=arguments)
        run = {"execution": execution, "request": _request_preview(tool, arguments),
               "result": json.dumps(execution.result, indent=2, ensure_ascii=False)
               if execution.result is not None else ""}
    return _tool_form_page(request, tool=tool, try_form=try_form, run=run, bound=False)


def _form_class(tool):
    return ToolForm if tool is not None and tool.kind == ToolKind.BUILTIN else HttpToolForm


def _tool_form_page(request, *, tool, try_form=None, run=None, bound: bool = True):
    tenant = request.member.tenant
    agents = agent_list(tenant=tenant).prefetch_related(None)
    data = request.POST if bound and request.method == "POST" else None
    form = _form_class(tool)(data, instance=tool, agents=agents)
    if data is not None and form.is_valid():
        fields = form.service_fields()
        agent_ids = [agent.pk for agent in form.cleaned_data["agents"]]
        try:
            if tool is None:
                tool = tool_create(tenant=tenant, secrets=form.secrets(), agent_ids=agent_ids,
                                   actor=request.user, kind=ToolKind.HTTP, **fields)
            else:
                tool = tool_update(tenant=tenant, tool=tool, secrets=form.secrets(),
                                   agent_ids=agent_ids, actor=request.user, **fields)
        except ApplicationError as exc:
            _rename_fields(exc)
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Saved the tool “{tool.name}”.")
            return redirect("portal:tool-edit", pk=tool.pk)
    if tool is not None and try_form is None:
        try_form = ToolTryForm(initial={"arguments": _sample_arguments(tool.parameters)})
    return render(request, "portal/tools/form.html",
                  {"form": form, "tool": tool, "try_form": try_form, "run": run})


def _rename_fields(exc: ApplicationError) -> None:
    fields = exc.extra.get("fields") if isinstance(exc.extra, dict) else None
    if isinstance(fields, dict):
        exc.extra["fields"] = {SERVICE_ALIASES.get(k, k): v for k, v in fields.items()}


def _sample_arguments(schema) -> dict:
    """An arguments object with every declared property, as a starting point for Try it."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return {}
    samples = {"string": "", "integer": 0, "number": 0, "boolean": False, "array": [],
               "object": {}}
    return {name: samples.get(spec.get("type") if isinstance(spec, dict) else None, "")
            for name, spec in properties.items()}


def _request_preview(tool, arguments: dict) -> dict | None:
    """The HTTP request the executor builds for these arguments (auth headers left out), shown
    redacted; None for built-ins or when the arguments do not render."""
    if tool.kind != ToolKind.HTTP:
        return None
    from tools.executor.http_tool import build_request
    from tools.executor.render import RenderError, template_values

    try:
        url, headers, body = build_request(tool, arguments, template_values(arguments))
    except (RenderError, ValueError, TypeError):
        return None
    text = body.decode("utf-8", "replace") if body else ""
    redacted = False
    with contextlib.suppress(ValueError):  # a non-JSON body is shown as it is
        payload = json.loads(text)
        shown = redact_json(payload)
        # Shown like the stored run's arguments: personal data redacted.
        redacted = shown != payload
        text = json.dumps(shown, indent=2, ensure_ascii=False)
    return {"method": tool.method, "url": url, "headers": headers, "body": text,
            "redacted": redacted,
            "auth": tool.get_auth_type_display() if tool.auth_type != "none" else ""}
