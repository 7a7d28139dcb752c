"""Phone numbers: bind a number to an agent; the Twilio webhook URL to paste."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.urls import reverse

from agents.models import PhoneNumber

pytestmark = pytest.mark.django_db
NUMBERS = reverse("portal:numbers")


@override_settings(PUBLIC_BASE_URL="https://voice.example.com")
def test_empty_state_and_the_exact_webhook_urls(owner_client):
    response = owner_client.get(NUMBERS)

    body = response.content.decode()
    assert "No phone numbers yet" in body
    assert 'value="https://voice.example.com/twilio/voice/"' in body
    assert 'value="https://voice.example.com/twilio/status/"' in body


def test_lists_numbers_with_their_agents_in_bounded_queries(
        owner_client, phone_number, other_tenant, django_assert_max_num_queries):
    from agents.services import phone_number_create
    phone_number_create(tenant=other_tenant, e164="+15550100999")

    with django_assert_max_num_queries(5):
        body = owner_client.get(NUMBERS).content.decode()

    assert "+15550100000" in body and "Reception" in body
    assert "+15550100999" not in body


def test_add_a_number_bound_to_an_agent(owner_client, tenant, agent):
    response = owner_client.post(reverse("portal:number-new"), {
        "e164": "+1 (555) 010-0042", "label": "Front desk", "agent": str(agent.pk)})

    assert response.status_code == 302
    number = PhoneNumber.objects.get(tenant=tenant)
    assert (number.e164, number.label, number.agent) == ("+15550100042", "Front desk", agent)


@pytest.mark.parametrize(("e164", "message"), [
    ("12345", b"Not a phone number"), ("+1555", b"Not a valid phone number"),
    ("", b"This field is required"), ("+15550100000", b"already registered"),
    ("☎️ call me", b"Not a phone number"),
])
def test_bad_numbers_are_errors_at_the_field(owner_client, tenant, phone_number, e164, message):
    response = owner_client.post(reverse("portal:number-new"), {"e164": e164})

    assert response.status_code == 200
    assert message in response.content
    assert b'id="id_e164_errors"' in response.content


def test_rebind_and_unbind(owner_client, phone_number, agent):
    url = reverse("portal:number-edit", args=[phone_number.pk])

    owner_client.post(url, {"e164": phone_number.e164, "label": "Main", "agent": ""})

    phone_number.refresh_from_db()
    assert (phone_number.label, phone_number.agent) == ("Main", None)


def test_cannot_bind_another_tenants_agent(owner_client, phone_number, other_agent):
    url = reverse("portal:number-edit", args=[phone_number.pk])

    response = owner_client.post(url, {"e164": phone_number.e164, "agent": str(other_agent.pk)})

    assert response.status_code == 200
    assert b"Select a valid choice" in response.content
    phone_number.refresh_from_db()
    assert phone_number.agent_id != other_agent.pk


def test_another_tenants_number_is_not_found(owner_client, other_tenant):
    from agents.services import phone_number_create
    theirs = phone_number_create(tenant=other_tenant, e164="+15550100999")
    url = reverse("portal:number-edit", args=[theirs.pk])

    assert owner_client.get(url).status_code == 404
    assert owner_client.post(url, {"e164": "+15550100998"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.e164 == "+15550100999"


def test_viewer_cannot_add_or_rebind(viewer_client, phone_number):
    assert viewer_client.get(reverse("portal:number-new")).status_code == 403
    assert viewer_client.post(reverse("portal:number-new"),
                              {"e164": "+15550100042"}).status_code == 403
    response = viewer_client.post(reverse("portal:number-edit", args=[phone_number.pk]),
                                  {"e164": phone_number.e164, "agent": ""})
    assert response.status_code == 403
    phone_number.refresh_from_db()
    assert phone_number.agent is not None
