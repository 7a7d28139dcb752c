"""What a tool run produced, in the shape the brain reads (a ToolResult's content) and we store."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from aybiza.core.text import storable
from tools.models import ExecutionStatus

# The brain reads the result on every following turn: keep it small (tokens, latency).
DEFAULT_RESULT_MAX_CHARS = 4000
TRUNCATED_MARK = " …[truncated]"


@dataclass(frozen=True)
class ToolOutcome:
    status: str
    content: Any  # JSON-able; for errors a sentence the brain can act on
    http_status: int | None = None
    attempts: int = 1
    error: str = ""  # for operators; may say more than `content`

    @property
    def is_error(self) -> bool:
        return self.status != ExecutionStatus.SUCCEEDED


def succeeded(content: Any, *, http_status: int | None = None, attempts: int = 1) -> ToolOutcome:
    return ToolOutcome(ExecutionStatus.SUCCEEDED, cap_result(content), http_status, attempts)


def failed(message: str, *, status: str = ExecutionStatus.FAILED, http_status: int | None = None,
           attempts: int = 1, detail: str = "") -> ToolOutcome:
    return ToolOutcome(status, cap_result(message), http_status, attempts, detail or message)


def cap_result(content: Any) -> Any:
    """`content` as JSON-able data when its JSON fits the limit, else its JSON text, cut.
    Text that could not be stored (a NUL, a lone surrogate from the tool's service) is repaired:
    one such character in a result once made the tenant's execution list fail for good."""
    content = storable(content)
    limit = getattr(settings, "TOOLS_RESULT_MAX_CHARS", DEFAULT_RESULT_MAX_CHARS)
    if isinstance(content, str):
        text = content
    else:
        text = json.dumps(content, ensure_ascii=False, default=str)
        if len(text) <= limit:
            return json.loads(text)  # normalised: dates and the like become strings
    return text if len(text) <= limit else text[: limit - len(TRUNCATED_MARK)] + TRUNCATED_MARK
