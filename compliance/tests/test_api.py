from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from aybiza.core.models import Role, Scope
from aybiza.core.services import membership_set
from calls.models import Call
from compliance.models import AuditEvent

pytestmark = pytest.mark.urls("compliance.tests.urls")
CALLER = "+15557654321"
BASE = "/api/v1/compliance"


def test_export_by_query_parameter_and_by_body(api, make_call):
    call = make_call(caller=CALLER, words=["hello there"])

    by_query = api.get(f"{BASE}/subjects/export/", {"phone": CALLER})
    by_body = api.post(f"{BASE}/subjects/export/", {"phone": CALLER})

    assert by_query.status_code == by_body.status_code == 200
    assert [c["call_sid"] for c in by_query.json()["calls"]] == [call.call_sid]
    assert by_body.json()["calls"][0]["transcript"][0]["text"] == "hello there"


def test_another_tenants_key_sees_nothing_of_the_caller(api_client_for, other_tenant, make_call):
    make_call(caller=CALLER, words=["hello there"])

    response = api_client_for(other_tenant).get(f"{BASE}/subjects/export/", {"phone": CALLER})

    assert response.status_code == 200 and response.json()["calls"] == []


def test_an_invalid_number_is_a_field_error(api):
    response = api.get(f"{BASE}/subjects/export/", {"phone": "not a number"})

    assert response.status_code == 400, response.json()
    assert "phone" in response.json()["error"]["fields"], response.json()


def test_erase_with_a_write_key(api, make_call):
    make_call(caller=CALLER, words=["hello there"])

    response = api.post(f"{BASE}/subjects/erase/", {"phone": CALLER})

    assert response.status_code == 200 and response.json()["erased"]["calls"] == 1
    assert not Call.objects.exists()


def test_erase_needs_write_scope_or_an_owner_or_admin(api_client_for, tenant, make_call,
                                                      django_user_model):
    make_call(caller=CALLER)
    reader = api_client_for(tenant, scopes=[Scope.READ])
    member = django_user_model.objects.create_user("member", password="pw-member-123")
    membership_set(tenant=tenant, user=member, role=Role.MEMBER)
    session = APIClient()
    session.force_authenticate(member)

    assert reader.post(f"{BASE}/subjects/erase/", {"phone": CALLER}).status_code == 403
    assert session.post(f"{BASE}/subjects/erase/", {"phone": CALLER}).status_code == 403
    assert Call.objects.count() == 1

    membership_set(tenant=tenant, user=member, role=Role.ADMIN)
    assert session.post(f"{BASE}/subjects/erase/", {"phone": CALLER}).status_code == 200
    erased = AuditEvent.objects.get(action="subject.erased")
    assert erased.actor == f"user:{member.pk}:member"


def test_audit_events_list_only_the_tenants_own(api, api_client_for, other_tenant):
    api_client_for(other_tenant)  # creates a key: audited on the other tenant's chain

    events = api.get(f"{BASE}/audit-events/").json()["results"]

    assert events and {e["action"] for e in events} == {"api_key.created"}
    assert len(events) == 1


def test_retention_policy_read_and_replace(api):
    assert api.get(f"{BASE}/retention-policy/").json()["calls_days"] is None

    response = api.put(f"{BASE}/retention-policy/", {"calls_days": 365, "recordings_days": 30})

    assert response.status_code == 200
    assert api.get(f"{BASE}/retention-policy/").json() == {
        "recordings_days": 30, "transcripts_days": None, "call_events_days": None,
        "calls_days": 365, "tool_logs_days": None, "audit_events_days": None,
        "memory_days": None, "campaign_rows_days": None}
    changed = AuditEvent.objects.get(action="retention.policy_set")
    assert changed.actor.startswith("api-key:")
