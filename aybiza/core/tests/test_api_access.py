"""Who may call what on /api/v1/: every route and method of the router, for every kind of caller.

The matrix is built from `aybiza.api_urls.router`, so an endpoint added there is covered here
without editing this file (its resource only needs a factory in `OWNED`, or an entry in `SHARED`
when it is not a tenant's row, and bodies for its writes in `BODIES`, which a test enforces).
"""

from __future__ import annotations

import io
import itertools
import wave
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.db import models
from django.urls import reverse
from rest_framework.permissions import SAFE_METHODS
from rest_framework.test import APIClient

from agents.models import ProviderCredential
from agents.services import agent_create, phone_number_create, provider_credentials_set
from agents.versions import agent_publish
from aybiza.api_urls import router
from aybiza.core.api import TenantViewSetMixin
from aybiza.core.models import Role, Scope, Tenant
from aybiza.core.services import api_key_create, api_key_revoke, membership_set
from calls.services import call_finish, call_start
from tools.models import ExecutionStatus, Tool, ToolExecution
from tools.services import tool_create, tool_test_run

SUCCESS = {"list": 200, "retrieve": 200, "create": 201, "update": 200, "partial_update": 200,
           "destroy": 204}


@dataclass(frozen=True)
class Endpoint:
    basename: str
    action: str
    method: str
    detail: bool
    url_name: str
    model: type[models.Model] | None

    def __str__(self) -> str:
        return f"{self.method} {self.basename}-{self.action}"

    @property
    def writes(self) -> bool:
        return self.method not in SAFE_METHODS

    @property
    def owned(self) -> bool:
        """Whether the resource is rows of a tenant (not the same data for every tenant)."""
        return self.basename not in SHARED


def _endpoints() -> list[Endpoint]:
    endpoints = []
    for _prefix, viewset, basename in router.registry:
        for route in router.get_routes(viewset):
            for method, action in router.get_method_map(viewset, route.mapping).items():
                endpoints.append(Endpoint(
                    basename=basename, action=action, method=method.upper(), detail=route.detail,
                    url_name=route.name.format(basename=basename),
                    model=getattr(viewset, "schema_model", None) or _shared_model(basename),
                ))
    return endpoints


def _shared_model(basename: str) -> type[models.Model] | None:
    return SHARED[basename].creates if basename in SHARED else None


@dataclass(frozen=True)
class CatalogTemplate:
    pk: str  # detail routes take the template key as their id


@dataclass(frozen=True)
class Shared:
    """A routed resource that is not a tenant's row but the same data for every tenant."""

    creates: type[models.Model]  # what its writes create, in the caller's tenant
    entry: Callable[[], object]  # one of its entries, with the `pk` its detail routes take


# Catalog templates are data files shared by all tenants; installing one creates a Tool. Only
# what its writes create belongs to a tenant, so the cross-tenant tests below skip its reads.
SHARED: dict[str, Shared] = {
    "tool-catalog": Shared(creates=Tool,
                           entry=lambda: CatalogTemplate("slack.chat_post_message")),
}

ENDPOINTS = _endpoints()
DETAIL = [e for e in ENDPOINTS if e.detail and e.owned]
# Recordings are for RECORDING_ROLES (owners and admins) and keys with the `recordings` scope.
RECORDING_ROUTES = {("call", "recording"), ("call", "recording_link")}
READS = [e for e in ENDPOINTS if not e.writes and (e.basename, e.action) not in RECORDING_ROUTES]
RECORDINGS = [e for e in ENDPOINTS if (e.basename, e.action) in RECORDING_ROUTES]
WRITES = [e for e in ENDPOINTS if e.writes]
LISTS = [e for e in ENDPOINTS if e.action == "list" and e.owned]

_numbers = itertools.count(100)


def _next_number() -> str:
    # Fictional 555 area code (see agents.services.normalize_e164), unique per call.
    return f"+1555010{next(_numbers):04d}"


def _make_agent(tenant: Tenant):
    return agent_create(tenant=tenant, name=f"Agent of {tenant.name}",
                        knowledge=[{"question": "Hours?", "answer": "Nine to five."}])


def _make_published_agent(tenant: Tenant):
    agent = _make_agent(tenant)
    agent_publish(tenant=tenant, agent=agent, actor=None, note="First")
    return agent


def _make_agent_with_suite(tenant: Tenant):
    from learning.services import scenario_create

    agent = _make_agent(tenant)
    scenario_create(tenant=tenant, agent=agent, name="Hours", caller_lines=["Hours?"],
                    checks=[{"type": "reply_contains", "text": "Nine"}])
    return agent


def _make_agent_with_candidate(tenant: Tenant):
    from agents.services import agent_update
    from agents.versions import version_for_call

    agent = _make_published_agent(tenant)
    agent_update(tenant=tenant, agent=agent, greeting="Hello from the candidate.")
    version_for_call(agent, draft=True)
    return agent


def _make_number(tenant: Tenant):
    return phone_number_create(tenant=tenant, e164=_next_number(),
                               agent_id=_make_agent(tenant).id)


def _make_call(tenant: Tenant):
    number = _make_number(tenant)
    return call_start(tenant=tenant, phone_number=number, call_sid=f"CA{next(_numbers):032d}",
                      from_number="+14155552671", to_number=number.e164)


def _make_api_key(tenant: Tenant):
    return api_key_create(tenant=tenant, name="someone's key").api_key


def _wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as audio:
        audio.setnchannels(2)  # caller left, agent right
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(b"\0" * 4 * 800)
    return buffer.getvalue()


def _make_recorded_call(tenant: Tenant):
    # call_finish stores the recording encrypted with the tenant's data key.
    return call_finish(call=_make_call(tenant), outcome="caller_hung_up",
                       recording=ContentFile(_wav()))


def _make_api_key(tenant: Tenant):
    return api_key_create(tenant=tenant, name="someone's key").api_key


def _make_provider_credential(tenant: Tenant):
    # One per provider and tenant; the pagination test asks for two.
    taken = ProviderCredential.objects.filter(tenant=tenant, provider="deepgram").exists()
    return provider_credentials_set(tenant=tenant, provider="openai" if taken else "deepgram",
                                    secrets={"api_key": "test-key"})


# Tools run by the matrix (the `test` action) must never leave the machine: a literal address
# (no DNS) of TEST-NET-1, which the SSRF guard refuses before any connection is attempted.
UNREACHABLE_URL = "http://192.0.2.1/orders"


def _tool_fields() -> dict[str, Any]:
    return {"name": f"lookup_order_{next(_numbers)}", "description": "Look up an order.",
            "url_template": UNREACHABLE_URL, "method": "GET", "body_mode": "none",
            "timeout_ms": 100, "max_retries": 0}


def _make_tool(tenant: Tenant):
    return tool_create(tenant=tenant, **_tool_fields())


def _make_tool_execution(tenant: Tenant):
    return tool_test_run(tenant=tenant, tool=_make_tool(tenant), arguments={})


def _make_webhook(tenant: Tenant):
    from aybiza.core.webhooks import webhook_create

    return webhook_create(tenant=tenant, url="https://hooks.example.com/aybiza").endpoint


def _make_alert_rule(tenant: Tenant):
    from calls.alerts import alert_rule_create

    return alert_rule_create(tenant=tenant, name="Errors", metric="error_rate_pct", threshold=5)


def _make_contact(tenant: Tenant):
    number = _make_number(tenant)  # each a new caller: one contact per number
    return call_start(tenant=tenant, phone_number=number, call_sid=f"CA{next(_numbers):032d}",
                      from_number=_next_number(), to_number=number.e164).contact


def _make_document(tenant: Tenant):
    from agents.documents import document_add

    return document_add(tenant=tenant, agent=_make_agent(tenant), filename="hours.md",
                        data=b"# Opening hours\n\nWe open at nine on weekdays.")


def _make_suggestion(tenant: Tenant):
    from learning.models import Suggestion

    return Suggestion.objects.create(
        tenant=tenant, agent=_make_agent(tenant), kind="knowledge_entry",
        fingerprint=f"{next(_numbers)}", title="Callers ask: “Do you open on Sundays?”",
        proposal={"question": "Do you open on Sundays?", "answer": ""},
        evidence={"calls": [], "count": 2, "examples": []})


def _make_live_line(tenant: Tenant):
    """A published (live) agent with a number of its own: what outbound calls need."""
    agent = _make_published_agent(tenant)
    return phone_number_create(tenant=tenant, e164=_next_number(), agent_id=agent.id)


def _latest_live_line():
    from agents.models import PhoneNumber

    return PhoneNumber.objects.filter(agent__status="live").latest("id")


def _make_campaign(tenant: Tenant, *, state: str = "draft"):
    from calls.campaigns import (
        campaign_create,
        campaign_import_csv,
        campaign_pause,
        campaign_start,
    )

    line = _make_live_line(tenant)
    campaign = campaign_create(tenant=tenant, agent=line.agent, from_number=line,
                               name="Reminders", legal_basis="contract")
    campaign_import_csv(tenant=tenant, campaign=campaign,
                        data=f"phone,name\n{_next_number()},Ana\n".encode())
    if state in ("running", "paused"):
        campaign_start(tenant=tenant, campaign=campaign)
    if state == "paused":
        campaign_pause(tenant=tenant, campaign=campaign)
    return campaign


def _make_do_not_call(tenant: Tenant):
    from memory.services import contact_do_not_call_set

    return contact_do_not_call_set(tenant=tenant, e164=_next_number(), do_not_call=True)


# One object of each routed resource, owned by the given tenant.
OWNED: dict[str, Callable[[Tenant], models.Model]] = {
    "agent": _make_agent,
    "phone-number": _make_number,
    "call": _make_call,
    "api-key": _make_api_key,
    "provider-credential": _make_provider_credential,
    "tool": _make_tool,
    "tool-execution": _make_tool_execution,
    "contact": _make_contact,
    "webhook": _make_webhook,
    "alert-rule": _make_alert_rule,
    "knowledge-document": _make_document,
    "suggestion": _make_suggestion,
    "campaign": _make_campaign,
    "do-not-call": _make_do_not_call,
}

# Routes that need more than the resource's plain object: (basename, action) -> factory.
OWNED_FOR_ROUTE: dict[tuple[str, str], Callable[[Tenant], models.Model]] = {
    # Without a recording the route answers 404 for the caller's own call.
    ("call", "recording"): _make_recorded_call,
    ("call", "recording_link"): _make_recorded_call,
    # Routes about an agent's versions need one to exist.
    ("agent", "version"): _make_published_agent,
    ("agent", "rollback"): _make_published_agent,
    ("agent", "versions_diff"): _make_published_agent,
    # A rollout needs a version beyond the published one: v1 published, v2 a draft snapshot.
    ("agent", "rollout"): lambda tenant: _make_agent_with_candidate(tenant),
    # An evaluation needs a suite to run.
    ("agent", "evaluate"): _make_agent_with_suite,
    # Outbound calls and campaigns need a live agent with a number (the bodies name it).
    ("call", "create"): _make_live_line,
    ("campaign", "create"): _make_live_line,
    ("campaign", "pause"): lambda tenant: _make_campaign(tenant, state="running"),
    ("campaign", "resume"): lambda tenant: _make_campaign(tenant, state="paused"),
}

# Path arguments beyond the object's id, and query strings, for routes that take them.
ROUTE_KWARGS: dict[tuple[str, str], dict[str, Any]] = {("agent", "version"): {"number": 1}}
ROUTE_QUERIES: dict[tuple[str, str], str] = {("agent", "versions_diff"): "?from=1&to=1",
                                             ("agent", "knowledge_search"): "?q=opening+hours"}

# A valid body for each write, so only access rules can make a request fail.
BODIES: dict[tuple[str, str], Callable[[], dict[str, Any]]] = {
    ("agent", "create"): lambda: {"name": "Night line"},
    ("agent", "update"): lambda: {"name": "Renamed"},
    ("agent", "partial_update"): lambda: {"greeting": "Hi there."},
    ("phone-number", "create"): lambda: {"e164": _next_number(), "label": "Main"},
    ("phone-number", "update"): lambda: {"e164": _next_number(), "label": "Moved"},
    ("phone-number", "partial_update"): lambda: {"label": "Relabelled"},
    ("api-key", "create"): lambda: {"name": "CI"},
    ("provider-credential", "update"): lambda: {"secrets": {"api_key": "rotated"}},
    ("provider-credential", "partial_update"): lambda: {"secrets": {"api_key": None}},
    ("tool", "create"): _tool_fields,
    ("tool", "update"): _tool_fields,
    ("tool", "partial_update"): lambda: {"description": "Where is my order?"},
    ("tool", "test"): lambda: {"arguments": {}},
    ("agent", "publish"): lambda: {"note": "Friday's prompt"},
    ("agent", "rollback"): lambda: {"version": 1},
    ("contact", "partial_update"): lambda: {"name": "Ana Lima"},
    ("agent", "scenarios"): lambda: {"name": "Hours", "caller_lines": ["When do you open?"],
                                     "checks": [{"type": "reply_contains", "text": "nine"}]},
    ("agent", "evaluate"): dict,
    ("agent", "replay"): dict,
    ("agent", "learn"): dict,
    ("suggestion", "accept"): lambda: {"answer": "No, we are closed on Sundays."},
    ("suggestion", "dismiss"): dict,
    ("agent", "documents"): lambda: {"filename": "parking.md",
                                     "content": "# Parking\n\nFree parking behind the clinic."},
    ("agent", "rollout"): lambda: {"version": 2, "percent": 10},
    ("webhook", "create"): lambda: {"url": "https://hooks.example.com/calls",
                                    "event_types": ["call.completed"]},
    ("webhook", "partial_update"): lambda: {"is_active": False},
    ("webhook", "redeliver"): dict,
    ("alert-rule", "create"): lambda: {"name": "Slow", "metric": "latency_p95_ms",
                                       "threshold": 900},
    ("alert-rule", "partial_update"): lambda: {"enabled": False},
    ("tool-catalog", "install"): lambda: {"credentials": {"token": "xoxb-test",
                                                         "channel": "C0123"}},
    ("call", "create"): lambda: {"agent": _latest_live_line().agent_id, "to": _next_number()},
    ("campaign", "create"): lambda: {"name": "Reminders", "agent": _latest_live_line().agent_id,
                                     "from_number": _latest_live_line().id,
                                     "legal_basis": "contract"},
    ("campaign", "rows"): lambda: {"csv": f"phone,name\n{_next_number()},Bo\n"},
    ("campaign", "start"): dict,
    ("campaign", "pause"): dict,
    ("campaign", "resume"): dict,
    ("campaign", "cancel"): dict,
    ("do-not-call", "create"): lambda: {"phone_number": _next_number()},
}

ROUTES = {(e.basename, e.action) for e in ENDPOINTS}


def _call(client: APIClient, endpoint: Endpoint, pk: object = None, **headers: str):
    route = (endpoint.basename, endpoint.action)
    kwargs = {"pk": pk, **ROUTE_KWARGS.get(route, {})} if endpoint.detail else {}
    url = reverse(endpoint.url_name, kwargs=kwargs) + ROUTE_QUERIES.get(route, "")
    body = BODIES.get((endpoint.basename, endpoint.action), dict)()
    send = getattr(client, endpoint.method.lower())
    if endpoint.writes:
        return send(url, body, format="json", headers=headers)
    return send(url, headers=headers)


def _target(endpoint: Endpoint, tenant: Tenant) -> Any:
    """An object of `tenant` for the route (for a shared resource: one of its entries)."""
    if endpoint.basename in SHARED:
        return SHARED[endpoint.basename].entry()
    if endpoint.basename not in OWNED:
        pytest.fail(f"/api/v1/ resource {endpoint.basename!r} is new: add a factory for it to "
                    f"OWNED (and bodies for its writes to BODIES) in {__name__}")
    factory = OWNED_FOR_ROUTE.get((endpoint.basename, endpoint.action), OWNED[endpoint.basename])
    return factory(tenant)


def _assert_success(endpoint: Endpoint, response) -> None:
    expected = SUCCESS.get(endpoint.action)
    if expected is None:  # an extra @action: any success will do
        assert 200 <= response.status_code < 300, response.content
    else:
        assert response.status_code == expected, response.content


def _snapshot(endpoint: Endpoint, target: Any) -> object:
    """What a write would change: the target row, or the row count for creates (and for the
    writes of a shared resource, which create rows)."""
    if endpoint.detail and endpoint.owned:
        return endpoint.model._default_manager.filter(pk=target.pk).values().first()
    return endpoint.model._default_manager.count()


def _session_client(django_user_model, tenant: Tenant, role: str, username: str) -> APIClient:
    user = django_user_model.objects.create_user(username, f"{username}@example.com", "pw")
    membership_set(tenant=tenant, user=user, role=role)
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Recordings stored by the factories land in the test's own directory."""
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_every_routed_view_is_tenant_scoped_and_known_to_this_matrix():
    # given the router's resources and the writes it routes
    for _prefix, viewset, basename in router.registry:
        # then each view resolves its tenant the one way, and names its model (a shared
        # resource: the model its writes create)
        assert issubclass(viewset, TenantViewSetMixin), basename
        assert (getattr(viewset, "schema_model", None) is not None) != (basename in SHARED), \
            basename
    # and the matrix can build an object and a valid body for each one, for routes that exist
    assert {basename for _p, _v, basename in router.registry} == set(OWNED) | set(SHARED)
    assert not set(OWNED) & set(SHARED)
    for endpoint in WRITES:
        if endpoint.action != "destroy":
            assert (endpoint.basename, endpoint.action) in BODIES, str(endpoint)
    assert set(BODIES) <= ROUTES
    assert set(OWNED_FOR_ROUTE) <= ROUTES
    assert set(ROUTE_KWARGS) | set(ROUTE_QUERIES) <= ROUTES


def _assert_refused(client: APIClient, endpoint: Endpoint, target: Any,
                    status: int, code: str):
    """The request is refused with `status`/`code` and the target (or row count) is untouched."""
    before = _snapshot(endpoint, target)
    response = _call(client, endpoint, target.pk)
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert _snapshot(endpoint, target) == before
    return response


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_no_credentials_is_401(endpoint, tenant):
    # given an object of a tenant
    target = _target(endpoint, tenant)
    # when nobody signs in, then
    response = _assert_refused(APIClient(), endpoint, target, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_wrong_key_is_401(endpoint, tenant):
    # given a real key's prefix with a made-up secret
    target = _target(endpoint, tenant)
    real = api_key_create(tenant=tenant, name="real").api_key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer ayb_{real.prefix}_not-the-secret")
    # when it is used, then
    _assert_refused(client, endpoint, target, 401, "authentication_failed")


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_revoked_key_is_401(endpoint, tenant, api_client_for):
    # given a key that worked, then was revoked
    target = _target(endpoint, tenant)
    client = api_client_for(tenant)
    api_key_revoke(api_key=client.api_key)
    # when it is used, then
    _assert_refused(client, endpoint, target, 401, "authentication_failed")


@pytest.mark.parametrize("endpoint", DETAIL, ids=str)
def test_other_tenants_object_looks_exactly_like_a_missing_one(endpoint, api, other_tenant):
    # given an object of another tenant
    foreign = _target(endpoint, other_tenant)
    before = _snapshot(endpoint, foreign)
    missing_pk = endpoint.model._default_manager.order_by("-pk").first().pk + 1000
    # when tenant A addresses it, a missing id, and malformed ids
    foreign_response = _call(api, endpoint, foreign.pk)
    missing_response = _call(api, endpoint, missing_pk)
    malformed_response = _call(api, endpoint, "not-an-id")
    overflowing_response = _call(api, endpoint, "9" * 25)  # beyond any integer column
    unicode_digit_response = _call(api, endpoint, "²")  # str.isdigit() says yes, int() no
    # then all of them answer the same 404, and the object is untouched
    assert foreign_response.status_code == 404
    assert foreign_response.json()["error"]["code"] == "not_found"
    for other in (missing_response, malformed_response, overflowing_response,
                  unicode_digit_response):
        assert other.status_code == 404
        assert other.json() == foreign_response.json()
    assert _snapshot(endpoint, foreign) == before


@pytest.mark.parametrize("endpoint", LISTS, ids=str)
def test_listing_shows_own_objects_and_never_another_tenants(endpoint, api, tenant,
                                                             other_tenant):
    # given one object in each tenant
    own, foreign = _target(endpoint, tenant), _target(endpoint, other_tenant)
    # when tenant A lists
    response = _call(api, endpoint)
    # then
    assert response.status_code == 200
    ids = {row["id"] for row in response.json()["results"]}
    assert own.pk in ids
    assert foreign.pk not in ids


@pytest.mark.parametrize("endpoint", LISTS, ids=str)
def test_lists_are_paginated(endpoint, api, tenant):
    # given two objects
    _target(endpoint, tenant), _target(endpoint, tenant)
    url = reverse(endpoint.url_name)
    # when a page of one is asked for
    page = api.get(url, {"limit": 1}).json()
    # then the envelope says there is more
    assert set(page) == {"count", "next", "previous", "results"}
    assert page["count"] >= 2
    assert len(page["results"]) == 1
    assert "offset=1" in page["next"]
    assert page["previous"] is None


@pytest.mark.parametrize("endpoint", READS, ids=str)
def test_read_only_key_can_read(endpoint, api_client_for, tenant):
    target = _target(endpoint, tenant)
    client = api_client_for(tenant, scopes=[Scope.READ])
    assert _call(client, endpoint, target.pk).status_code == 200


@pytest.mark.parametrize("endpoint", WRITES, ids=str)
def test_read_only_key_cannot_write(endpoint, api_client_for, tenant):
    # given a read-only key of the object's own tenant
    target = _target(endpoint, tenant)
    client = api_client_for(tenant, scopes=[Scope.READ])
    # when it writes, then
    _assert_refused(client, endpoint, target, 403, "permission_denied")


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_write_key_can_use_every_route_on_its_own_tenant(endpoint, api, tenant):
    # given an object of the key's tenant
    target = _target(endpoint, tenant)
    # when
    response = _call(api, endpoint, target.pk)
    # then
    _assert_success(endpoint, response)
    if endpoint.action in ("create", "install"):  # a row of the route's own resource
        created = endpoint.model._default_manager.get(pk=response.json()["id"])
        assert created.tenant_id == tenant.id


@pytest.mark.parametrize("endpoint", READS, ids=str)
def test_viewer_member_can_read(endpoint, django_user_model, tenant):
    target = _target(endpoint, tenant)
    client = _session_client(django_user_model, tenant, Role.VIEWER, "viewer")
    assert _call(client, endpoint, target.pk).status_code == 200


@pytest.mark.parametrize("endpoint", WRITES, ids=str)
def test_viewer_member_cannot_write(endpoint, django_user_model, tenant):
    # given a signed-in viewer
    target = _target(endpoint, tenant)
    client = _session_client(django_user_model, tenant, Role.VIEWER, "viewer")
    # when they write, then
    _assert_refused(client, endpoint, target, 403, "permission_denied")


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e not in RECORDINGS], ids=str)
def test_member_can_use_every_route_by_session(endpoint, django_user_model, tenant):
    target = _target(endpoint, tenant)
    client = _session_client(django_user_model, tenant, Role.MEMBER, "member")
    _assert_success(endpoint, _call(client, endpoint, target.pk))


@pytest.mark.parametrize("endpoint", RECORDINGS, ids=str)
def test_recordings_are_for_their_roles_and_scope_only(endpoint, django_user_model,
                                                       api_client_for, tenant):
    # given a recorded call
    target = _target(endpoint, tenant)
    refused = [api_client_for(tenant, scopes=[Scope.READ]),
               api_client_for(tenant, scopes=[Scope.READ, Scope.WRITE]),
               _session_client(django_user_model, tenant, Role.VIEWER, "viewer"),
               _session_client(django_user_model, tenant, Role.MEMBER, "member")]
    allowed = [api_client_for(tenant, scopes=[Scope.READ, Scope.RECORDINGS]),
               _session_client(django_user_model, tenant, Role.ADMIN, "admin"),
               _session_client(django_user_model, tenant, Role.OWNER, "owner")]
    # then keys without the scope and roles outside RECORDING_ROLES are refused
    for client in refused:
        response = _call(client, endpoint, target.pk)
        assert response.status_code == 403, response.content
        assert response.json()["error"]["code"] in ("recording_not_allowed", "permission_denied")
    for client in allowed:
        _assert_success(endpoint, _call(client, endpoint, target.pk))


@pytest.mark.parametrize("endpoint", DETAIL, ids=str)
def test_member_cannot_reach_another_tenants_object_by_session(endpoint, django_user_model,
                                                               tenant, other_tenant):
    foreign = _target(endpoint, other_tenant)
    before = _snapshot(endpoint, foreign)
    client = _session_client(django_user_model, tenant, Role.OWNER, "boss")
    response = _call(client, endpoint, foreign.pk)
    assert response.status_code == 404
    assert _snapshot(endpoint, foreign) == before


def test_tools_run_by_this_matrix_are_refused_before_any_connection(api, tenant):
    # given a tool as the matrix builds it
    tool = _make_tool(tenant)
    # when its test route runs it
    response = api.post(reverse("tool-test", kwargs={"pk": tool.pk}), {"arguments": {}},
                        format="json")
    # then the SSRF guard refused the request: nothing was sent anywhere
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == ExecutionStatus.REJECTED
    assert body["http_status"] is None
    assert "private address" in body["error"]
    assert ToolExecution.objects.get(pk=body["id"]).tenant_id == tenant.id


def test_the_tool_catalog_is_the_same_for_every_tenant(api, api_client_for, other_tenant):
    # given a key of each tenant
    other = api_client_for(other_tenant)
    # when both list the catalog and read a template
    own_list, other_list = api.get("/api/v1/tool-catalog/"), other.get("/api/v1/tool-catalog/")
    template = "/api/v1/tool-catalog/slack.chat_post_message/"
    # then they see the same templates; an unknown key is a plain 404
    assert own_list.status_code == other_list.status_code == 200
    assert own_list.json() == other_list.json()
    assert "slack.chat_post_message" in {row["key"] for row in own_list.json()}
    assert api.get(template).json() == other.get(template).json()
    missing = api.get("/api/v1/tool-catalog/slack.no_such_template/")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_catalog_install_lands_in_the_callers_tenant_only(api, tenant, other_tenant):
    # given an agent of each tenant
    own_agent, foreign_agent = _make_agent(tenant), _make_agent(other_tenant)
    url = reverse("tool-catalog-install", kwargs={"pk": "slack.chat_post_message"})
    body = BODIES[("tool-catalog", "install")]()
    # when tenant A installs a template for another tenant's agent, then for its own
    foreign = api.post(url, {**body, "agent_ids": [foreign_agent.id]}, format="json")
    own = api.post(url, {**body, "agent_ids": [own_agent.id]}, format="json")
    # then the foreign agent is unknown to A; the tool is A's, attached to A's agent
    assert foreign.status_code == 400
    assert "agent_ids" in foreign.json()["error"]["extra"]["fields"]
    assert own.status_code == 201, own.content
    tool = Tool.objects.get(pk=own.json()["id"])
    assert tool.tenant_id == tenant.id
    assert list(tool.agents.all()) == [own_agent]
    assert not Tool.objects.filter(tenant=other_tenant).exists()


def test_tenant_header_picks_among_the_members_tenants_only(django_user_model, tenant,
                                                            other_tenant):
    # given a member of tenant A only, and agents in both tenants
    own, foreign = _make_agent(tenant), _make_agent(other_tenant)
    client = _session_client(django_user_model, tenant, Role.OWNER, "boss")
    # when they name tenant B in the header
    response = client.get("/api/v1/agents/", headers={"X-Aybiza-Tenant": other_tenant.slug})
    # then they are refused; naming their own tenant works
    assert response.status_code == 403
    own_page = client.get("/api/v1/agents/", headers={"X-Aybiza-Tenant": tenant.slug}).json()
    assert [row["id"] for row in own_page["results"]] == [own.id]
    assert foreign.id not in [row["id"] for row in own_page["results"]]


def test_member_of_two_tenants_switches_with_the_header(django_user_model, tenant, other_tenant):
    # given a member of both tenants
    client = _session_client(django_user_model, tenant, Role.VIEWER, "both")
    membership_set(tenant=other_tenant,
                   user=django_user_model.objects.get(username="both"), role=Role.VIEWER)
    foreign = _make_agent(other_tenant)
    # when they pick tenant B
    page = client.get("/api/v1/agents/", headers={"X-Aybiza-Tenant": other_tenant.slug}).json()
    # then they see B's agents
    assert [row["id"] for row in page["results"]] == [foreign.id]


def test_signed_in_user_without_membership_is_403(django_user_model, tenant):
    user = django_user_model.objects.create_user("drifter", "d@example.com", "pw")
    client = APIClient()
    client.force_login(user)
    assert client.get("/api/v1/agents/").status_code == 403


def test_session_writes_need_the_csrf_token(django_user_model, tenant):
    # given a signed-in owner whose client enforces CSRF like a browser
    user = django_user_model.objects.create_user("csrf", "c@example.com", "pw")
    membership_set(tenant=tenant, user=user, role=Role.OWNER)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    # when they post without the token
    response = client.post("/api/v1/agents/", {"name": "Forged"}, format="json")
    # then
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]


def test_api_root_needs_credentials(api):
    assert APIClient().get("/api/v1/").status_code == 401
    root = api.get("/api/v1/")
    assert root.status_code == 200
    assert set(root.json()) == {prefix for prefix, *_ in router.registry}


def test_key_of_a_deactivated_tenant_is_401(api, tenant):
    tenant.is_active = False
    tenant.save()
    assert api.get("/api/v1/agents/").status_code == 401


def test_member_signs_in_at_api_auth_and_reads_the_api(client, django_user_model, tenant):
    # given a viewer with a password
    user = django_user_model.objects.create_user("reader", "r@example.com", "correct horse 42")
    membership_set(tenant=tenant, user=user, role=Role.VIEWER)
    own = _make_agent(tenant)
    assert client.get("/api-auth/login/").status_code == 200
    # when they sign in with the login form
    signed_in = client.post("/api-auth/login/",
                            {"username": "reader", "password": "correct horse 42"})
    # then they land on the API and can read their tenant's agents with the session
    assert signed_in.status_code == 302
    assert signed_in["Location"] == "/api/v1/"
    page = client.get("/api/v1/agents/", headers={"Accept": "application/json"}).json()
    assert [row["id"] for row in page["results"]] == [own.id]
