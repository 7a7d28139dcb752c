"""The call list: filters, pagination, bounded queries, tenant isolation."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from aybiza.portal.tests.factories import make_call
from calls.models import Outcome

pytestmark = pytest.mark.django_db
CALLS = reverse("portal:calls")


def test_new_tenant_sees_the_empty_state_with_a_next_step(owner_client):
    response = owner_client.get(CALLS)

    assert response.status_code == 200
    assert b"No calls yet" in response.content
    assert reverse("portal:numbers").encode() in response.content


def test_lists_only_this_tenants_calls_in_bounded_queries(
        owner_client, tenant, agent, other_tenant, django_assert_max_num_queries):
    # given 30 calls here (more than a page) and one in another tenant
    for n in range(30):
        make_call(tenant=tenant, agent=agent, from_number=f"+1555010{n:04d}", with_extras=False)
    make_call(tenant=other_tenant, from_number="+15559999999", with_extras=False)

    # when the first page is rendered: the query count does not grow with the calls
    with django_assert_max_num_queries(7):
        response = owner_client.get(CALLS)

    # then it shows a page of 25 of our calls and a link to the next page
    body = response.content.decode()
    assert len(set(re.findall(r'href="/portal/calls/(\d+)/"', body))) == 25
    assert "30 calls" in body and "Page 1 of 2" in body
    assert "+15559999999" not in body
    page2 = owner_client.get(CALLS, {"page": "2"}).content.decode()
    assert "Page 2 of 2" in page2


def test_filters_combine(owner_client, tenant, agent):
    # given calls that differ by day, agent, outcome and transcript
    from agents.services import agent_create
    other = agent_create(tenant=tenant, name="Billing")
    now = timezone.now()
    old = make_call(tenant=tenant, agent=agent, from_number="+15550000001",
                    started_at=now - timedelta(days=10), with_extras=False)
    billing = make_call(tenant=tenant, agent=other, from_number="+15550000002", with_extras=False,
                        conversation=[("caller", "My invoice is wrong", None)])
    dropped = make_call(tenant=tenant, agent=agent, from_number="+15550000003",
                        outcome=Outcome.DISCONNECTED, with_extras=False)

    def numbers(**params) -> set[str]:
        body = owner_client.get(CALLS, params).content.decode()
        return {c.from_number for c in (old, billing, dropped) if c.from_number in body}

    today = now.date().isoformat()
    assert numbers(started_from=today) == {billing.from_number, dropped.from_number}
    assert numbers(started_to=(now - timedelta(days=9)).date().isoformat()) == {old.from_number}
    assert numbers(agent=str(other.pk)) == {billing.from_number}
    assert numbers(outcome=Outcome.DISCONNECTED) == {dropped.from_number}
    assert numbers(q="INVOICE") == {billing.from_number}
    assert numbers(q="invoice", agent=str(agent.pk)) == set()


def test_text_search_never_matches_what_redaction_removed(owner_client, tenant, agent):
    # given a turn whose phone number was redacted before it was stored
    make_call(tenant=tenant, agent=agent, with_extras=False,
              conversation=[("caller", "call me back on [PHONE]", None)])

    # then searching for the marker finds it, and the list never shows originals
    assert b"No calls match" not in owner_client.get(CALLS, {"q": "[PHONE]"}).content
    assert b"No calls match" in owner_client.get(CALLS, {"q": "555 0142"}).content


@pytest.mark.parametrize("params", [
    {"started_from": "not-a-date"}, {"agent": "999999999999999999999"}, {"agent": "abc"},
    {"outcome": "<script>"}, {"page": "-1"}, {"page": "abc"}, {"q": "x" * 500},
    {"started_from": "2026-05-01", "started_to": "2026-04-01"},
])
def test_bad_filters_never_answer_500(owner_client, tenant, agent, params):
    make_call(tenant=tenant, agent=agent, with_extras=False)

    response = owner_client.get(CALLS, params)

    assert response.status_code == 200


def test_another_tenants_agent_is_not_a_filter_choice(owner_client, tenant, agent, other_agent):
    make_call(tenant=tenant, agent=agent, with_extras=False)

    response = owner_client.get(CALLS, {"agent": str(other_agent.pk)})

    assert b"Select a valid choice" in response.content
    assert b"Globex line" not in response.content
