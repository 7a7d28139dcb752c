"""A built-in tool that hangs and ignores Celery's soft time limit, as code stuck in a C call
would: only the hard limit stops it. Registered in a worker started with `include=(__name__,)`
and env AYBIZA_TEST_STUBBORN_BUILTIN=1; tests register it in their own process with `register`.
Each run appends a line to the file named by its `builtin_config["runs_file"]`.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from tools.builtins import BUILTINS, Builtin, BuiltinContext
from tools.executor.outcome import ToolOutcome, succeeded

HANG_S = 20.0


def _hang(context: BuiltinContext, arguments: dict[str, Any]) -> ToolOutcome:
    with Path(context.tool.builtin_config["runs_file"]).open("a") as runs:
        runs.write(f"run by {os.getpid()}\n")
    deadline = time.monotonic() + HANG_S
    while time.monotonic() < deadline:
        # It does not stop at SoftTimeLimitExceeded, as a regex or a C library call would not.
        with contextlib.suppress(SoftTimeLimitExceeded):
            time.sleep(0.05)
    return succeeded("finished after all")


STUBBORN = Builtin(
    name="stubborn_for_tests", description="Hangs.", parameters={"type": "object"}, run=_hang,
    config_schema={"type": "object", "properties": {"runs_file": {"type": "string"}},
                   "required": ["runs_file"]},
)


def register(builtins: dict[str, Builtin] = BUILTINS) -> None:
    builtins[STUBBORN.name] = STUBBORN


if os.environ.get("AYBIZA_TEST_STUBBORN_BUILTIN") == "1":
    register()
