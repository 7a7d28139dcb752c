"""Today's numbers for a tenant's live dashboard: read when an event says something changed,
never polled per viewer. Bounded: percentiles over at most the last 5,000 answers of the day."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from aybiza.core.models import Tenant
from calls import live_state
from calls.models import Call, Role, Turn

LATENCY_SAMPLE = 5000


@dataclass(frozen=True)
class ActiveCall:
    call_id: int
    agent: str
    caller: str  # masked: the last 4 digits
    started_at: object
    browser: bool
    state: str = ""  # calls.live_state: listening / thinking / speaking / tool ("" unknown)

    @property
    def state_label(self) -> str:
        return live_state.LABELS.get(self.state, "")


# The milestones of an answer, each measured from the moment the caller stopped speaking.
STAGES = (("stt_final", "Words recognised"), ("llm_first_token", "First word from the model"),
          ("tts_first_audio", "First audio synthesised"), ("first_frame", "On the line"))


@dataclass(frozen=True)
class StageLatency:
    label: str
    p50_ms: int | None
    p95_ms: int | None


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
    stages: list[StageLatency] = field(default_factory=list)
    # Language-model tokens of today's calls; tokens read from the prompt cache counted apart.
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def tokens_per_call(self) -> int | None:
        return round(self.tokens / self.ended) if self.ended else None

    @property
    def cost_per_call_usd(self) -> float | None:
        return self.cost_usd / self.ended if self.ended else None

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
    sample = list(Turn.objects.filter(
        tenant=tenant, call__started_at__gte=start, role=Role.AGENT,
        first_frame_ms__isnull=False).order_by("-id")
        .values_list(*(f"{stage}_ms" for stage, _ in STAGES))[:LATENCY_SAMPLE])
    stages = [_stage_latency(label, [row[i] for row in sample if row[i] is not None])
              for i, (_, label) in enumerate(STAGES)]
    on_the_line = stages[-1]  # first frame sent: the answer latency
    counts = today.aggregate(
        calls=Count("id"), ended=Count("id", filter=~Q(outcome="")),
        judged=Count("id", filter=Q(analysis__success__isnull=False)),
        successful=Count("id", filter=Q(analysis__success=True)))
    costs = [cost for cost in today.values_list("cost", flat=True) if isinstance(cost, dict)]
    tokens = _llm_tokens(costs)
    states = live_state.call_states(c.pk for c in active)
    tools = ToolExecution.objects.filter(tenant=tenant, created_at__gte=start, dry_run=False) \
        .aggregate(runs=Count("id"),
                   failures=Count("id", filter=~Q(status=ExecutionStatus.SUCCEEDED)))
    return Today(
        calls=counts["calls"], ended=counts["ended"], successful=counts["successful"],
        judged=counts["judged"],
        latency_p50_ms=on_the_line.p50_ms, latency_p95_ms=on_the_line.p95_ms,
        stages=stages if sample else [],
        cost_usd=round(sum(float(c["total_usd"]) for c in costs
                           if isinstance(c.get("total_usd"), int | float)), 4),
        input_tokens=tokens["input_tokens"], output_tokens=tokens["output_tokens"],
        cache_read_tokens=tokens["cache_read_tokens"],
        tool_runs=tools["runs"], tool_failures=tools["failures"],
        active=[ActiveCall(call_id=c.pk, agent=c.agent.name if c.agent else "—",
                           caller=masked(c.from_number), started_at=c.started_at,
                           browser=c.direction == "browser", state=states.get(c.pk, ""))
                for c in active])


def _stage_latency(label: str, values: list[int]) -> StageLatency:
    return StageLatency(label, percentile(values, 0.5), percentile(values, 0.95))


def _llm_tokens(costs: list[dict]) -> dict[str, int]:
    """Tokens summed over calls' cost estimates (calls.realtime.costs: llm → provider → counts)."""
    total = dict.fromkeys(("input_tokens", "output_tokens", "cache_read_tokens"), 0)
    for cost in costs:
        llm = cost.get("llm")
        for usage in (llm.values() if isinstance(llm, dict) else ()):
            for kind in total:
                count = usage.get(kind) if isinstance(usage, dict) else None
                if isinstance(count, int):
                    total[kind] += count
    return total
