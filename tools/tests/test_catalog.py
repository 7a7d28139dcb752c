"""The catalog: every template installs into a valid tool and renders the vendor's real request."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from aybiza.core.errors import ApplicationError, NotFound
from tools.catalog import catalog_get, catalog_list
from tools.executor.http_tool import build_request
from tools.executor.render import template_values
from tools.models import AUTH_SECRET_NAMES, ToolKind
from tools.secrets import unseal_secrets
from tools.services import tool_install_from_catalog

pytestmark = pytest.mark.django_db

SAMPLE_SETTINGS = {
    "instance_url": "https://acme.my.salesforce.com", "site": "acme", "project_key": "SUP",
    "database_id": "0123456789abcdef0123456789abcdef", "channel": "C0123456",
    "event_type_uri": "https://api.calendly.com/event_types/AAAA-1111",
    "to": "desk@acme.test, boss@acme.test",
}
VENDOR_HOSTS = {
    "slack": "slack.com", "google_calendar": "www.googleapis.com",
    "calendly": "api.calendly.com", "salesforce": "acme.my.salesforce.com",
    "hubspot": "api.hubapi.com", "jira": "acme.atlassian.net", "notion": "api.notion.com",
}


def sample_credentials(template) -> dict[str, str]:
    credentials = {}
    for spec in template["credentials"]:
        if spec.get("secret"):
            credentials[spec["name"]] = f"{spec['name']}-value"
        elif spec["name"] in SAMPLE_SETTINGS:
            credentials[spec["name"]] = SAMPLE_SETTINGS[spec["name"]]
    return credentials


def install(tenant, key, **credentials):
    template = catalog_get(key)
    return tool_install_from_catalog(tenant=tenant, template_key=key,
                                     credentials={**sample_credentials(template), **credentials})


def rendered(tool, arguments):
    return build_request(tool, arguments, template_values(arguments))


def test_the_catalog_covers_the_promised_vendors_and_operations():
    keys = {t["key"] for t in catalog_list()}
    assert {
        "slack.chat_post_message", "slack.conversations_create", "slack.users_lookup_by_email",
        "google_calendar.events_insert", "google_calendar.freebusy_query",
        "google_calendar.events_patch", "calendly.scheduling_links_create",
        "calendly.scheduled_events_cancel", "salesforce.lead_create",
        "salesforce.contact_update", "salesforce.contact_search", "hubspot.ticket_create",
        "hubspot.note_create", "hubspot.contacts_search", "jira.issue_create",
        "jira.issue_transition", "jira.issue_comment", "notion.page_create",
        "notion.database_query", "notion.page_update", "email.notify_team",
    } <= keys


@pytest.mark.parametrize("key", [t["key"] for t in catalog_list()])
def test_every_template_installs_into_a_valid_tool(tenant, key):
    # when
    tool = install(tenant, key)
    # then the tool passed full validation, settings are filled in and secrets sealed
    assert tool.pk and tool.catalog_key == key
    template = catalog_get(key)
    secret_names = {s["name"] for s in template["credentials"] if s.get("secret")}
    assert set(unseal_secrets(tenant, tool.secrets_sealed)) == secret_names
    if tool.kind == ToolKind.HTTP:
        assert set(AUTH_SECRET_NAMES[tool.auth_type]) <= secret_names
        assert "${" not in json.dumps([tool.url_template, tool.headers_template,
                                       tool.body_template])
        assert httpx.URL(tool.url_template.split("{")[0]).host == VENDOR_HOSTS[
            template["vendor"]]
        assert tool.url_template.startswith("https://")


def test_calendar_booking_renders_google_event_and_drops_missing_optionals(tenant):
    # given
    tool = install(tenant, "google_calendar.events_insert", time_zone="Europe/Paris")
    # when
    url, headers, body = rendered(tool, {"summary": "Check-up: Jane",
                                         "start": "2026-12-01T09:00:00+01:00",
                                         "end": "2026-12-01T09:30:00+01:00"})
    # then
    assert url == "https://www.googleapis.com/calendar/v3/calendars/primary/events"
    assert tool.method == "POST"
    assert json.loads(body) == {
        "summary": "Check-up: Jane",
        "start": {"dateTime": "2026-12-01T09:00:00+01:00", "timeZone": "Europe/Paris"},
        "end": {"dateTime": "2026-12-01T09:30:00+01:00", "timeZone": "Europe/Paris"},
    }


def test_calendar_patch_sends_only_what_changes(tenant):
    tool = install(tenant, "google_calendar.events_patch")
    url, _, body = rendered(tool, {"event_id": "abc123def", "summary": "Moved"})
    assert tool.method == "PATCH"
    assert url.endswith("/calendars/primary/events/abc123def")
    assert json.loads(body) == {"summary": "Moved"}


def test_salesforce_search_encodes_the_query(tenant):
    tool = install(tenant, "salesforce.contact_search")
    url, _, body = rendered(tool, {"query": "O'Brien & Co"})
    parts = urlsplit(url)
    assert parts.netloc == "acme.my.salesforce.com"
    assert parts.path == "/services/data/v60.0/parameterizedSearch/"
    assert parse_qs(parts.query)["q"] == ["O'Brien & Co"]
    assert parse_qs(parts.query)["sobject"] == ["Contact"]
    assert body is None


def test_hubspot_note_without_contact_has_no_association(tenant):
    tool = install(tenant, "hubspot.note_create")
    _, _, body = rendered(tool, {"body": "Called about an invoice."})
    sent = json.loads(body)
    assert sent["properties"]["hs_note_body"] == "Called about an invoice."
    assert sent["properties"]["hs_timestamp"].endswith("+00:00")
    assert "associations" not in sent
    _, _, with_contact = rendered(tool, {"body": "x", "contact_id": "501"})
    assert json.loads(with_contact)["associations"][0]["to"] == {"id": "501"}


def test_notion_page_uses_the_configured_title_property(tenant):
    tool = install(tenant, "notion.page_create", title_property="Caller")
    _, headers, body = rendered(tool, {"title": "Jane Doe"})
    assert headers["Notion-Version"] == "2022-06-28"
    assert json.loads(body)["properties"] == {"Caller": {"title": [{"text": {"content":
                                                                             "Jane Doe"}}]}}


def test_jira_uses_basic_auth_with_email_and_api_token(tenant):
    tool = install(tenant, "jira.issue_create", username="me@acme.test", password="atl-token")
    assert tool.auth_type == "basic"
    assert unseal_secrets(tenant, tool.secrets_sealed) == {"username": "me@acme.test",
                                                           "password": "atl-token"}
    _, _, body = rendered(tool, {"summary": "Broken tap"})
    assert json.loads(body)["fields"]["project"] == {"key": "SUP"}


def test_email_template_installs_the_send_email_builtin(tenant):
    tool = install(tenant, "email.notify_team")
    assert (tool.kind, tool.builtin_name) == ("builtin", "send_email")
    assert tool.builtin_config["to"] == ["desk@acme.test", "boss@acme.test"]
    assert tool.parameters["required"] == ["subject", "body"]


def test_install_refuses_bad_credentials(tenant):
    # a host outside Salesforce, a missing token, a credential the template does not use
    with pytest.raises(ApplicationError) as refused:
        tool_install_from_catalog(
            tenant=tenant, template_key="salesforce.lead_create",
            credentials={"instance_url": "https://169.254.169.254", "extra": "x"})
    errors = refused.value.extra["fields"]["credentials"]
    assert set(errors) == {"instance_url", "token", "extra"}


def test_install_twice_needs_another_name(tenant):
    install(tenant, "slack.chat_post_message")
    with pytest.raises(ApplicationError):
        install(tenant, "slack.chat_post_message")
    second = tool_install_from_catalog(
        tenant=tenant, template_key="slack.chat_post_message", name="slack_post_sales",
        credentials={"token": "xoxb-2", "channel": "C999"})
    assert second.name == "slack_post_sales"


def test_unknown_template_is_not_found(tenant):
    with pytest.raises(NotFound):
        tool_install_from_catalog(tenant=tenant, template_key="myspace.post", credentials={})
