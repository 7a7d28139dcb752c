"""Deciding staged rollouts (agents/rollouts.py holds their state): every few minutes, each
active rollout's candidate is compared with the stable version over the calls each took since
the current step began.

- Roll back when the candidate's error rate passes 1 % (the seed's threshold) over at least
  `MIN_CALLS_TO_JUDGE_ERRORS` calls and stable's rate (an outage both sides meet, a booking API
  down, is not the candidate's doing), or when its task success (post-call analysis) falls more
  than `SUCCESS_MARGIN` below stable's. An error is a call that ended in error, or one where a
  tool failed, timed out or was refused (a broken tool binding errs without ending the call).
- Advance (1 → 10 → 50 → 100 %, then published) once the step has `MIN_CALLS_PER_STEP`
  finished calls on the candidate and neither happened.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q

from agents.models import Rollout, RolloutStatus
from agents.rollouts import rollout_advance, rollout_roll_back
from calls.models import TEST_DIRECTIONS, Call, Outcome
from tools.models import ExecutionStatus

MIN_CALLS_PER_STEP = 20
MIN_CALLS_TO_JUDGE_ERRORS = 5
MAX_ERROR_RATE = 0.01
SUCCESS_MARGIN = 0.10
ERROR_OUTCOMES = (Outcome.ERROR, Outcome.PROTOCOL_VIOLATION)
TOOL_ERRORS = (ExecutionStatus.FAILED, ExecutionStatus.TIMEOUT, ExecutionStatus.REJECTED)


@dataclass(frozen=True)
class Side:
    calls: int
    errors: int
    judged: int
    successful: int

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0

    @property
    def success_rate(self) -> float | None:
        return self.successful / self.judged if self.judged else None


def side(rollout: Rollout, version_id: int | None) -> Side:
    if version_id is None:
        return Side(0, 0, 0, 0)
    counts = (Call.objects.filter(tenant_id=rollout.tenant_id, agent_id=rollout.agent_id,
                                  agent_version_id=version_id,
                                  started_at__gte=rollout.step_started_at)
              .exclude(outcome="").exclude(direction__in=TEST_DIRECTIONS)  # members' tests
              # Distinct: the tools' join repeats a call once per run.
              .aggregate(calls=Count("id", distinct=True),
                         errors=Count("id", distinct=True, filter=Q(
                             outcome__in=ERROR_OUTCOMES)
                             | Q(tool_executions__status__in=TOOL_ERRORS)),
                         judged=Count("id", distinct=True,
                                      filter=Q(analysis__success__isnull=False)),
                         successful=Count("id", distinct=True,
                                          filter=Q(analysis__success=True))))
    return Side(**counts)


def decide(rollout: Rollout) -> tuple[str, str]:
    """("advance" | "roll_back" | "wait", why)."""
    candidate, stable = side(rollout, rollout.candidate_id), side(rollout, rollout.stable_id)
    if (candidate.calls >= MIN_CALLS_TO_JUDGE_ERRORS and candidate.error_rate > MAX_ERROR_RATE
            and candidate.error_rate > stable.error_rate):
        return "roll_back", (f"error rate {candidate.error_rate:.1%} over {candidate.calls} calls "
                             f"(stable {stable.error_rate:.1%}), above {MAX_ERROR_RATE:.0%}")
    if candidate.calls < MIN_CALLS_PER_STEP:
        return "wait", f"{candidate.calls} of {MIN_CALLS_PER_STEP} calls at this step"
    ours, theirs = candidate.success_rate, stable.success_rate
    if ours is not None and theirs is not None and ours < theirs - SUCCESS_MARGIN:
        return "roll_back", f"task success {ours:.0%} against stable {theirs:.0%}"
    success = f", success {ours:.0%}" if ours is not None else ""
    return "advance", (f"{candidate.calls} calls, error rate {candidate.error_rate:.1%}"
                       f"{success}")


def rollouts_advance() -> list[tuple[int, str]]:
    """Advance or roll back every active rollout that has enough evidence."""
    done = []
    for rollout in (Rollout.objects.filter(status=RolloutStatus.ACTIVE)
                    .select_related("tenant", "agent", "candidate", "stable")):
        action, why = decide(rollout)
        if action == "advance":
            rollout_advance(rollout=rollout, why=why)
        elif action == "roll_back":
            rollout_roll_back(rollout=rollout, why=why)
        done.append((rollout.pk, action))
    return done
