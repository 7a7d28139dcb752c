"""The overview: counts, the getting-started steps, recent calls."""

from __future__ import annotations

from datetime import timedelta

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
    with django_assert_max_num_queries(17):  # alerts firing now; the 24 h rollups
        body = owner_client.get(HOME).content.decode()

    assert "Get started" not in body
    assert "+15550142233" in body and "+15559999999" not in body


def test_the_trend_card_says_the_last_24_hours_and_loads_the_vendored_chart(
        owner_client, tenant, agent):
    from django.utils import timezone

    from calls.rollups import rollups_compute

    make_call(tenant=tenant, agent=agent, started_at=timezone.now() - timedelta(minutes=30))
    rollups_compute(hour=timezone.now() - timedelta(minutes=30))

    body = owner_client.get(HOME).content.decode()

    assert 'id="trend"' in body and 'data-series-url="/api/v1/metrics/"' in body
    assert "Last 24 hours: 1 call," in body
    assert "/static/vendor/uplot-1.6.32/uPlot.iife.min.js" in body
