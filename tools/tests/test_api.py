"""REST API: CRUD with write-only secrets, test runs, executions, catalog; tenancy and scopes."""

from __future__ import annotations

import pytest

from aybiza.core.models import Scope
from tools.models import ExecutionStatus, Tool, ToolExecution

pytestmark = [pytest.mark.django_db]
TOOLS = "/api/v1/tools/"


def tool_payload(**fields):
    return {"name": "check_order", "description": "Check an order's status.",
            "url_template": "https://api.example.com/orders/{order_id}", "method": "GET",
            "body_mode": "none",
            "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}},
                           "required": ["order_id"]},
            **fields}


def test_create_read_update_delete_never_returns_secrets(api, agent):
    # when
    created = api.post(TOOLS, tool_payload(auth_type="bearer", secrets={"token": "tok-SECRET"},
                                           agent_ids=[agent.id]))
    tool_id = created.json()["id"]
    listed = api.get(TOOLS)
    patched = api.patch(f"{TOOLS}{tool_id}/", {"description": "Where is my order?",
                                              "secrets": {"token": "tok-NEWSECRET"}})
    # then
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["has_secrets"] is True and "secrets" not in body
    assert body["agent_ids"] == [agent.id]
    for response in (created, listed, patched, api.get(f"{TOOLS}{tool_id}/")):
        assert b"SECRET" not in response.content
    assert listed.json()["count"] == 1
    assert patched.json()["description"] == "Where is my order?"
    assert api.delete(f"{TOOLS}{tool_id}/").status_code == 204
    assert not Tool.objects.filter(pk=tool_id).exists()


def test_invalid_schema_is_a_field_error(api):
    response = api.post(TOOLS, tool_payload(parameters={"type": "object",
                                                        "properties": {"x": {"type": 7}}}))
    assert response.status_code == 400
    assert "parameters" in response.json()["error"]["extra"]["fields"]


def test_another_tenant_gets_404_on_a_tool(api, api_client_for, other_tenant):
    # given
    tool_id = api.post(TOOLS, tool_payload()).json()["id"]
    intruder = api_client_for(other_tenant)
    # when / then
    assert intruder.get(f"{TOOLS}{tool_id}/").status_code == 404
    assert intruder.patch(f"{TOOLS}{tool_id}/", {"description": "x"}).status_code == 404
    assert intruder.post(f"{TOOLS}{tool_id}/test/", {"arguments": {}}).status_code == 404
    assert intruder.delete(f"{TOOLS}{tool_id}/").status_code == 404
    assert intruder.get(TOOLS).json()["count"] == 0
    assert Tool.objects.get(pk=tool_id).description == "Check an order's status."


def test_read_scoped_key_can_list_but_not_write(api_client_for, tenant):
    reader = api_client_for(tenant, scopes=[Scope.READ])
    assert reader.get(TOOLS).status_code == 200
    assert reader.post(TOOLS, tool_payload()).status_code == 403
    assert reader.post("/api/v1/tool-catalog/slack.chat_post_message/install/",
                       {"credentials": {"token": "x", "channel": "C1"}}).status_code == 403
    assert not Tool.objects.exists()


def test_test_endpoint_runs_the_tool_and_reports(api, target, allow_loopback):
    # given
    target.reply("GET", "/orders/A7", json={"state": "shipped"})
    tool_id = api.post(TOOLS, tool_payload(
        url_template=target.url("/orders/{order_id}"))).json()["id"]
    # when
    response = api.post(f"{TOOLS}{tool_id}/test/", {"arguments": {"order_id": "A7"}})
    invalid = api.post(f"{TOOLS}{tool_id}/test/", {"arguments": {}})
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "succeeded" and body["result"] == {"state": "shipped"}
    assert body["is_error"] is False and body["http_status"] == 200
    assert body["latency_ms"] is not None and body["call_id"] is None
    assert invalid.json()["status"] == "rejected"
    assert "'order_id' is a required property" in invalid.json()["result"]


def test_executions_are_listed_with_filters_and_scoped_to_the_tenant(api, api_client_for,
                                                                     other_tenant, target,
                                                                     allow_loopback):
    # given one success and one rejection
    target.reply("GET", "/orders/1", json={"ok": True})
    tool_id = api.post(TOOLS, tool_payload(
        url_template=target.url("/orders/{order_id}"))).json()["id"]
    api.post(f"{TOOLS}{tool_id}/test/", {"arguments": {"order_id": "1"}})
    api.post(f"{TOOLS}{tool_id}/test/", {"arguments": {}})
    # when
    everything = api.get("/api/v1/tool-executions/")
    rejected = api.get("/api/v1/tool-executions/", {"status": "rejected", "tool": tool_id})
    other = api_client_for(other_tenant).get("/api/v1/tool-executions/")
    # then
    assert everything.json()["count"] == 2
    assert [e["status"] for e in rejected.json()["results"]] == ["rejected"]
    assert other.json()["count"] == 0
    execution_id = everything.json()["results"][0]["id"]
    assert api.get(f"/api/v1/tool-executions/{execution_id}/").status_code == 200
    assert api_client_for(other_tenant).get(
        f"/api/v1/tool-executions/{execution_id}/").status_code == 404
    assert api.get("/api/v1/tool-executions/", {"call": "x"}).status_code == 400


@pytest.mark.parametrize(("answer", "stored"), [
    ('{"note": "a\\ud800b"}', {"note": "a\ufffdb"}),
    ('{"note": "a\\u0000b", "k\\u0000": 1}', {"note": "ab", "k": 1}),
    ('"\\udfff"', "\ufffd"),
])
def test_a_tool_answering_text_that_cannot_be_stored_leaves_the_executions_readable(
        api, target, allow_loopback, answer, stored):
    # given a tool whose service answers with a lone surrogate or a NUL character
    target.reply("GET", "/orders/A7", text=answer, headers={"Content-Type": "application/json"})
    tool_id = api.post(TOOLS, tool_payload(
        url_template=target.url("/orders/{order_id}"))).json()["id"]
    # when it runs, and the tenant lists and reads its executions afterwards
    ran = api.post(f"{TOOLS}{tool_id}/test/", {"arguments": {"order_id": "A7"}})
    listed = api.get("/api/v1/tool-executions/")
    # then every answer is readable, with the characters repaired (a 500 for good before)
    assert ran.status_code == 200 and ran.json()["result"] == stored
    assert listed.status_code == 200 and listed.json()["results"][0]["result"] == stored
    assert api.get(f"/api/v1/tool-executions/{ran.json()['id']}/").status_code == 200


def test_executions_are_read_only(api, tenant):
    execution = ToolExecution.objects.create(tenant=tenant, tool_name="x",
                                             status=ExecutionStatus.SUCCEEDED)
    assert api.post("/api/v1/tool-executions/", {}).status_code == 405
    assert api.delete(f"/api/v1/tool-executions/{execution.id}/").status_code == 405


def test_catalog_lists_templates_and_installs_one(api, agent):
    # when
    listed = api.get("/api/v1/tool-catalog/")
    detail = api.get("/api/v1/tool-catalog/hubspot.ticket_create/")
    installed = api.post("/api/v1/tool-catalog/hubspot.ticket_create/install/",
                         {"credentials": {"token": "pat-na1-SECRET"}, "agent_ids": [agent.id]})
    # then
    assert listed.status_code == 200 and len(listed.json()) >= 21
    assert detail.json()["url_template"] == "https://api.hubapi.com/crm/v3/objects/tickets"
    assert {c["name"] for c in detail.json()["credentials"]} >= {"token", "pipeline"}
    assert installed.status_code == 201, installed.content
    assert installed.json()["name"] == "hubspot_create_ticket"
    assert installed.json()["catalog_key"] == "hubspot.ticket_create"
    assert installed.json()["agent_ids"] == [agent.id]
    assert b"SECRET" not in installed.content
    assert api.get("/api/v1/tool-catalog/nope.nothing/").status_code == 404


def test_catalog_install_reports_bad_credentials(api):
    response = api.post("/api/v1/tool-catalog/jira.issue_create/install/",
                        {"credentials": {"site": "acme"}})
    assert response.status_code == 400
    assert set(response.json()["error"]["extra"]["fields"]["credentials"]) == {
        "username", "password", "project_key"}
