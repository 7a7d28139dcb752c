"""The tool executor: check the arguments against the tool's schema, then run it.

Pure of bookkeeping: it reads no ToolExecution and writes none (tools.services does).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from tools.executor.http_tool import run_http_tool
from tools.executor.outcome import ToolOutcome, failed
from tools.models import ExecutionStatus, Tool, ToolKind
from tools.ssrf import EMPTY_ALLOWLIST, Allowlist
from tools.validation import arguments_problem, json_mismatch

if TYPE_CHECKING:
    from calls.models import Call

logger = logging.getLogger(__name__)


def execute(
    *, tool: Tool, arguments: Any, call: Call | None = None,
    allowlist: Allowlist = EMPTY_ALLOWLIST, dry_run: bool = False,
) -> ToolOutcome:
    """Run `tool` with the brain's `arguments`. Never raises for a tool's failure: the outcome
    says what went wrong in words the brain can act on (the call goes on). `dry_run` makes
    side-effecting built-ins report what they would do instead (HTTP tools run as usual)."""
    # Size first: a call's arguments are steered by the caller (limits in tools.validation).
    problem = arguments_problem(arguments) or json_mismatch(tool.parameters, arguments)
    if problem:
        return failed(
            f"Invalid arguments for {tool.name}: {problem}. Correct them (ask the caller if "
            f"something is missing) and call {tool.name} again.",
            status=ExecutionStatus.REJECTED, attempts=0,
        )
    if tool.kind == ToolKind.BUILTIN:
        from tools.builtins import BUILTINS, BuiltinContext

        builtin = BUILTINS.get(tool.builtin_name)
        if builtin is None:
            return failed(f"The built-in {tool.builtin_name!r} does not exist.",
                          status=ExecutionStatus.REJECTED, attempts=0)
        context = BuiltinContext(tenant=tool.tenant, tool=tool, call=call, dry_run=dry_run)
        return builtin.run(context, arguments)
    caller = ""
    if call is not None:
        from tools.builtins.base import remote_number

        caller = remote_number(call)
    return run_http_tool(tool=tool, arguments=arguments, allowlist=allowlist,
                         caller_number=caller)


__all__ = ["ToolOutcome", "execute"]
