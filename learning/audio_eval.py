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
from calls.simulator.caller import ScriptedCaller, Step
from learning.evaluation import ANALYSED, Played, scenario_result
from learning.simulated_caller import MAX_CALLER_TURNS, CallerDriver, driver_for

# One call at a time: the run measures the agent's latency and hearing, which calls sharing a
# worker's cores would distort (and a recogniser fed late frames hears worse).
SCENARIOS_AT_ONCE = 1
TURN_TIMEOUT_S = 20.0
POLL_S = 0.05
SETTLE_S = 0.8  # the agent silent this long after its saved turn: its answer is over
ACCOUNT_SID = "AC" + "0" * 32  # no Twilio account: the call never leaves this process


def suite_run_audio(*, agent: Agent, version: AgentVersion) -> dict[str, Any]:
    """Every scenario of the agent's suite as a call to `version` (sync: a task or a command)."""
    scenarios = list(agent.eval_scenarios.order_by("id"))
    agent.tenant  # noqa: B018 - read here, in sync code: the calls start from the event loop
    # Simulated callers are built here too: their model's credentials are read from the database.
    as_versioned = version_agent(version, agent)
    callers = {scenario.pk: SimulatedPhoneCaller(driver_for(scenario, as_versioned))
               for scenario in scenarios if not scenario.caller_lines}
    started = time.monotonic()
    results = asyncio.run(_all(agent, version, scenarios, callers))
    return {"results": results, "duration_ms": round((time.monotonic() - started) * 1000)}


async def _all(agent: Agent, version: AgentVersion, scenarios: list,
               callers: dict[int, SimulatedPhoneCaller]) -> list[dict[str, Any]]:
    at_once = asyncio.Semaphore(SCENARIOS_AT_ONCE)

    async def one(scenario) -> dict[str, Any]:
        async with at_once:
            return await play_scenario(agent, version, scenario,
                                       simulated=callers.get(scenario.pk))

    return list(await asyncio.gather(*(one(scenario) for scenario in scenarios)))


async def play_scenario(agent: Agent, version: AgentVersion, scenario,
                        simulated: SimulatedPhoneCaller | None = None) -> dict[str, Any]:
    """One scenario as a call — its lines, or `simulated` answering what it hears; its result
    entry (scenario_result) with the call's id."""
    from calls.simulator.caller import parse_script

    started = time.monotonic()
    if scenario.caller_lines:
        call_id, report, played = await play_call(agent, version, parse_script(
            list(scenario.caller_lines)))
        played.caller_lines = list(scenario.caller_lines)
    else:
        assert simulated is not None, "a scenario without lines has a simulated caller"
        try:
            call_id, report, played = await play_call(agent, version, [], caller=simulated)
        finally:
            await simulated.driver.aclose()
        played.caller_lines = simulated.said
    played = await database_sync_to_async(_with_analysis)(scenario, played, call_id, agent)
    return scenario_result(scenario, played, call_id=call_id, greeting_ms=report.greeting_ms,
                           latency_ms=round((time.monotonic() - started) * 1000))


def _with_analysis(scenario, played: Played, call_id: int, agent: Agent) -> Played:
    """The call's post-call analysis, when a check reads it (as the agent's calls are)."""
    from learning.evaluation import analysed
    from learning.record import call_record

    if not any(check["type"] in ANALYSED for check in scenario.checks):
        return played
    return analysed(scenario, played, agent, record=call_record(Call.objects.get(pk=call_id)))


class SimulatedPhoneCaller(ScriptedCaller):
    """A simulated caller on a phone call: it hears the agent's words (as the call saves each
    agent turn: calls/eval_calls.py) and says what its driver answers, until it is done."""

    def __init__(self, driver: CallerDriver) -> None:
        super().__init__(None, to="", from_="", transcriber=None,
                         turn_timeout_s=TURN_TIMEOUT_S, printer=lambda line: None)
        self.driver = driver
        self.said: list[str] = []
        self.agent_said: list[str] = []  # filled by the call
        self._heard = 0

    async def _talk(self, peer, report, steps) -> None:
        for _turn in range(MAX_CALLER_TURNS):
            if peer.closed.is_set():
                return
            line = await self.driver.next_line(await self._heard_since_caller(peer))
            if line is None:
                return
            self.said.append(line)
            await self._step(peer, report, Step("say", text=line), barge_next=False)

    async def _heard_since_caller(self, peer) -> str:
        """The agent's words since the caller last spoke: once its turn is saved (as its last
        audio plays), and once it has stopped — an answer may come as a filler, then the
        result, and a busy machine leaves gaps between clauses."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TURN_TIMEOUT_S
        while (len(self.agent_said) <= self._heard and not peer.closed.is_set()
               and loop.time() < deadline):
            await asyncio.sleep(POLL_S)
        seen, quiet_since = len(self.agent_said), loop.time()
        while loop.time() - quiet_since < SETTLE_S and loop.time() < deadline:
            await asyncio.sleep(POLL_S)
            if peer.agent_speaking or len(self.agent_said) != seen:
                seen, quiet_since = len(self.agent_said), loop.time()
        heard, self._heard = self.agent_said[self._heard:], len(self.agent_said)
        return " ".join(heard)


def version_agent(version: AgentVersion, agent: Agent):
    """The agent as `version` has it (its provider decides who plays a simulated caller)."""
    from agents.versions import runnable

    return runnable(version, agent).agent




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
    agent_said = caller.agent_said if isinstance(caller, SimulatedPhoneCaller) else []
    socket = InProcessSocket(EvalStreamConsumer.as_asgi(), eval_scope(tool_calls, agent_said))
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
