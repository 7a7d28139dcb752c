"""Admin: secrets are write-only, the "test" action runs tools, executions are read-only."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from tools.models import ExecutionStatus, Tool, ToolExecution
from tools.secrets import unseal_secrets
from tools.services import tool_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "r@x.test", "pw"))
    return client


def test_secrets_set_in_the_admin_are_sealed_and_never_shown(staff, tenant, agent):
    # given
    form = {
        "tenant": tenant.pk, "name": "crm_lookup", "description": "Find a customer.",
        "parameters": "{}", "trigger_phrases": "[]", "kind": "http", "builtin_config": "{}",
        "method": "GET", "url_template": "https://crm.example.com/customers",
        "headers_template": "{}", "body_mode": "none", "body_template": "null",
        "auth_type": "bearer", "timeout_ms": 5000, "max_retries": 1, "mode": "sync",
        "is_active": "on", "agents": [agent.pk],
        "new_secrets": json.dumps({"token": "ADMIN-SECRET"}),
    }
    # when
    created = staff.post(reverse("admin:tools_tool_add"), form)
    # then
    assert created.status_code == 302, created.content.decode()[:2000]
    tool = Tool.objects.get(name="crm_lookup")
    assert unseal_secrets(tenant, tool.secrets_sealed) == {"token": "ADMIN-SECRET"}
    page = staff.get(reverse("admin:tools_tool_change", args=[tool.pk]))
    assert page.status_code == 200 and b"ADMIN-SECRET" not in page.content


def test_admin_refuses_agents_of_another_tenant(staff, tenant, other_tenant):
    from agents.services import agent_create

    foreign = agent_create(tenant=other_tenant, name="Theirs")
    response = staff.post(reverse("admin:tools_tool_add"), {
        "tenant": tenant.pk, "name": "x", "description": "x", "parameters": "{}",
        "trigger_phrases": "[]", "kind": "builtin", "builtin_name": "end_call",
        "builtin_config": "{}", "method": "POST", "headers_template": "{}", "body_mode": "none",
        "body_template": "null", "auth_type": "none", "timeout_ms": 5000, "max_retries": 0,
        "mode": "sync", "agents": [foreign.pk],
    })
    assert response.status_code == 200
    assert "Agents must belong to the tool&#x27;s tenant." in response.content.decode()
    assert not Tool.objects.exists()


def test_test_action_runs_the_selected_tools(staff, tenant, target, allow_loopback):
    # given
    target.reply("POST", "/ping", json={"pong": 1})
    tool = tool_create(tenant=tenant, name="ping", description="Ping.",
                       url_template=target.url("/ping"), max_retries=0)
    url = reverse("admin:tools_tool_changelist")
    selection = {"action": "test_tools", "_selected_action": [tool.pk]}
    # when the operator picks the action, then submits sample arguments
    form_page = staff.post(url, selection)
    done = staff.post(url, {**selection, "apply": "Run", "arguments": "{}"}, follow=True)
    # then
    assert form_page.status_code == 200 and b"Run" in form_page.content
    assert done.status_code == 200
    messages = [str(m) for m in done.context["messages"]]
    assert any(m.startswith("ping: succeeded") for m in messages), messages
    assert ToolExecution.objects.get(tool=tool).status == ExecutionStatus.SUCCEEDED


def test_executions_are_read_only_in_the_admin(staff, tenant):
    execution = ToolExecution.objects.create(tenant=tenant, tool_name="x")
    change = staff.get(reverse("admin:tools_toolexecution_change", args=[execution.pk]))
    assert change.status_code == 200 and b'name="_save"' not in change.content
    assert staff.get(reverse("admin:tools_toolexecution_add")).status_code == 403
