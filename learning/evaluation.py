"""Evaluation suites in text mode: an agent version's brain plays each scripted scenario turn by
turn — the same conversation, tools and call control a call gets, without audio — and every
check is judged. Tools are not executed (nothing is booked by a test): each call is recorded and
answered `{"ok": true}`, so the agent goes on as after a success.

Checks (a list of objects on each scenario):
- ``{"type": "reply_contains", "text": "nine"}``: an agent reply contains the text (any case);
- ``{"type": "tool_called", "name": "book_appointment", "arguments": {"when": "T10:00"}}``:
  the tool was called, each given argument containing the given text (arguments optional), and
  its arguments matching ``"schema"`` when one is given (a JSON Schema, checked like a tool's:
  ``{"required": ["when"], "properties": {"when": {"pattern": "T1[0-2]:"}}}``);
- ``{"type": "ends_call"}`` / ``{"type": "transfers"}``: the agent hung up / handed over;
- ``{"type": "max_turns", "turns": 3}``: it needed at most that many caller turns;
- ``{"type": "extracted", "fields": {"when": "Tuesday"}}``: the post-call analysis of the
  conversation (the agent's extraction schema, by its cloud model or offline) extracted each
  field, containing the given text;
- ``{"type": "succeeds"}``: the analysis judged the call successful against the agent's success
  criteria;
- ``{"type": "max_latency_ms", "ms": 1500}``: every answer came within that time — in text
  mode the brain's, in audio mode (learning/audio_eval.py) what the caller waited from the end
  of their words to the agent's first audio.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from agents.models import Agent, AgentVersion
from calls.realtime.call_control import END_CALL, TRANSFER_CALL, with_call_control
from calls.realtime.providers.llm.base import (
    Conversation,
    Done,
    LLMProvider,
    Message,
    TextDelta,
    ToolCall,
    ToolResult,
)
from learning.simulated_caller import MAX_CALLER_TURNS, CallerDriver, FixedLines, driver_for

CHECK_TYPES = {"reply_contains": ("text",), "tool_called": ("name",), "ends_call": (),
               "transfers": (), "max_turns": ("turns",), "max_latency_ms": ("ms",),
               "extracted": ("fields",), "succeeds": ()}
ANALYSED = ("extracted", "succeeds")  # checks on the post-call analysis of the conversation
MAX_TOOL_ROUNDS = 4
MAX_LINES = 20
MAX_CHECKS = 20


def checks_problem(caller_lines: Any, checks: Any, *, simulated: bool = False
                   ) -> dict[str, list[str]]:
    """Why a scenario cannot be run (per field), or {}. `simulated`: the caller has a goal
    instead of lines (learning/simulated_caller.py checks those fields)."""
    errors: dict[str, list[str]] = {}
    if simulated and caller_lines == []:
        pass
    elif (not isinstance(caller_lines, list) or not caller_lines or len(caller_lines) > MAX_LINES
            or not all(isinstance(x, str) and 0 < len(x.strip()) <= 500 for x in caller_lines)):
        errors["caller_lines"] = [f"1 to {MAX_LINES} caller lines, each 1–500 characters"
                                  + (", or none and a goal." if not caller_lines else ".")]
    if not isinstance(checks, list) or not checks or len(checks) > MAX_CHECKS:
        errors["checks"] = [f"1 to {MAX_CHECKS} checks."]
        return errors
    for position, check in enumerate(checks, start=1):
        problem = _check_problem(check)
        if problem:
            errors["checks"] = [f"Check {position}{problem}"]
            break
    return errors


def _check_problem(check: Any) -> str | None:  # noqa: C901 - one branch per check type
    """Why one check cannot be judged (": …" to follow "Check n"), or None."""
    kind = check.get("type") if isinstance(check, dict) else None
    if kind not in CHECK_TYPES:
        return f": type is one of {', '.join(CHECK_TYPES)}."
    missing = [key for key in CHECK_TYPES[kind] if key not in check]
    if missing:
        return f" ({kind}) needs {', '.join(missing)}."
    if kind == "max_turns" and not (isinstance(check["turns"], int) and check["turns"] > 0):
        return ": turns is a positive whole number."
    if kind == "max_latency_ms" and not (isinstance(check["ms"], int)
                                         and 0 < check["ms"] <= 60_000):
        return ": ms is a whole number from 1 to 60000."
    if kind == "extracted" and not (isinstance(check["fields"], dict) and check["fields"]):
        return ": fields is an object of field: text."
    if kind == "tool_called" and not isinstance(check.get("arguments", {}), dict):
        return ": arguments is an object."
    if kind == "tool_called" and "schema" in check:
        problem = _schema_problem(check["schema"])
        if problem:
            return f": schema: {problem}"
    return None


def _schema_problem(schema: Any) -> str | None:
    from django.core.exceptions import ValidationError

    from tools.validation import validate_parameters_schema

    try:
        validate_parameters_schema(schema)
    except ValidationError as exc:
        return exc.messages[0]
    return None


@dataclass
class Played:
    """What the agent did in one scenario."""

    replies: list[str] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    ended: bool = False
    transferred: bool = False
    caller_turns: int = 0
    latencies_ms: list[int] = field(default_factory=list)  # one per answered caller turn
    caller_lines: list[str] = field(default_factory=list)  # what the caller said (simulated)
    transcript: list[tuple[str, str]] = field(default_factory=list)  # (role, text), in order
    analysis: Any = None  # learning.record.Analysis, for the checks on it (ANALYSED)
    cost_usd: float = 0.0  # the model's rounds at the configured prices (audio: the call's)


async def play(llm: LLMProvider, conversation: Conversation,
               caller: list[str] | CallerDriver, passages: dict[str, list[str]] | None = None,
               *, priced_as: str = "", greeting: str = "",
               passages_for: Callable[[str], Awaitable[list[str]]] | None = None) -> Played:
    """The caller's lines — fixed, or a simulated caller's answers to what the agent says
    (learning/simulated_caller.py) — through the brain. `passages` are the agent's document
    passages per fixed line, found beforehand; `passages_for` finds them for a simulated line
    (a call searches them as each line is said). `priced_as`: the provider whose prices cost
    its rounds (calls/realtime/costs.py)."""
    driver = caller if isinstance(caller, CallerDriver) else FixedLines(caller)
    played = Played()
    agent_said = greeting
    for _turn in range(max(MAX_LINES, MAX_CALLER_TURNS)):
        if played.ended or played.transferred:
            break
        line = await driver.next_line(agent_said)
        if line is None:
            break
        played.caller_turns += 1
        played.caller_lines.append(line)
        played.transcript.append(("caller", line))
        found = (passages or {}).get(line, []) if passages_for is None \
            else await passages_for(line)
        conversation.messages.append(Message(role="user", text=line, passages=found))
        replies_before = len(played.replies)
        await _answer(llm, conversation, played, priced_as)
        agent_said = " ".join(played.replies[replies_before:])
    return played


async def _answer(llm: LLMProvider, conversation: Conversation, played: Played,
                  priced_as: str) -> None:
    """The agent's answer to the caller's last line: its model rounds, tools answered ok."""
    from calls.realtime.costs import llm_usd

    asked = time.monotonic()
    for _round in range(MAX_TOOL_ROUNDS + 1):
        said, calls, done = [], [], Done()
        async for event in llm.respond(conversation):
            if isinstance(event, TextDelta):
                if not said and len(played.latencies_ms) < played.caller_turns:
                    played.latencies_ms.append(round((time.monotonic() - asked) * 1000))
                said.append(event.text)
            elif isinstance(event, ToolCall):
                calls.append(event)
            elif isinstance(event, Done):
                done = event
        if priced_as:
            played.cost_usd += llm_usd(
                f"{priced_as}_fast" if done.tier == "fast" else priced_as, done.usage)
        text = "".join(said).strip()
        if text:
            played.replies.append(text)
            played.transcript.append(("agent", text))
        conversation.messages.append(Message(role="assistant", text=text, tool_calls=calls))
        played.tool_calls += calls
        played.ended |= done.end_call or any(c.name == END_CALL for c in calls)
        played.transferred |= bool(done.transfer_to) or any(
            c.name == TRANSFER_CALL for c in calls)
        if not calls or played.ended or played.transferred:
            return
        conversation.messages.append(Message(role="tool", tool_results=[
            ToolResult(c.id, c.name, {"ok": True}) for c in calls]))


def judge(check: dict[str, Any], played: Played) -> tuple[bool, str]:
    kind = check["type"]
    if kind == "reply_contains":
        wanted = str(check["text"]).lower()
        ok = any(wanted in reply.lower() for reply in played.replies)
        return ok, f"no reply mentions “{check['text']}”" if not ok else ""
    if kind == "tool_called":
        from tools.validation import json_mismatch

        mismatch = ""
        for call in played.tool_calls:
            if call.name == check["name"] and all(
                    str(value).lower() in str(call.arguments.get(key, "")).lower()
                    for key, value in (check.get("arguments") or {}).items()):
                problem = json_mismatch(check["schema"], call.arguments) \
                    if "schema" in check else None
                if problem is None:
                    return True, ""
                mismatch = f"; its arguments do not match the schema: {problem}"
        seen = ", ".join(f"{c.name}({c.arguments})" for c in played.tool_calls) or "none"
        return False, f"{check['name']} was not called as expected (calls: {seen}){mismatch}"
    if kind == "ends_call":
        return played.ended, "" if played.ended else "the agent did not end the call"
    if kind == "transfers":
        return played.transferred, "" if played.transferred else "the agent did not transfer"
    if kind in ANALYSED:
        return _judge_analysis(check, played.analysis)
    if kind == "max_latency_ms":
        slowest = max(played.latencies_ms, default=0)
        ok = slowest <= check["ms"]
        return ok, "" if ok else f"an answer took {slowest} ms, more than {check['ms']} ms"
    ok = played.caller_turns <= check["turns"]
    return ok, "" if ok else f"{played.caller_turns} caller turns, more than {check['turns']}"


def _judge_analysis(check: dict[str, Any], analysis) -> tuple[bool, str]:
    if analysis is None:
        return False, "the conversation was not analysed"
    if check["type"] == "succeeds":
        ok = analysis.success is True
        return ok, "" if ok else f"not a success: {analysis.success_reason or 'no verdict'}"
    missing = [f"{name} ({analysis.extracted.get(name, 'not extracted')})"
               for name, wanted in check["fields"].items()
               if str(wanted).lower() not in str(analysis.extracted.get(name, "")).lower()]
    problem = f" ({analysis.extraction_error})" if analysis.extraction_error else ""
    return not missing, "" if not missing else f"extracted otherwise: {', '.join(missing)}{problem}"


def analysed(scenario, played: Played, agent, *, record=None) -> Played:
    """`played` with the post-call analysis of its conversation when a check needs it: of
    `record` (a stored call's), else of the played transcript. `agent`'s analysis settings and
    analyser, as its calls are analysed (they are not part of a version: they read calls)."""
    from learning.analysers import analyse
    from learning.record import CallRecord, ToolRun

    if not any(check["type"] in ANALYSED for check in scenario.checks):
        return played
    record = record or CallRecord(
        call_id=0, agent_name=agent.name,
        outcome="agent_ended" if played.ended else "caller_hung_up", duration_seconds=None,
        turns=list(played.transcript),
        tools=[ToolRun(name=c.name, arguments=c.arguments, succeeded=True)
               for c in played.tool_calls],
        success_criteria=agent.success_criteria, extraction_schema=agent.extraction_schema)
    played.analysis, _ = analyse(agent, record)
    return played


def suite_run(*, agent: Agent, version: AgentVersion) -> dict[str, Any]:
    """Run the agent's scenarios against `version` (sync: a Celery task, a command, a request)."""
    from agents.versions import runnable

    frozen = runnable(version, agent)
    results: list[dict[str, Any]] = []
    started = time.monotonic()
    for scenario in agent.eval_scenarios.order_by("id"):
        scenario_started = time.monotonic()
        played = analysed(scenario, play_lines(agent, frozen, list(scenario.caller_lines)
                                               or driver_for(scenario, frozen.agent)), agent)
        results.append(scenario_result(
            scenario, played, latency_ms=round((time.monotonic() - scenario_started) * 1000)))
    return {"results": results, "duration_ms": round((time.monotonic() - started) * 1000)}


def scenario_result(scenario, played: Played, **measured: Any) -> dict[str, Any]:
    """One scenario's entry in an EvalRun's results: each check judged, what the agent said
    and did, and `measured` (its time; in audio mode the call and the greeting's delay)."""
    checks = [{"check": check, "passed": ok, "detail": detail}
              for check in scenario.checks for ok, detail in [judge(check, played)]]
    return {"scenario": scenario.name, "scenario_id": scenario.pk,
            "passed": all(c["passed"] for c in checks), "checks": checks,
            "caller_lines": played.caller_lines, "replies": played.replies,
            "tool_calls": [{"name": c.name, "arguments": c.arguments}
                           for c in played.tool_calls],
            "answer_ms": played.latencies_ms, "cost_usd": round(played.cost_usd, 6),
            **measured}


def play_lines(agent: Agent, frozen, lines: list[str] | CallerDriver) -> Played:
    """`lines` (or a simulated caller) said to a fresh call of the version `frozen`
    (agents.versions.runnable) runs: its brain, knowledge, documents, tools and call control
    (sync; one event loop each)."""
    from asgiref.sync import sync_to_async

    from calls.realtime.agent_providers import llm_for_agent

    conversation = Conversation(
        system_prompt=frozen.agent.system_prompt, knowledge=frozen.knowledge,
        tools=with_call_control(frozen.tools, llm_provider=frozen.agent.llm_provider),
        language=frozen.agent.language, business_hours=frozen.agent.business_hours,
        timezone=frozen.agent.timezone)
    brain = _offline() if frozen.agent.llm_provider == "offline" else llm_for_agent(frozen.agent)
    if isinstance(lines, CallerDriver):  # its lines are known as it says them
        async def passages_for(line: str) -> list[str]:
            found = await sync_to_async(_passages)(agent, frozen.document_ids, [line])
            return found.get(line, [])

        return asyncio.run(_play_and_close(
            brain, conversation, lines, priced_as=frozen.agent.llm_provider,
            greeting=frozen.agent.greeting, passages_for=passages_for))
    return asyncio.run(_play_and_close(
        brain, conversation, lines, priced_as=frozen.agent.llm_provider,
        passages=_passages(agent, frozen.document_ids, lines)))


async def _play_and_close(llm: LLMProvider, conversation: Conversation,
                          caller: list[str] | CallerDriver, **options: Any) -> Played:
    try:
        return await play(llm, conversation, caller, **options)
    finally:
        for closing in (llm, caller):
            close = getattr(closing, "aclose", None)
            if close is not None:
                await close()


def _passages(agent: Agent, document_ids: list[int], lines: list[str]) -> dict[str, list[str]]:
    """What the version's documents say about each caller line, as a call would find it."""
    from agents.knowledge_search import knowledge_search
    from calls.realtime.knowledge import passage_text

    if not document_ids:
        return {}
    return {line: [passage_text(p) for p in knowledge_search(
        tenant_id=agent.tenant_id, document_ids=document_ids, query=line)] for line in lines}


def _offline() -> LLMProvider:
    from calls.realtime.providers.llm.offline import OfflineBrain

    return OfflineBrain()


def evaluation_gate(agent: Agent, snapshot: dict[str, Any]) -> None:
    """agents.versions' publish gate: a draft that fails its agent's suite is not published."""
    from agents.gates import EvaluationFailed

    if not agent.eval_scenarios.exists():
        return
    outcome = suite_run(agent=agent, version=AgentVersion(snapshot=snapshot))
    failed = [r for r in outcome["results"] if not r["passed"]]
    if failed:
        reasons = "; ".join(f"{r['scenario']}: " + ", ".join(
            c["detail"] for c in r["checks"] if not c["passed"]) for r in failed[:3])
        raise EvaluationFailed(
            f"The draft fails {len(failed)} of its evaluation scenarios ({reasons}). Fix the "
            "draft, or an owner may publish anyway.",
            extra={"failed": [r["scenario"] for r in failed]})
