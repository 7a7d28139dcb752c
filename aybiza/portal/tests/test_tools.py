"""Tools pages: list, create/edit an HTTP tool (schema errors at the field, secrets write-only),
and Try it through the real executor against a local HTTP server."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from tools.models import Tool, ToolExecution
from tools.secrets import unseal_secrets
from tools.services import tool_create, tool_network_allowlist_set
from tools.tests.conftest import TargetServer

pytestmark = pytest.mark.django_db
TOOLS = reverse("portal:tools")
SCHEMA = {"type": "object", "properties": {"order": {"type": "string"}}, "required": ["order"]}


def tool_post(**overrides) -> dict:
    data = {
        "name": "lookup_order", "description": "Look up an order by its number.",
        "trigger_phrases": "where is my order\ntrack my order", "filler_text": "Let me check.",
        "is_active": "on", "parameters": json.dumps(SCHEMA), "method": "POST",
        "url_template": "https://shop.example.com/orders/{order}", "headers_template": "{}",
        "body_mode": "args", "body_template": "", "auth_type": "bearer", "auth_header_name": "",
        "timeout_ms": "5000", "max_retries": "1", "mode": "sync", "token": "s3cret-token",
    }
    data.update(overrides)
    return data


@pytest.fixture
def http_tool(tenant, agent):
    return tool_create(tenant=tenant, name="lookup_order", description="Look up an order.",
                       parameters=SCHEMA, url_template="https://shop.example.com/o/{order}",
                       agent_ids=[agent.pk], max_retries=0)


def test_empty_state_leads_to_creating_a_tool(owner_client):
    body = owner_client.get(TOOLS).content.decode()

    assert "No tools yet" in body and reverse("portal:tool-new") in body


def test_create_an_http_tool_bound_to_an_agent_with_a_write_only_secret(
        owner_client, tenant, agent):
    response = owner_client.post(reverse("portal:tool-new"),
                                 tool_post(agents=[str(agent.pk)]))

    tool = Tool.objects.get(tenant=tenant, name="lookup_order")
    assert response.status_code == 302
    assert tool.parameters == SCHEMA
    assert tool.trigger_phrases == ["where is my order", "track my order"]
    assert list(tool.agents.all()) == [agent]
    assert unseal_secrets(tenant, tool.secrets_sealed) == {"token": "s3cret-token"}
    # the secret never comes back to the browser, and an empty field keeps it
    page = owner_client.get(reverse("portal:tool-edit", args=[tool.pk])).content.decode()
    assert "s3cret-token" not in page and "This tool has secrets stored." in page
    owner_client.post(reverse("portal:tool-edit", args=[tool.pk]),
                      tool_post(token="", description="Changed."))
    tool.refresh_from_db()
    assert tool.description == "Changed."
    assert unseal_secrets(tenant, tool.secrets_sealed) == {"token": "s3cret-token"}


@pytest.mark.parametrize(("field", "value", "message"), [
    ("parameters", "{not json", "Enter a valid JSON"),
    ("parameters", json.dumps({"type": "object", "properties": {"x": {"type": "nope"}}}),
     "Not a valid JSON Schema at properties/x/type"),
    ("parameters", json.dumps({"type": "string"}), "must describe an object"),
    ("parameters", "[1]", "must be a JSON Schema object"),
    ("url_template", "ftp://shop.example.com/", ""),
    ("name", "has spaces", "Letters, digits and underscores"),
    ("timeout_ms", "-1", ""),
    ("headers_template", "[1, 2]", "header name"),
])
def test_bad_input_is_an_error_at_its_field(owner_client, tenant, field, value, message):
    response = owner_client.post(reverse("portal:tool-new"), tool_post(**{field: value}))

    body = response.content.decode()
    assert response.status_code == 200
    assert f'id="id_{field}_errors"' in body
    assert message in body
    assert not Tool.objects.filter(tenant=tenant).exists()


def test_list_in_bounded_queries_without_other_tenants(owner_client, tenant, other_tenant,
                                                      http_tool, django_assert_max_num_queries):
    for n in range(5):
        tool_create(tenant=tenant, name=f"tool_{n}", description="d",
                    url_template="https://example.com/")
    tool_create(tenant=other_tenant, name="globex_tool", description="d",
                url_template="https://example.com/")

    with django_assert_max_num_queries(5):
        body = owner_client.get(TOOLS).content.decode()

    assert "tool_4" in body and "lookup_order" in body and "globex_tool" not in body


def test_try_it_runs_the_tool_and_shows_the_request_and_the_reply(owner_client, tenant):
    # given a tool pointing at a local service the tenant allowed
    tool_network_allowlist_set(tenant=tenant, entries=["127.0.0.1"])
    with TargetServer() as service:
        service.reply("POST", "/orders/A-17", json={"status": "shipped", "eta": "Friday"})
        tool = tool_create(tenant=tenant, name="lookup_order", description="Look up.",
                           parameters=SCHEMA, url_template=service.url("/orders/{order}"),
                           max_retries=0)

        # when it is tried with sample arguments
        response = owner_client.post(reverse("portal:tool-try", args=[tool.pk]),
                                     {"arguments": json.dumps({"order": "A-17"})})

        # then the real request went out, and the page shows it and what came back
        assert [r.path for r in service.requests] == ["/orders/A-17"]
    body = response.content.decode()
    assert f"POST {service.url('/orders/A-17')}" in body
    assert "&quot;shipped&quot;" in body and "Succeeded" in body
    assert ToolExecution.objects.get(tool=tool).status == "succeeded"


def test_try_it_refuses_arguments_that_are_not_an_object(owner_client, http_tool):
    response = owner_client.post(reverse("portal:tool-try", args=[http_tool.pk]),
                                 {"arguments": "[1]"})

    assert b'id="id_arguments_errors"' in response.content
    assert not ToolExecution.objects.filter(tool=http_tool).exists()


def test_another_tenants_tool_is_not_found(owner_client, other_tenant):
    theirs = tool_create(tenant=other_tenant, name="globex_tool", description="d",
                         url_template="https://example.com/")

    for name in ("portal:tool-edit", "portal:tool-try"):
        url = reverse(name, args=[theirs.pk])
        assert owner_client.get(url).status_code == 404
        assert owner_client.post(url, tool_post()).status_code == 404
    assert not ToolExecution.objects.exists()
    theirs.refresh_from_db()
    assert theirs.name == "globex_tool"


def test_another_tenants_agent_cannot_be_bound(owner_client, tenant, other_agent):
    response = owner_client.post(reverse("portal:tool-new"),
                                 tool_post(agents=[str(other_agent.pk)]))

    assert b'id="id_agents_errors"' in response.content
    assert not Tool.objects.filter(tenant=tenant).exists()


def test_viewer_reads_but_cannot_create_change_or_run(viewer_client, http_tool):
    edit = reverse("portal:tool-edit", args=[http_tool.pk])
    assert viewer_client.get(edit).status_code == 200
    assert viewer_client.post(edit, tool_post(name="renamed")).status_code == 403
    assert viewer_client.get(reverse("portal:tool-new")).status_code == 403
    assert viewer_client.post(reverse("portal:tool-try", args=[http_tool.pk]),
                              {"arguments": "{}"}).status_code == 403
    assert not ToolExecution.objects.exists()
