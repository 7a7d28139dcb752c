"""Hourly rollups: computed from stored calls, turns and tool runs (browser tests aside),
idempotent, added up into series with percentiles, pruned after their retention; the metrics
API serves them per team."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from calls.models import Call, CallEvent, CallRollup, CallStatus, Direction, Role, Turn
from calls.rollups import metrics_prune, metrics_series, rollups_compute
from tools.models import ExecutionStatus, ToolExecution

pytestmark = pytest.mark.django_db
HOUR = (timezone.now() - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
N = iter(range(10_000))


def stored_call(tenant, agent, *, outcome="agent_ended", latencies=(), usage=None, cost=0.02,
                direction=Direction.INBOUND, at=HOUR + timedelta(minutes=10)):
    call = Call.objects.create(
        tenant=tenant, agent=agent, call_sid=f"CA{next(N):032d}", direction=direction,
        status=CallStatus.COMPLETED, started_at=at, ended_at=at + timedelta(seconds=40),
        duration_seconds=40, outcome=outcome, cost={"total_usd": cost})
    for index, ms in enumerate(latencies):
        Turn.objects.create(tenant=tenant, call=call, index=index, role=Role.AGENT, text="Hi.",
                            stt_final_ms=ms // 4, first_frame_ms=ms, usage=usage or {},
                            created_at=at + timedelta(seconds=5))
    return call


def test_an_hour_is_summed_per_agent_and_recomputing_it_changes_nothing(tenant, agent):
    first = stored_call(tenant, agent, latencies=[450, 650],
                        usage={"input_tokens": 900, "cache_read_tokens": 700})
    stored_call(tenant, agent, outcome="error", latencies=[1400], cost=0.01)
    stored_call(tenant, agent, direction=Direction.BROWSER, latencies=[9000])  # a member's test
    ToolExecution.objects.create(tenant=tenant, call=first, tool_name="book", tool_call_id="t1",
                                 status=ExecutionStatus.SUCCEEDED,
                                 finished_at=HOUR + timedelta(minutes=11))
    ToolExecution.objects.create(tenant=tenant, call=first, tool_name="book", tool_call_id="t2",
                                 status=ExecutionStatus.FAILED,
                                 finished_at=HOUR + timedelta(minutes=12))

    assert rollups_compute(hour=HOUR) == 1
    assert rollups_compute(hour=HOUR + timedelta(minutes=30)) == 1  # same hour, replaced

    [row] = CallRollup.objects.all()
    assert (row.tenant_id, row.agent_id, row.hour) == (tenant.pk, agent.pk, HOUR)
    assert (row.calls, row.ended, row.errors) == (2, 2, 1)
    assert row.outcomes == {"agent_ended": 1, "error": 1} and row.duration_s == 80
    assert row.cost_usd == pytest.approx(0.03)
    assert row.tokens == {"input_tokens": 1800, "cache_read_tokens": 1400}  # two turns
    assert (row.tool_runs, row.tool_failures) == (2, 1)
    assert sum(row.latency["first_frame"]) == 3 and sum(row.latency["stt_final"]) == 3


def test_series_add_hours_up_with_percentiles_from_the_histograms(tenant, agent, other_tenant):
    stored_call(tenant, agent, latencies=[450] * 18 + [1400, 2500])
    stored_call(tenant, agent, at=HOUR + timedelta(hours=1, minutes=5), latencies=[550])
    stored_call(other_tenant, None, latencies=[100])  # another team's
    for hour in (HOUR, HOUR + timedelta(hours=1)):
        rollups_compute(hour=hour)

    day = metrics_series(tenant=tenant, window="24h")
    week = metrics_series(tenant=tenant, window="7d")

    assert len(day["points"]) == 24 and day["unit"] == "hour"
    by_start = {p["start"]: p for p in day["points"]}
    assert by_start[HOUR.isoformat()]["calls"] == 1
    assert by_start[HOUR.isoformat()]["latency_p50_ms"] == 500  # 450 ms is in the ≤ 500 bucket
    assert by_start[HOUR.isoformat()]["latency_p95_ms"] == 1500
    totals = day["totals"]
    assert totals["calls"] == 2 and totals["ended"] == 2 and totals["error_rate_pct"] == 0
    assert totals["cost_per_call_usd"] == pytest.approx(0.02)
    assert week["unit"] == "day" and week["totals"]["calls"] == 2


def test_raw_events_and_rollups_are_pruned_after_their_retention(settings, tenant, agent):
    settings.CALL_EVENT_RETENTION_DAYS = 30
    settings.ROLLUP_RETENTION_DAYS = 400
    now = timezone.now()
    call = stored_call(tenant, agent)
    CallEvent.objects.create(tenant=tenant, call=call, type="barge_in",
                             at=now - timedelta(days=31))
    kept = CallEvent.objects.create(tenant=tenant, call=call, type="dtmf",
                                    at=now - timedelta(days=29))
    CallRollup.objects.create(tenant=tenant, agent=agent, hour=now - timedelta(days=401))
    recent = CallRollup.objects.create(tenant=tenant, agent=agent, hour=now - timedelta(days=90))

    assert metrics_prune(now=now) == {"call_events": 1, "rollups": 1}
    assert list(CallEvent.objects.all()) == [kept]
    assert list(CallRollup.objects.all()) == [recent]


def test_the_metrics_api_serves_a_teams_series(api, tenant, agent, api_client_for, other_tenant):
    stored_call(tenant, agent, latencies=[600])
    rollups_compute(hour=HOUR)

    day = api.get("/api/v1/metrics/", {"window": "24h"})
    by_agent = api.get("/api/v1/metrics/", {"window": "7d", "agent": agent.pk})
    theirs = api_client_for(other_tenant).get("/api/v1/metrics/")

    assert day.status_code == 200 and day.json()["totals"]["calls"] == 1
    assert by_agent.json()["totals"]["latency_p95_ms"] == 600
    assert theirs.json()["totals"]["calls"] == 0
    assert api.get("/api/v1/metrics/", {"window": "1y"}).status_code == 400
    from rest_framework.test import APIClient

    assert APIClient().get("/api/v1/metrics/").status_code in (401, 403)  # no key, no data
    assert api_client_for(other_tenant).get(
        "/api/v1/metrics/", {"agent": agent.pk}).status_code == 404
