"""Is the agent getting better? Task success and handle time per version and per month, with
the evaluation suite's pass rate beside each version — the seed's "5 % monthly improvement"
measured from calls, not claimed.

Task success is the post-call analysis's judgement against the agent's success criteria
(calls without a judgement are counted as calls, not in the rate); handle time is the call's
length. Browser test calls are left out: they are the team trying the agent, not callers.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Avg, Count, Q
from django.db.models.functions import TruncMonth

from calls.models import TEST_DIRECTIONS, Call


@dataclass(frozen=True)
class Period:
    label: str  # "v3", or "2026-11"
    calls: int
    judged: int
    successful: int
    avg_handle_s: float | None
    eval_pass_rate: float | None = None  # versions only: the latest suite run against it

    @property
    def success_rate(self) -> float | None:
        return round(100 * self.successful / self.judged, 1) if self.judged else None


@dataclass(frozen=True)
class Improvement:
    by_version: list[Period]
    by_month: list[Period]

    @property
    def monthly_change_points(self) -> float | None:
        """The success rate's change from the month before the last to the last, in points."""
        rated = [p.success_rate for p in self.by_month if p.success_rate is not None]
        return round(rated[-1] - rated[-2], 1) if len(rated) >= 2 else None


def _measures() -> dict:
    """What a period is measured by: for a queryset's `aggregate` or a grouped `annotate`."""
    return {"calls": Count("id"), "judged": Count("id", filter=Q(analysis__success__isnull=False)),
            "successful": Count("id", filter=Q(analysis__success=True)),
            "avg_handle_s": Avg("duration_seconds")}


def agent_improvement(*, tenant, agent, months: int = 12) -> Improvement:
    from learning.models import EvalRun

    calls = Call.objects.filter(tenant=tenant, agent=agent).exclude(outcome="").exclude(
        direction__in=TEST_DIRECTIONS)
    by_version = []
    for version in agent.versions.order_by("number"):
        totals = calls.filter(agent_version=version).aggregate(**_measures())
        latest = EvalRun.objects.filter(tenant=tenant, agent=agent,
                                        version=version).order_by("-id").first()
        rate = (round(100 * latest.passed / (latest.passed + latest.failed), 1)
                if latest and latest.passed + latest.failed else None)
        if totals["calls"] or rate is not None:
            by_version.append(_period(f"v{version.number}", totals, rate))
    monthly = (calls.annotate(month=TruncMonth("started_at")).values("month")
               .annotate(**_measures()).order_by("month"))
    by_month = [_period(row["month"].strftime("%Y-%m"), row) for row in monthly][-months:]
    return Improvement(by_version=by_version, by_month=by_month)


def _period(label: str, totals: dict, eval_pass_rate: float | None = None) -> Period:
    handle = totals["avg_handle_s"]
    return Period(label=label, calls=totals["calls"], judged=totals["judged"],
                  successful=totals["successful"],
                  avg_handle_s=round(float(handle), 1) if handle is not None else None,
                  eval_pass_rate=eval_pass_rate)
