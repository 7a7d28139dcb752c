"""Who speaks for the caller in an evaluation scenario: fixed lines, or a simulated caller with a
persona and a goal who answers what the agent says.

- `FixedLines`: the scenario's `caller_lines`, one per turn, whatever the agent said.
- `ScriptedBranches` (offline, and any agent without a cloud model): the branch without a
  `when` opens; after each agent turn the first unused branch whose `when` text is in the
  agent's words (any case) is said; none: the caller is done and hangs up.
- `ModelCaller` (an agent on a cloud model): the agent's own model plays the caller from the
  persona and goal, one line per turn, `[DONE]` when the goal is met or cannot be.

The same driver serves text mode (the agent's replies as text) and audio mode (the agent's
speech transcribed by the simulator's offline recogniser).
"""

from __future__ import annotations

import re
from typing import Any

from calls.realtime.providers.llm.base import Conversation, LLMProvider, Message, TextDelta

MAX_CALLER_TURNS = 12
MAX_BRANCHES = 20
DONE = "[DONE]"
CALLER_INSTRUCTIONS = """You play a caller phoning a business's voice agent, to test it.
Persona: {persona}
Your goal: {goal}
Each message you get is what the agent just said. Answer with the caller's next words only:
one or two short spoken sentences, no stage directions. When your goal is met, or the agent
clearly cannot meet it, answer exactly {done}."""


class CallerDriver:
    """The caller's next line after the agent said `agent_said` (the greeting before the
    first); None when the caller is done."""

    async def next_line(self, agent_said: str) -> str | None:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


class FixedLines(CallerDriver):
    def __init__(self, lines: list[str]) -> None:
        self._lines = list(lines)

    async def next_line(self, agent_said: str) -> str | None:
        return self._lines.pop(0) if self._lines else None


class ScriptedBranches(CallerDriver):
    def __init__(self, branches: list[dict[str, str]]) -> None:
        self._opening = next((b["say"] for b in branches if not b.get("when")), None)
        self._waiting = [b for b in branches if b.get("when")]

    async def next_line(self, agent_said: str) -> str | None:
        if self._opening is not None:
            line, self._opening = self._opening, None
            return line
        heard = _words(agent_said)
        for branch in self._waiting:
            if _words(branch["when"]) in heard:
                self._waiting.remove(branch)
                return branch["say"]
        return None


class ModelCaller(CallerDriver):
    def __init__(self, llm: LLMProvider, *, persona: str, goal: str) -> None:
        self._llm = llm
        self._conversation = Conversation(system_prompt=CALLER_INSTRUCTIONS.format(
            persona=persona or "an ordinary caller", goal=goal, done=DONE))

    async def next_line(self, agent_said: str) -> str | None:
        # The agent's words are the "user" turns of the caller's own conversation.
        self._conversation.messages.append(Message(role="user", text=agent_said or "(silence)"))
        parts = [event.text async for event in self._llm.respond(self._conversation)
                 if isinstance(event, TextDelta)]
        line = " ".join("".join(parts).split()).strip().strip('"')
        self._conversation.messages.append(Message(role="assistant", text=line))
        return None if not line or DONE in line.upper() else line[:500]

    async def aclose(self) -> None:
        close = getattr(self._llm, "aclose", None)
        if close is not None:
            await close()


def driver_for(scenario, agent) -> CallerDriver:
    """The scenario's caller: its lines, else the agent's cloud model (when it has one) or the
    scripted branches playing its persona."""
    from learning.llm import CLOUD_MODELS

    if scenario.caller_lines:
        return FixedLines(list(scenario.caller_lines))
    if agent.llm_provider in CLOUD_MODELS:
        from calls.realtime.agent_providers import llm_for_agent

        return ModelCaller(llm_for_agent(agent), persona=scenario.persona, goal=scenario.goal)
    return ScriptedBranches(list(scenario.branches))


def simulated_problem(caller_lines: Any, persona: Any, goal: Any, branches: Any) -> dict:
    """Why a scenario's caller cannot be played (per field), or {}: fixed lines, or a goal
    (with branches for offline runs, each {"when", "say"}, one without "when" to open)."""
    errors: dict[str, list[str]] = {}
    for field, value in (("persona", persona), ("goal", goal)):
        if not isinstance(value, str) or len(value) > 500:
            errors[field] = ["Text of at most 500 characters."]
    if errors or caller_lines:
        return errors
    if not goal.strip():
        errors["goal"] = ["Give caller lines, or a goal for a simulated caller."]
    if not isinstance(branches, list) or len(branches) > MAX_BRANCHES or not all(
            isinstance(b, dict) and set(b) <= {"when", "say"}
            and isinstance(b.get("say"), str) and 0 < len(b["say"].strip()) <= 500
            and isinstance(b.get("when", ""), str) and len(b.get("when", "")) <= 200
            for b in branches):
        errors["branches"] = [f"At most {MAX_BRANCHES} objects {{\"when\", \"say\"}} (say: 1–500 "
                              "characters)."]
    elif branches and sum(1 for b in branches if not b.get("when")) != 1:
        errors["branches"] = ["Exactly one branch without \"when\": the caller's opening line."]
    return errors


def _words(text: str) -> str:
    return " " + " ".join(re.findall(r"[a-z0-9']+", text.lower())) + " "
