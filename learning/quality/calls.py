"""The demo agents' scenarios as real phone calls: each scenario's caller lines spoken (hibari
voice, 8 kHz µ-law) by the call simulator over Twilio's webhook and media stream to a running
server, then judged by the suite's checks on what the server stored — task completion through
the whole media pipeline, with the greeting and answer latencies the caller lived through."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from agents.demo_agents import DemoAgent
from calls.models import Call, Role
from calls.realtime.providers.llm.base import ToolCall
from calls.simulator.caller import ScriptedCaller, parse_script
from calls.simulator.phone import TwilioPhone
from learning.evaluation import Played, judge

# Each scenario calls from its own number: no caller is remembered or resumed from another.
_CALLERS = (f"+1555020{n:04d}" for n in itertools.count())
STORED_WAIT_S = 15.0
# The callers' voice speaks each line the same way every run (as the speech sets' `phone_band`
# does): unseeded, hibari's fresh noise alone changed a line's words from one run to the next.
CALLER_VOICE_SEED = 0


@dataclass
class ScenarioCall:
    agent: str
    scenario: str
    passed: bool
    failures: list[str] = field(default_factory=list)
    greeting_ms: int | None = None
    answer_ms: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"agent": self.agent, "scenario": self.scenario, "passed": self.passed,
                "failures": self.failures, "greeting_ms": self.greeting_ms,
                "answer_ms": self.answer_ms}


async def call_scenarios(base_url: str, demo: DemoAgent, number: str) -> list[ScenarioCall]:
    results = []
    for scenario in demo.scenarios:
        phone = TwilioPhone(base_url, settings.TWILIO_AUTH_TOKEN, public_base_url=base_url)
        caller = ScriptedCaller(phone, to=number, from_=next(_CALLERS), transcriber=None,
                                turn_timeout_s=20, printer=lambda line: None,
                                tts_seed=CALLER_VOICE_SEED)
        report = await caller.run(parse_script(list(scenario["caller_lines"])))
        played = await asyncio.to_thread(_played, report.call_sid)
        failures = [detail for check in scenario["checks"]
                    for ok, detail in [judge(check, played)] if not ok]
        results.append(ScenarioCall(demo.key, scenario["name"], not failures, failures,
                                    report.greeting_ms, report.latencies_ms))
    return results


def _played(call_sid: str) -> Played:
    """What the server stored of the call, as the suite's checks read it (once it has ended)."""
    deadline = time.monotonic() + STORED_WAIT_S
    call = Call.objects.filter(call_sid=call_sid).first()
    while (call is None or not call.outcome) and time.monotonic() < deadline:
        time.sleep(0.2)
        call = Call.objects.filter(call_sid=call_sid).first()
    if call is None:
        return Played()
    turns = list(call.turns.order_by("index"))
    return Played(
        replies=[t.text for t in turns if t.role == Role.AGENT],
        tool_calls=[ToolCall(id=str(run.id), name=run.tool_name, arguments=run.arguments or {})
                    for run in call.tool_executions.order_by("id")],
        ended=call.outcome == "agent_ended", transferred=call.outcome == "transferred",
        caller_turns=sum(1 for t in turns if t.role == Role.CALLER))
