"""Task success and handle time per version and per month, with the suite's pass rate."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from agents.versions import agent_publish
from calls.models import Call
from learning.improvement import agent_improvement
from learning.models import CallAnalysis, EvalRun

pytestmark = pytest.mark.django_db


def finished(agent, version, *, month: int, success, seconds: int, browser=False) -> Call:
    n = Call.objects.count() + 1
    call = Call.objects.create(
        tenant=agent.tenant, agent=agent, agent_version=version, call_sid=f"CA{n:032d}",
        from_number="+15557654321", to_number="+15550100000", outcome="agent_ended",
        started_at=datetime(2026, month, 10, tzinfo=UTC), duration_seconds=seconds,
        direction="browser" if browser else "inbound")
    CallAnalysis.objects.create(tenant=agent.tenant, call=call, status="done",
                                analyzer="offline", success=success)
    return call


def test_success_and_handle_time_per_version_and_month(tenant, agent):
    from agents.services import agent_update

    v1 = agent_publish(tenant=tenant, agent=agent)
    agent_update(tenant=tenant, agent=agent, greeting="Hi, Acme here.")
    v2 = agent_publish(tenant=tenant, agent=agent)
    for success, seconds in ((True, 60), (False, 120), (False, 90), (None, 30)):
        finished(agent, v1, month=10, success=success, seconds=seconds)
    for success in (True, True, True, False):
        finished(agent, v2, month=11, success=success, seconds=60)
    finished(agent, v2, month=11, success=False, seconds=600, browser=True)  # a test call
    EvalRun.objects.create(tenant=tenant, agent=agent, version=v2, passed=3, failed=1)

    measured = agent_improvement(tenant=tenant, agent=agent)

    first, second = measured.by_version
    assert (first.label, first.calls, first.success_rate, first.avg_handle_s) == (
        "v1", 4, 33.3, 75.0)
    assert (second.label, second.calls, second.success_rate, second.eval_pass_rate) == (
        "v2", 4, 75.0, 75.0)
    assert [(m.label, m.success_rate) for m in measured.by_month] == [
        ("2026-10", 33.3), ("2026-11", 75.0)]
    assert measured.monthly_change_points == 41.7


def test_the_api_shows_it(tenant, agent, api_client_for):
    version = agent_publish(tenant=tenant, agent=agent)
    finished(agent, version, month=11, success=True, seconds=42)
    body = api_client_for(tenant).get(
        reverse("agent-improvement", kwargs={"pk": agent.pk})).json()
    assert body["by_version"][0] == {"period": "v1", "calls": 1, "judged": 1,
                                     "success_rate": 100.0, "avg_handle_s": 42.0,
                                     "eval_pass_rate": None}
