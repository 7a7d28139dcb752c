"""`lookup_caller`: what this tenant already knows about the number on the line."""

from __future__ import annotations

from typing import Any

from calls.selectors import call_list
from tools.builtins.base import Builtin, BuiltinContext, remote_number
from tools.executor.outcome import ToolOutcome, failed, succeeded
from tools.models import ExecutionStatus


def lookup_caller(ctx: BuiltinContext, arguments: dict[str, Any]) -> ToolOutcome:
    if ctx.call is not None:
        number = remote_number(ctx.call)
    else:
        # Test runs only: on a live call the brain cannot ask about somebody else's number.
        number = str(arguments.get("phone_number", ""))
    if not number:
        return failed("There is no caller number to look up.", status=ExecutionStatus.REJECTED,
                      attempts=0)
    previous = call_list(tenant=ctx.tenant, number=number)
    if ctx.call is not None:
        previous = previous.exclude(pk=ctx.call.pk)
    last = previous.first()
    return succeeded({
        "phone_number": number,
        "known_caller": last is not None,
        "previous_calls": previous.count(),
        "last_call_at": last.started_at.isoformat() if last else None,
        "last_outcome": (last.outcome or last.status) if last else None,
    })


LOOKUP_CALLER = Builtin(
    name="lookup_caller",
    description="Look up the caller's history with us: how many times they called before, "
                "when they last called and how that call ended.",
    parameters={"type": "object", "properties": {}},
    trigger_phrases=("called before", "last time i called", "do you know me"),
    idempotent=True,
    run=lookup_caller,
)
