"""Hourly rollups of calls per tenant and agent, and what reads them: the metrics API's series
over 24 hours, 7 or 30 days. Beat recomputes the current and previous hour every few minutes
(`calls.rollup_metrics`, idempotent: an hour is replaced as a whole) and prunes raw call events
after `CALL_EVENT_RETENTION_DAYS` and rollups after `ROLLUP_RETENTION_DAYS`
(`calls.prune_metrics`).

Latency percentiles come from per-stage histograms, so hours add up into days exactly at the
bucket resolution (the percentile reported is its bucket's upper bound).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from aybiza.core.models import Tenant
from calls.models import (
    ERROR_OUTCOMES,
    TEST_DIRECTIONS,
    Call,
    CallEvent,
    CallRollup,
    Role,
    Turn,
)

LATENCY_BUCKETS_MS = (100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1250, 1500, 2000,
                      3000, 5000)  # and one more: above the last
STAGES = ("stt_final", "llm_first_token", "tts_first_audio", "first_frame")
TOKEN_KINDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
WINDOWS = {"24h": (timedelta(hours=24), "hour"), "7d": (timedelta(days=7), "day"),
           "30d": (timedelta(days=30), "day")}
DEFAULT_EVENT_RETENTION_DAYS = 30
DEFAULT_ROLLUP_RETENTION_DAYS = 400


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


@dataclass
class _Sums:
    calls: int = 0
    ended: int = 0
    errors: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    duration_s: int = 0
    latency: dict[str, list[int]] = field(default_factory=dict)
    tokens: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    cost_usd: float = 0.0
    tool_runs: int = 0
    tool_failures: int = 0

    def observe(self, stage: str, ms: int) -> None:
        counts = self.latency.setdefault(stage, [0] * (len(LATENCY_BUCKETS_MS) + 1))
        counts[_bucket(ms)] += 1


def _bucket(ms: float) -> int:
    for index, bound in enumerate(LATENCY_BUCKETS_MS):
        if ms <= bound:
            return index
    return len(LATENCY_BUCKETS_MS)


# --- writing -------------------------------------------------------------------------------------


def rollups_compute(*, hour: datetime) -> int:
    """Recompute every tenant's and agent's rollup of the hour starting at `hour` from the raw
    rows (calls started or ended in it, agent turns and tool runs of it); returns rows written.
    Browser test calls are left out: they are members trying things, not callers."""
    from tools.models import ExecutionStatus, ToolExecution

    start, end = hour_of(hour), hour_of(hour) + timedelta(hours=1)
    sums: dict[tuple[int, int | None], _Sums] = defaultdict(_Sums)
    calls = Call.objects.exclude(direction__in=TEST_DIRECTIONS)
    for tenant_id, agent_id in calls.filter(started_at__gte=start, started_at__lt=end) \
            .values_list("tenant_id", "agent_id"):
        sums[(tenant_id, agent_id)].calls += 1
    for tenant_id, agent_id, outcome, duration, cost in calls.filter(
            ended_at__gte=start, ended_at__lt=end).values_list(
            "tenant_id", "agent_id", "outcome", "duration_seconds", "cost").iterator():
        row = sums[(tenant_id, agent_id)]
        row.ended += 1
        row.outcomes[outcome or "unknown"] += 1
        row.errors += outcome in ERROR_OUTCOMES
        row.duration_s += duration or 0
        total = (cost or {}).get("total_usd")
        if isinstance(total, int | float) and not isinstance(total, bool):
            row.cost_usd += float(total)
    turns = Turn.objects.filter(role=Role.AGENT, created_at__gte=start, created_at__lt=end) \
        .exclude(call__direction__in=TEST_DIRECTIONS)
    for tenant_id, agent_id, usage, *stages in turns.values_list(
            "tenant_id", "call__agent_id", "usage", *(f"{s}_ms" for s in STAGES)).iterator():
        row = sums[(tenant_id, agent_id)]
        for stage, ms in zip(STAGES, stages, strict=True):
            if ms is not None:
                row.observe(stage, ms)
        for kind in TOKEN_KINDS:
            value = (usage or {}).get(kind)
            if isinstance(value, int) and not isinstance(value, bool):
                row.tokens[kind] += value
    for tenant_id, agent_id, status in ToolExecution.objects.filter(
            dry_run=False, finished_at__gte=start, finished_at__lt=end).values_list(
            "tenant_id", "call__agent_id", "status"):
        row = sums[(tenant_id, agent_id)]
        row.tool_runs += 1
        row.tool_failures += status != ExecutionStatus.SUCCEEDED
    rows = [CallRollup(tenant_id=tenant_id, agent_id=agent_id, hour=start, calls=s.calls,
                       ended=s.ended, errors=s.errors, outcomes=dict(s.outcomes),
                       duration_s=s.duration_s, latency=s.latency, tokens=dict(s.tokens),
                       cost_usd=round(s.cost_usd, 6), tool_runs=s.tool_runs,
                       tool_failures=s.tool_failures)
            for (tenant_id, agent_id), s in sums.items()]
    with transaction.atomic():  # the hour is replaced as a whole: recomputing is idempotent
        CallRollup.objects.filter(hour=start).delete()
        CallRollup.objects.bulk_create(rows)
    return len(rows)


def rollups_refresh(*, now: datetime | None = None) -> int:
    """The previous and the current hour (beat, every 5 minutes)."""
    now = now or timezone.now()
    return sum(rollups_compute(hour=hour_of(now) - timedelta(hours=back)) for back in (1, 0))


def metrics_prune(*, now: datetime | None = None) -> dict[str, int]:
    """Delete raw call events and rollups past their retention (beat, daily)."""
    now = now or timezone.now()
    event_days = getattr(settings, "CALL_EVENT_RETENTION_DAYS", DEFAULT_EVENT_RETENTION_DAYS)
    rollup_days = getattr(settings, "ROLLUP_RETENTION_DAYS", DEFAULT_ROLLUP_RETENTION_DAYS)
    events, _ = CallEvent.objects.filter(at__lt=now - timedelta(days=event_days)).delete()
    rollups, _ = CallRollup.objects.filter(hour__lt=now - timedelta(days=rollup_days)).delete()
    return {"call_events": events, "rollups": rollups}


# --- reading -------------------------------------------------------------------------------------


def metrics_series(*, tenant: Tenant, window: str, agent_id: int | None = None,
                   now: datetime | None = None) -> dict[str, Any]:
    """The tenant's calls over `window` ("24h" by hour, "7d" and "30d" by day): one point per
    period with calls, errors, p50/p95 voice-to-voice latency (and p95 per stage), tokens, cost
    and tool runs; plus the totals of the window."""
    span, unit = WINDOWS[window]
    now = now or timezone.now()
    first = hour_of(now) - span + timedelta(hours=1)
    if unit == "day":
        first = timezone.localtime(first).replace(hour=0)
    rows = CallRollup.objects.filter(tenant=tenant, hour__gte=first, hour__lte=now)
    if agent_id is not None:
        rows = rows.filter(agent_id=agent_id)
    points: dict[datetime, _Sums] = {}
    step = timedelta(hours=1) if unit == "hour" else timedelta(days=1)
    moment = first
    while moment <= now:
        points[moment] = _Sums()
        moment += step
    total = _Sums()
    for row in rows:
        key = row.hour if unit == "hour" else timezone.localtime(row.hour).replace(hour=0)
        for target in (points.setdefault(key, _Sums()), total):
            _add(target, row)
    return {"window": window, "unit": unit, "points": [
        {"start": start.isoformat(), **_summary(s)} for start, s in sorted(points.items())],
        "totals": _summary(total)}


def _add(target: _Sums, row: CallRollup) -> None:
    target.calls += row.calls
    target.ended += row.ended
    target.errors += row.errors
    target.duration_s += row.duration_s
    target.cost_usd += row.cost_usd
    target.tool_runs += row.tool_runs
    target.tool_failures += row.tool_failures
    for outcome, count in row.outcomes.items():
        target.outcomes[outcome] += count
    for kind, count in row.tokens.items():
        target.tokens[kind] += count
    for stage, counts in row.latency.items():
        mine = target.latency.setdefault(stage, [0] * (len(LATENCY_BUCKETS_MS) + 1))
        for index, count in enumerate(counts[:len(mine)]):
            mine[index] += count


def _percentile(counts: list[int] | None, q: float) -> int | None:
    """The upper bound (ms) of the bucket holding the q-th quantile; None without data, and
    the last bound for the overflow bucket (reported as "over" by callers that care)."""
    if not counts or not sum(counts):
        return None
    rank = q * sum(counts)
    seen = 0
    for index, count in enumerate(counts):
        seen += count
        if seen >= rank:
            return LATENCY_BUCKETS_MS[min(index, len(LATENCY_BUCKETS_MS) - 1)]
    return LATENCY_BUCKETS_MS[-1]


def _summary(s: _Sums) -> dict[str, Any]:
    voice = s.latency.get("first_frame")
    return {
        "calls": s.calls, "ended": s.ended, "errors": s.errors,
        "error_rate_pct": round(100 * s.errors / s.ended, 2) if s.ended else None,
        "outcomes": dict(s.outcomes), "duration_s": s.duration_s,
        "latency_p50_ms": _percentile(voice, 0.5), "latency_p95_ms": _percentile(voice, 0.95),
        "stage_p95_ms": {stage: _percentile(s.latency.get(stage), 0.95) for stage in STAGES},
        "tokens": dict(s.tokens), "cost_usd": round(s.cost_usd, 4),
        "cost_per_call_usd": round(s.cost_usd / s.ended, 4) if s.ended else None,
        "tool_runs": s.tool_runs, "tool_failures": s.tool_failures,
    }
