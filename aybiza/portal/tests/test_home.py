"""The overview: counts, the getting-started steps, recent calls."""

from __future__ import annotations

import pytest
from django.urls import reverse

from aybiza.portal.tests.factories import make_call

pytestmark = pytest.mark.django_db
HOME = reverse("portal:home")


def test_a_new_tenant_is_shown_the_first_step(owner_client):
    body = owner_client.get(HOME).content.decode()

    assert "Get started" in body
    assert reverse("portal:agent-new") in body
    assert "No calls yet" in body


def test_a_working_tenant_sees_its_calls_and_no_checklist(
        owner_client, tenant, agent, phone_number, other_tenant, django_assert_max_num_queries):
    make_call(tenant=tenant, agent=agent, from_number="+15550142233")
    make_call(tenant=other_tenant, from_number="+15559999999")

    # 10 for the overview and 5 for today's live numbers (calls/dashboard.py), however many calls
    with django_assert_max_num_queries(16):  # one of them: alerts firing now
        body = owner_client.get(HOME).content.decode()

    assert "Get started" not in body
    assert "+15550142233" in body and "+15559999999" not in body
