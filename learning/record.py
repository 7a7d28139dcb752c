"""What an analyser reads about one finished call: its redacted transcript, tool runs, outcome
and the agent's analysis settings, loaded once (analysers never query the database)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from calls.models import Call
from memory.selectors import remembered


@dataclass(frozen=True)
class ToolRun:
    name: str
    arguments: dict[str, Any]  # as stored: redacted for display
    succeeded: bool
    result: Any = None


@dataclass(frozen=True)
class CallRecord:
    call_id: int
    agent_name: str
    outcome: str
    duration_seconds: int | None
    turns: list[tuple[str, str]]  # (role, redacted text)
    tools: list[ToolRun] = field(default_factory=list)
    knowledge: list[tuple[str, str]] = field(default_factory=list)
    tool_triggers: list[tuple[str, str, list[str]]] = field(default_factory=list)
    success_criteria: str = ""
    extraction_schema: dict[str, Any] = field(default_factory=dict)
    caller_name: str = ""  # as the caller gave it (memory/), never in the redacted turns

    @property
    def caller_lines(self) -> list[str]:
        return [text for role, text in self.turns if role == "caller" and text.strip()]


def call_record(call: Call) -> CallRecord:
    """The analyser's view of `call` (its agent's current analysis settings)."""
    from tools.models import ExecutionStatus, ToolExecution

    agent = call.agent
    knowledge = ([(k.question, k.answer) for k in agent.knowledge.order_by("id")]
                 if agent else [])
    triggers = ([(t.name, t.description, list(t.trigger_phrases or []))
                 for t in agent.tools.order_by("name")] if agent else [])
    runs = ToolExecution.objects.filter(tenant_id=call.tenant_id, call=call).order_by("id")
    return CallRecord(
        call_id=call.pk, agent_name=agent.name if agent else "",
        outcome=call.outcome, duration_seconds=call.duration_seconds,
        turns=[(t.role, t.text) for t in call.turns.order_by("index")],
        tools=[ToolRun(name=run.tool_name, arguments=run.arguments or {},
                       succeeded=run.status == ExecutionStatus.SUCCEEDED, result=run.result)
               for run in runs],
        knowledge=knowledge, tool_triggers=triggers,
        success_criteria=agent.success_criteria if agent else "",
        extraction_schema=agent.extraction_schema if agent else {},
        caller_name=remembered(call.contact).name if call.contact_id else "")


@dataclass
class Analysis:
    analyzer: str
    summary: str
    success: bool | None
    success_reason: str
    extracted: dict[str, Any]
    extraction_error: str
    sentiment: str
    topics: list[str]
