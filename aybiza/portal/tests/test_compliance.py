"""Compliance page: the audit log and its real verification, retention, a caller's data."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.urls import reverse

from aybiza.core.models import Role
from aybiza.portal.tests.factories import make_call
from calls.models import Call
from compliance.models import AuditEvent, RetentionPolicy
from compliance.services import audit_record

pytestmark = pytest.mark.django_db
PAGE = reverse("portal:compliance")


def test_the_audit_log_shows_this_tenants_events_in_bounded_queries(
        owner_client, tenant, other_tenant, django_assert_max_num_queries):
    for n in range(60):
        audit_record(tenant=tenant, action=f"test.event_{n}")
    audit_record(tenant=other_tenant, action="test.globex_event")

    with django_assert_max_num_queries(8):
        body = owner_client.get(PAGE).content.decode()

    assert "test.event_59" in body and "Page 1 of 2" in body
    assert "test.globex_event" not in body


def test_verify_runs_the_real_chain_check(owner_client, tenant):
    events = [audit_record(tenant=tenant, action="test.event") for _ in range(3)]

    intact = owner_client.get(PAGE, {"verify": "1"}).content.decode()
    assert "Verified: all 3 events are intact" in intact

    # when a row is edited behind the ORM's back, the page says so
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {AuditEvent._meta.db_table} SET actor = %s WHERE id = %s",
                       ["user:1:mallory", events[1].pk])
    tampered = owner_client.get(PAGE, {"verify": "1"}).content.decode()
    assert "The audit chain does not verify." in tampered
    assert f"#{events[1].seq}: edited" in tampered


def test_retention_is_saved_and_bad_values_are_errors_at_the_field(owner_client, tenant):
    url = reverse("portal:retention-update")

    response = owner_client.post(url, {"recordings_days": "30", "calls_days": ""})
    assert response.status_code == 302
    policy = RetentionPolicy.objects.get(tenant=tenant)
    assert (policy.recordings_days, policy.calls_days) == (30, None)

    for value in ("-1", "0", "99999999", "abc"):
        response = owner_client.post(url, {"recordings_days": value})
        assert b'id="id_recordings_days_errors"' in response.content, value
    policy.refresh_from_db()
    assert policy.recordings_days == 30


def test_a_callers_data_downloads_as_json_without_other_tenants(owner_client, tenant,
                                                                other_tenant):
    make_call(tenant=tenant, from_number="+15550142233")
    make_call(tenant=other_tenant, from_number="+15550142233")

    response = owner_client.post(reverse("portal:subject-request"), {"phone": "+15550142233"})

    assert response["Content-Disposition"] == 'attachment; filename="caller-data.json"'
    bundle = json.loads(response.content)
    assert len(bundle["calls"]) == 1


def test_a_bad_number_is_an_error_at_the_field(owner_client):
    response = owner_client.post(reverse("portal:subject-request"), {"phone": "hello"})

    assert b'id="id_phone_errors"' in response.content


def test_only_owners_and_admins_erase(member_client, owner_client, tenant):
    make_call(tenant=tenant, from_number="+15550142233")
    data = {"phone": "+15550142233", "erase": "on"}

    response = member_client(Role.MEMBER).post(reverse("portal:subject-request"), data)
    assert b"Only owners and admins may erase" in response.content
    assert Call.objects.filter(tenant=tenant).count() == 1

    owner_client.post(reverse("portal:subject-request"), data)
    assert not Call.objects.filter(tenant=tenant).exists()


def test_a_viewer_reads_but_cannot_change_retention_or_export(viewer_client, tenant):
    assert viewer_client.get(PAGE).status_code == 200
    assert viewer_client.post(reverse("portal:retention-update"),
                              {"recordings_days": "1"}).status_code == 403
    assert viewer_client.post(reverse("portal:subject-request"),
                              {"phone": "+15550142233"}).status_code == 403
    assert not RetentionPolicy.objects.filter(tenant=tenant).exists()


def test_a_caller_request_to_be_forgotten_is_listed_and_erased_by_an_owner(
        owner_client, tenant, agent):
    from calls.models import Call
    from compliance.models import ErasureRequest, ErasureRequestStatus
    from compliance.services.erasure_requests import erasure_request_file

    call = make_call(tenant=tenant, agent=agent, from_number="+15550142299")
    request = erasure_request_file(tenant=tenant, phone_number="+15550142299", call=call)

    page = owner_client.get(reverse("portal:compliance")).content.decode()
    assert "Callers who asked to be forgotten" in page and "+15550142299" in page

    response = owner_client.post(reverse("portal:erasure-request-decide", args=[request.pk]),
                                 {"decision": "erase"})
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.status == ErasureRequestStatus.ERASED and request.phone_sealed == ""
    assert not Call.objects.filter(from_number="+15550142299").exists()
    assert "+15550142299" not in owner_client.get(reverse("portal:compliance")).content.decode()
    assert ErasureRequest.objects.count() == 1  # the decision stays, without the number


def test_a_dismissed_request_erases_nothing(owner_client, tenant, agent):
    from calls.models import Call
    from compliance.models import ErasureRequestStatus
    from compliance.services.erasure_requests import erasure_request_file

    make_call(tenant=tenant, agent=agent, from_number="+15550142298")
    request = erasure_request_file(tenant=tenant, phone_number="+15550142298")

    owner_client.post(reverse("portal:erasure-request-decide", args=[request.pk]),
                      {"decision": "dismiss"})

    request.refresh_from_db()
    assert request.status == ErasureRequestStatus.DISMISSED
    assert Call.objects.filter(from_number="+15550142298").exists()
