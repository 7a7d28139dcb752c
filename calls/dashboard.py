"""Today's numbers for a tenant's live dashboard: read when an event says something changed,
never polled per viewer. Bounded: percentiles over at most the last 5,000 answers of the day."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from aybiza.core.models import Tenant
from calls.models import Call, Role, Turn

LATENCY_SAMPLE = 5000


@dataclass(frozen=True)
class ActiveCall:
    call_id: int
    agent: str
    caller: str  # masked: the last 4 digits
    started_at: object
    browser: bool


@dataclass(frozen=True)
class Today:
    calls: int
    ended: int
    successful: int
    judged: int
    latency_p50_ms: int | None
    latency_p95_ms: int | None
    cost_usd: float
    tool_runs: int
    tool_failures: int
    active: list[ActiveCall] = field(default_factory=list)

    @property
    def success_rate(self) -> int | None:
        return round(100 * self.successful / self.judged) if self.judged else None

    @property
    def tool_success_rate(self) -> int | None:
        if not self.tool_runs:
            return None
        return round(100 * (self.tool_runs - self.tool_failures) / self.tool_runs)


def masked(number: str) -> str:
    digits = [c for c in number if c.isdigit()]
    return f"•••• {''.join(digits[-4:])}" if len(digits) >= 4 else "unknown"


def percentile(values: list[int], q: float) -> int | None:
    """The q-quantile of `values` (nearest rank), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def dashboard_today(*, tenant: Tenant) -> Today:
    from tools.models import ExecutionStatus, ToolExecution

    now = timezone.now()
    start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    today = Call.objects.filter(tenant=tenant, started_at__gte=start)
    stale = now - timedelta(seconds=settings.CALL_STALE_AFTER_S)
    active = (Call.objects.filter(tenant=tenant, outcome="", started_at__gte=stale)
              .select_related("agent").order_by("started_at")[:50])
    latencies = list(Turn.objects.filter(
        tenant=tenant, call__started_at__gte=start, role=Role.AGENT,
        first_frame_ms__isnull=False).order_by("-id")
        .values_list("first_frame_ms", flat=True)[:LATENCY_SAMPLE])
    counts = today.aggregate(
        calls=Count("id"), ended=Count("id", filter=~Q(outcome="")),
        judged=Count("id", filter=Q(analysis__success__isnull=False)),
        successful=Count("id", filter=Q(analysis__success=True)))
    costs = [cost.get("total_usd") or 0 for cost in today.values_list("cost", flat=True)]
    tools = ToolExecution.objects.filter(tenant=tenant, created_at__gte=start, dry_run=False) \
        .aggregate(runs=Count("id"),
                   failures=Count("id", filter=~Q(status=ExecutionStatus.SUCCEEDED)))
    return Today(
        calls=counts["calls"], ended=counts["ended"], successful=counts["successful"],
        judged=counts["judged"],
        latency_p50_ms=percentile(latencies, 0.5), latency_p95_ms=percentile(latencies, 0.95),
        cost_usd=round(sum(float(c) for c in costs if isinstance(c, int | float)), 4),
        tool_runs=tools["runs"], tool_failures=tools["failures"],
        active=[ActiveCall(call_id=c.pk, agent=c.agent.name if c.agent else "—",
                           caller=masked(c.from_number), started_at=c.started_at,
                           browser=c.direction == "browser") for c in active])
