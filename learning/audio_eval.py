"""Evaluation suites in audio mode: each scenario played as a phone call through the real media
pipeline, in this process (calls/eval_calls.py) — the caller's lines spoken by the call
simulator (hibari voice, 8 kHz µ-law, in real time; `dtmf:`, `wait:` and `barge:` lines as in
its scripts), heard by the version's own recogniser, answered by its brain, spoken by its voice
and paced back like Twilio plays it. The checks are text mode's (learning/evaluation.py), judged
on what the call stored and the tools it asked for; answer latency is what the caller waited.

Each scenario's call is kept (direction `eval`: its transcript is readable from the run) and
left out of dashboards, alerts, rollouts, learning and the improvement metric. A run takes real
time — the length of its conversations — so the API hands it to a worker.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from channels.db import database_sync_to_async

from agents.models import Agent, AgentVersion
from calls.models import Call, Outcome, Role
from calls.realtime.call_control import END_CALL, TRANSFER_CALL
from calls.realtime.providers.llm.base import ToolCall
from learning.evaluation import Played, scenario_result

SCENARIOS_AT_ONCE = 3
TURN_TIMEOUT_S = 20.0
ACCOUNT_SID = "AC" + "0" * 32  # no Twilio account: the call never leaves this process


def suite_run_audio(*, agent: Agent, version: AgentVersion) -> dict[str, Any]:
    """Every scenario of the agent's suite as a call to `version` (sync: a task or a command)."""
    scenarios = list(agent.eval_scenarios.order_by("id"))
    agent.tenant  # noqa: B018 - read here, in sync code: the calls start from the event loop
    started = time.monotonic()
    results = asyncio.run(_all(agent, version, scenarios))
    return {"results": results, "duration_ms": round((time.monotonic() - started) * 1000)}


async def _all(agent: Agent, version: AgentVersion, scenarios: list) -> list[dict[str, Any]]:
    at_once = asyncio.Semaphore(SCENARIOS_AT_ONCE)

    async def one(scenario) -> dict[str, Any]:
        async with at_once:
            return await play_scenario(agent, version, scenario)

    return list(await asyncio.gather(*(one(scenario) for scenario in scenarios)))


async def play_scenario(agent: Agent, version: AgentVersion, scenario) -> dict[str, Any]:
    """One scenario as a call; its result entry (scenario_result) with the call's id."""
    from calls.simulator.caller import parse_script

    started = time.monotonic()
    call_id, report, played = await play_call(agent, version, parse_script(
        list(scenario.caller_lines)))
    return scenario_result(scenario, played, call_id=call_id, greeting_ms=report.greeting_ms,
                           latency_ms=round((time.monotonic() - started) * 1000))


async def play_call(agent: Agent, version: AgentVersion, steps: list, *,
                    caller=None) -> tuple[int, Any, Played]:
    """`steps` (calls.simulator.caller) said by `caller` (a ScriptedCaller speaking them with
    the hibari voice by default) on a new evaluation call to `version`: the call's id, the
    caller's report and what the call did."""
    from calls.eval_calls import EvalStreamConsumer, InProcessSocket, eval_scope
    from calls.services import call_start_eval
    from calls.simulator.caller import ScriptedCaller
    from calls.simulator.phone import MediaStreamPeer, StreamInfo, new_sid
    from calls.twilio import STREAM_TOKEN_PARAMETER, stream_token_issue

    call = await database_sync_to_async(call_start_eval)(tenant=agent.tenant, agent=agent,
                                                         version=version)
    tool_calls: list[ToolCall] = []
    socket = InProcessSocket(EvalStreamConsumer.as_asgi(), eval_scope(tool_calls))
    info = StreamInfo(call_sid=call.call_sid, account_sid=ACCOUNT_SID, url="", twiml="",
                      parameters={STREAM_TOKEN_PARAMETER: stream_token_issue(
                          call_id=call.pk, tenant_id=call.tenant_id)})
    caller = caller or ScriptedCaller(None, to="", from_="", transcriber=None,
                                      turn_timeout_s=TURN_TIMEOUT_S, printer=lambda line: None)
    try:
        await socket.open()
        report = await caller.converse(MediaStreamPeer(socket, info, stream_sid=new_sid("MZ")),
                                       steps)
    finally:
        await socket.finished()
    played = await database_sync_to_async(_played)(call.pk, tool_calls)
    played.latencies_ms = list(report.latencies_ms)
    return call.pk, report, played


def _played(call_id: int, tool_calls: list[ToolCall]) -> Played:
    """What the call stored, as the checks read it."""
    call = Call.objects.get(pk=call_id)
    turns = list(call.turns.order_by("index").values_list("role", "text"))
    total = (call.cost or {}).get("total_usd")
    return Played(
        cost_usd=float(total) if isinstance(total, int | float) else 0.0,
        replies=[text for role, text in turns if role == Role.AGENT],
        tool_calls=list(tool_calls),
        ended=call.outcome == Outcome.AGENT_ENDED or any(c.name == END_CALL for c in tool_calls),
        transferred=call.outcome == Outcome.TRANSFERRED
        or any(c.name == TRANSFER_CALL for c in tool_calls),
        caller_turns=sum(1 for role, _ in turns if role == Role.CALLER))
