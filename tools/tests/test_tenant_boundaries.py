"""Tenant boundaries inside tools (issue 22): no sending as another tenant's number, secrets that
do not follow a changed host, e-mail from verified senders only, dry test runs, and a demo seed
that opens exactly one endpoint."""

from __future__ import annotations

import pytest
from django.core import mail

from agents.services import phone_number_create
from compliance.models import AuditEvent
from tools.executor import execute
from tools.models import ExecutionStatus, Tool
from tools.secrets import unseal_secrets
from tools.services import tool_create, tool_network_allowlist_set
from tools.ssrf import RequestRefused, check_url, parse_allowlist
from tools.tests.conftest import CALLER

pytestmark = pytest.mark.django_db
TOOLS = "/api/v1/tools/"
OTHER_TENANTS_NUMBER = "+15550199999"


@pytest.fixture
def foreign_number(other_tenant):
    return phone_number_create(tenant=other_tenant, e164=OTHER_TENANTS_NUMBER)


def builtin_payload(name: str, config: dict) -> dict:
    return {"kind": "builtin", "builtin_name": name, "builtin_config": config, "name": name,
            "description": f"The {name} built-in."}


def sent_from(fake_twilio_rest, number: str) -> list:
    return [request for request in fake_twilio_rest.requests
            if request.value("From") == number or number in (request.value("Twiml") or "")]


# --- 1. sending as another tenant's number ------------------------------------------------------


@pytest.mark.parametrize(("name", "config", "key"), [
    ("send_sms", {"from": OTHER_TENANTS_NUMBER, "to": CALLER}, "from"),
    ("transfer_call", {"destinations": {"desk": "+15550102222"},
                       "caller_id": OTHER_TENANTS_NUMBER}, "caller_id"),
])
def test_a_tool_may_not_send_as_another_tenants_number(api, phone_number, foreign_number,
                                                       name, config, key):
    # when tenant A saves a tool that sends from, or shows as caller id, tenant B's number
    created = api.post(TOOLS, builtin_payload(name, config))
    own = api.post(TOOLS, builtin_payload(name, {**config, key: phone_number.e164}))
    # then it is refused with a field error naming the number
    assert created.status_code == 400, created.content
    [message] = created.json()["error"]["fields"]["builtin_config"]
    assert OTHER_TENANTS_NUMBER in message and "not one of this tenant's" in message
    # and the same tool with the tenant's own number is accepted
    assert own.status_code == 201, own.content


def test_a_stored_foreign_number_is_refused_at_run_time(api, tenant, phone_number,
                                                        foreign_number, live_call,
                                                        fake_twilio_rest):
    # given tools saved with the tenant's own number, whose config later names B's number
    # (written around the API: the run-time check must not trust the save-time one)
    sms = tool_create(tenant=tenant, kind="builtin", builtin_name="send_sms",
                      builtin_config={"from": phone_number.e164, "to": CALLER})
    transfer = tool_create(tenant=tenant, kind="builtin", builtin_name="transfer_call",
                           builtin_config={"destinations": {"desk": "+15550102222"},
                                           "caller_id": phone_number.e164})
    Tool.objects.filter(pk=sms.pk).update(
        builtin_config={"from": OTHER_TENANTS_NUMBER, "to": CALLER})
    Tool.objects.filter(pk=transfer.pk).update(
        builtin_config={"destinations": {"desk": "+15550102222"},
                        "caller_id": OTHER_TENANTS_NUMBER})
    sms.refresh_from_db()
    transfer.refresh_from_db()
    # when they run: a confirmed test run from the API, and on the live call
    tested = api.post(f"{TOOLS}{sms.pk}/test/", {"arguments": {"body": "hi"}, "confirm": True})
    outcomes = [execute(tool=sms, arguments={"body": "hi"}, call=live_call),
                execute(tool=transfer, arguments={}, call=live_call)]
    # then each is rejected, saying why, and Twilio never hears B's number
    assert tested.status_code == 200 and tested.json()["status"] == "rejected"
    for outcome in outcomes:
        assert outcome.status == ExecutionStatus.REJECTED
        assert "not one of this tenant's phone numbers" in outcome.content
    assert sent_from(fake_twilio_rest, OTHER_TENANTS_NUMBER) == []


# --- 2. secrets do not follow a changed host ----------------------------------------------------


def bearer_tool(api, url: str) -> int:
    response = api.post(TOOLS, {
        "name": "check_order", "description": "Check an order.", "url_template": url,
        "method": "GET", "body_mode": "none", "auth_type": "bearer",
        "secrets": {"token": "tok-SECRET"},
        "parameters": {"type": "object", "properties": {}}})
    assert response.status_code == 201, response.content
    return response.json()["id"]


@pytest.mark.parametrize("new_url", [
    "https://attacker.example.net/orders",
    "http://api.example.com/orders",  # same host, plain HTTP: the token would travel in clear
    "https://api.example.com:8443/orders",
])
def test_changing_the_host_drops_the_secrets_and_is_audited(api, tenant, new_url):
    # given a tool with a bearer token for api.example.com
    tool_id = bearer_tool(api, "https://api.example.com/orders")
    # when its URL is pointed at another origin
    response = api.patch(f"{TOOLS}{tool_id}/", {"url_template": new_url})
    # then the token is gone, and the audit trail says so
    assert response.status_code == 200, response.content
    assert response.json()["has_secrets"] is False
    assert Tool.objects.get(pk=tool_id).secrets_sealed == ""
    event = AuditEvent.objects.get(tenant=tenant, action="tool.secrets_dropped")
    assert event.target_id == str(tool_id)
    assert event.payload["old_origin"] == "https://api.example.com:443"


def test_a_new_path_on_the_same_host_keeps_the_secrets(api, tenant):
    tool_id = bearer_tool(api, "https://api.example.com/orders")
    response = api.patch(f"{TOOLS}{tool_id}/",
                         {"url_template": "https://API.example.com:443/v2/orders/{id}"})
    assert response.status_code == 200, response.content
    assert response.json()["has_secrets"] is True
    assert not AuditEvent.objects.filter(tenant=tenant, action="tool.secrets_dropped").exists()


def test_secrets_given_with_the_new_host_are_kept(api, tenant):
    tool_id = bearer_tool(api, "https://api.example.com/orders")
    response = api.patch(f"{TOOLS}{tool_id}/", {"url_template": "https://new.example.org/o",
                                               "secrets": {"token": "tok-FRESH"}})
    assert response.status_code == 200, response.content
    tool = Tool.objects.get(pk=tool_id)
    assert unseal_secrets(tenant, tool.secrets_sealed) == {"token": "tok-FRESH"}


# --- 3. e-mail from verified senders, few recipients; dry test runs -----------------------------


def test_email_from_an_unverified_sender_is_refused(api, tenant):
    # given staff verified one domain for this tenant
    row = tool_network_allowlist_set(tenant=tenant, entries=[])
    row.verified_senders = ["@acme.test"]
    row.save()
    # when tools are saved with various senders
    spoofed = api.post(TOOLS, builtin_payload("send_email", {"to": ["a@acme.test"],
                                                             "from": "ceo@bank.example"}))
    verified = api.post(TOOLS, builtin_payload("send_email", {"to": ["a@acme.test"],
                                                              "from": "desk@acme.test"}))
    # then only the verified domain is accepted
    assert spoofed.status_code == 400
    assert "not a verified sender" in spoofed.json()["error"]["fields"]["builtin_config"][0]
    assert verified.status_code == 201, verified.content


def test_email_recipients_are_capped(api):
    response = api.post(TOOLS, builtin_payload(
        "send_email", {"to": [f"person{n}@acme.test" for n in range(11)]}))
    assert response.status_code == 400
    assert "builtin_config" in response.json()["error"]["fields"]


def test_test_runs_of_side_effecting_builtins_are_dry_unless_confirmed(api, phone_number,
                                                                       fake_twilio_rest):
    # given an SMS and an e-mail tool with fixed recipients
    sms_id = api.post(TOOLS, builtin_payload("send_sms", {"from": phone_number.e164,
                                                          "to": CALLER})).json()["id"]
    email_id = api.post(TOOLS, builtin_payload("send_email",
                                               {"to": ["desk@acme.test"]})).json()["id"]
    sms_args = {"body": "Your booking: Tue 9:00"}
    email_args = {"subject": "Callback", "body": "Call Jane back."}
    # when they are tested without confirming
    sms_dry = api.post(f"{TOOLS}{sms_id}/test/", {"arguments": sms_args})
    email_dry = api.post(f"{TOOLS}{email_id}/test/", {"arguments": email_args})
    # then nothing is sent, and the answer says what would have been
    assert sms_dry.status_code == 200 and sms_dry.json()["status"] == "succeeded"
    assert sms_dry.json()["dry_run"] is True
    # (numbers in results are redacted like every tool result; the body is not a number)
    assert sms_dry.json()["result"]["would_send"]["body"] == "Your booking: Tue 9:00"
    assert set(sms_dry.json()["result"]["would_send"]) == {"to", "from", "body"}
    assert email_dry.json()["result"]["would_send"]["subject"] == "Callback"
    assert len(email_dry.json()["result"]["would_send"]["to"]) == 1
    assert fake_twilio_rest.requests == [] and mail.outbox == []
    # and when confirmed, they are sent
    sms_sent = api.post(f"{TOOLS}{sms_id}/test/", {"arguments": sms_args, "confirm": True})
    api.post(f"{TOOLS}{email_id}/test/", {"arguments": email_args, "confirm": True})
    assert sms_sent.json()["dry_run"] is False and sms_sent.json()["result"]["sent"] is True
    assert fake_twilio_rest.last("messages.create").value("From") == phone_number.e164
    assert [message.to for message in mail.outbox] == [["desk@acme.test"]]


def test_a_dry_transfer_test_says_whom_it_would_dial(api, phone_number, fake_twilio_rest):
    tool_id = api.post(TOOLS, builtin_payload("transfer_call", {
        "destinations": {"desk": "+15550102222"}, "caller_id": phone_number.e164})).json()["id"]
    response = api.post(f"{TOOLS}{tool_id}/test/", {"arguments": {"destination": "desk"}})
    result = response.json()["result"]
    assert result["dry_run"] is True and result["destination"] == "desk"
    assert result["mode"] == "cold" and result["would_dial"] and result["caller_id"]
    assert fake_twilio_rest.requests == []


# --- 4. the demo opens exactly its calendar -----------------------------------------------------


def test_the_demo_seed_opens_only_the_calendars_endpoint():
    from agents.demo import demo_seed
    from tools.selectors import tool_network_allowlist

    # when the demo is seeded for a server on 127.0.0.1:8123
    seed = demo_seed(base_url="http://127.0.0.1:8123")
    allowlist = tool_network_allowlist(tenant=Tool.objects.get(
        tenant_id=seed.tenant_id, name="book_appointment").tenant)
    # then its tools reach the calendar, and nothing else on loopback
    assert check_url("http://127.0.0.1:8123/demo/calendar/bookings/", allowlist).port == 8123
    for elsewhere in ("http://127.0.0.1:5432/", "http://127.0.0.1:6379/",
                      "http://127.0.0.2:8123/", "http://localhost:8123/"):
        with pytest.raises(RequestRefused):
            check_url(elsewhere, allowlist)


def test_allowlist_endpoints_are_parsed_strictly():
    allowlist = parse_allowlist(["127.0.0.1:8000", "[::1]:8001", "crm.internal:443"])
    assert allowlist.endpoints == (("127.0.0.1", 8000), ("::1", 8001), ("crm.internal", 443))
    for bad in ("127.0.0.1:0", "127.0.0.1:70000", "*.corp.example:443", "a b:80"):
        with pytest.raises(ValueError):
            parse_allowlist([bad])
