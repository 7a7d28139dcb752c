"""Which of the agent's tools does what a caller asked for: book, cancel, reschedule, or report a
problem, read from the tool's name (`book_table`, `cancel_appointment`, `create_ticket`)."""

from __future__ import annotations

from collections.abc import Sequence

from calls.realtime.providers.llm.base import ToolSpec
from calls.realtime.providers.llm.offline.schema import json_type, required_arguments, schema_of
from calls.realtime.providers.llm.offline.text import humanise

_BOOK_VERBS = frozenset({"book", "schedule", "reserve", "make", "create", "request"})
_BOOKED_THINGS = frozenset({"appointment", "appointments", "booking", "reservation", "table",
                            "visit", "slot", "session", "consultation"})
_PROBLEM_THINGS = frozenset({"ticket", "incident", "issue", "problem", "case", "complaint",
                             "report", "fault"})
_LOOKUP_VERBS = frozenset({"get", "check", "find", "list", "lookup", "look", "search", "status"})


def kind_of(tool: ToolSpec) -> str:
    """book, cancel, reschedule, problem or lookup (reads, changes nothing), from the tool's
    name; "" for anything else."""
    words = humanise(tool.name).split()
    if not words:
        return ""
    if "cancel" in words:
        return "cancel"
    if words[0] in {"reschedule", "move", "change", "rebook"}:
        return "reschedule"
    if words[0] in _LOOKUP_VERBS or "status" in words:
        return "lookup"
    if set(words) & _PROBLEM_THINGS:
        return "problem"
    if words[0] in {"book", "schedule", "reserve"} or (
            words[0] in _BOOK_VERBS and set(words) & _BOOKED_THINGS):
        return "book"
    return ""


def tool_of_kind(tools: Sequence[ToolSpec], kind: str) -> int | None:
    """The index of the first tool that does `kind` (book, cancel, reschedule, problem)."""
    return next((i for i, tool in enumerate(tools) if kind_of(tool) == kind), None)


def first_text_argument(tool: ToolSpec) -> str | None:
    """The free-text argument a problem is described in (`summary`, `description`), if any."""
    for name in required_arguments(tool):
        schema = schema_of(tool, name)
        if json_type(schema) == "string" and "enum" not in schema and "format" not in schema \
                and any(word in name.lower() for word in ("summary", "description", "problem",
                                                          "issue", "details", "reason")):
            return name
    return None
