"""The portal's alerts: create with errors at the field, see state and history, and a firing
alert on the overview; viewers read, never write; another team's rule is not found."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from calls.alerts import alert_rule_create, alerts_evaluate
from calls.models import AlertRule, Call, CallStatus

pytestmark = pytest.mark.django_db


def test_an_owner_creates_an_alert_and_sees_it_listed(owner_client, tenant):
    bad = owner_client.post(reverse("portal:alert-new"), {
        "name": "Errors", "metric": "error_rate_pct", "threshold": "150", "window_minutes": "5",
        "min_samples": "3", "enabled": "on", "email_to": "ops@example.com, nope"})
    assert bad.status_code == 200
    page = bad.content.decode()
    assert 'id="id_email_to_errors"' in page or 'id="id_threshold_errors"' in page
    assert not AlertRule.objects.exists()

    created = owner_client.post(reverse("portal:alert-new"), {
        "name": "Errors", "metric": "error_rate_pct", "threshold": "10", "window_minutes": "5",
        "min_samples": "2", "enabled": "on", "email_to": "ops@example.com\nlead@example.com"})
    assert created.status_code == 302
    rule = AlertRule.objects.get(tenant=tenant)
    assert rule.email_to == ["ops@example.com", "lead@example.com"] and rule.threshold == 10

    listed = owner_client.get(reverse("portal:alerts")).content.decode()
    assert "Errors" in listed and "Calls ending in an error (%) above 10" in listed
    assert "not checked yet" in listed


def test_a_firing_alert_shows_on_the_overview_and_its_page(owner_client, tenant, agent):
    rule = alert_rule_create(tenant=tenant, name="Failing calls", metric="error_rate_pct",
                             threshold=10, min_samples=1)
    now = timezone.now()
    Call.objects.create(tenant=tenant, agent=agent, call_sid="CA" + "9" * 32, from_number="+1",
                        to_number="+2", status=CallStatus.COMPLETED, outcome="error",
                        ended_at=now - timedelta(minutes=1))
    alerts_evaluate(now=now)

    home = owner_client.get(reverse("portal:home")).content.decode()
    assert "1 alert firing:" in home and "Failing calls" in home
    detail = owner_client.get(reverse("portal:alert-edit", args=[rule.pk])).content.decode()
    assert "Firing" in detail and "Fired" in detail and "100" in detail


def test_a_viewer_reads_but_cannot_change(viewer_client, tenant):
    rule = alert_rule_create(tenant=tenant, name="Slow", metric="latency_p95_ms", threshold=900)
    assert viewer_client.get(reverse("portal:alert-edit", args=[rule.pk])).status_code == 200
    assert viewer_client.get(reverse("portal:alert-new")).status_code == 403
    assert viewer_client.post(reverse("portal:alert-delete", args=[rule.pk])).status_code == 403
    assert AlertRule.objects.filter(pk=rule.pk).exists()


def test_another_teams_alert_is_not_found(owner_client, other_tenant):
    theirs = alert_rule_create(tenant=other_tenant, name="x", metric="error_rate_pct",
                               threshold=1)
    assert owner_client.get(reverse("portal:alert-edit", args=[theirs.pk])).status_code == 404
    assert owner_client.post(reverse("portal:alert-delete",
                                     args=[theirs.pk])).status_code == 404
