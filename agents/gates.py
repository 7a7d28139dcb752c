"""Checks a version must pass before callers hear it, whether it is published at once or rolled
out to a share of calls: `gate(agent, snapshot)` raises EvaluationFailed to refuse.

The gates are registered at start by the app that owns them (learning: the evaluation suite,
then replay), so neither agents.versions nor agents.rollouts imports learning.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agents.models import Agent
from aybiza.core.errors import ApplicationError


class EvaluationFailed(ApplicationError):
    status_code = 409
    code = "evaluation_failed"


publish_gates: list[Callable[[Agent, dict[str, Any]], None]] = []


def gates_check(agent: Agent, snapshot: dict[str, Any]) -> None:
    """Every gate, in order (the cheaper first); the first refusal is raised."""
    for gate in publish_gates:
        gate(agent, snapshot)
