"""Replay: past calls' caller turns said again to a candidate version, and where it would act
differently from what happened — another tool (or none), another ending, longer answers.

Text mode (`learning.evaluation.play_lines`): the caller's words as stored (redacted: a name or a
number reads as `[NAME]`, `[PHONE]`), the version's own brain, knowledge, documents, tools and
call control; tools are recorded, not run. What happened comes from the call's record: the
tools its agent called (the `tool_calls` events, built-ins included), its outcome and its
answers. Audio mode, with the caller's recorded voice through the media pipeline, is
learning/audio_replay.py.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from calls.models import TEST_DIRECTIONS, Call, CallEvent, Outcome, Role
from calls.realtime.call_control import BUILT_IN_TOOLS, TRANSFER_CALL

MAX_CALLS = 50
RECENT_CALLS = 10
LONGER = 1.5  # answers this many times as long as the originals count as longer
# Call control compared by its effect (ended, transferred) — an offline brain hangs up without a
# tool call — or not at all (memory): the comparison is of the agent's own tools.
CALL_CONTROL = BUILT_IN_TOOLS | {TRANSFER_CALL}


@dataclass(frozen=True)
class Behaviour:
    tools: list[str]
    ended: bool
    transferred: bool
    answer_chars: int


@dataclass(frozen=True)
class CallReplay:
    call_id: int
    caller_turns: int
    original: Behaviour
    replayed: Behaviour
    differences: list[str] = field(default_factory=list)
    mode: str = "text"  # "audio": the call's recorded caller audio (learning/audio_replay.py)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def replay_calls(*, agent, version, calls: list[Call]) -> list[CallReplay]:
    """Each call (of `agent`) replayed against `version` (an AgentVersion, or a draft snapshot)."""
    from agents.versions import runnable
    from learning.evaluation import play_lines

    frozen = runnable(version, agent)
    replays = []
    for call in calls[:MAX_CALLS]:
        turns = list(call.turns.order_by("index").values_list("role", "text"))
        lines = [text for role, text in turns if role == Role.CALLER and text.strip()]
        original = what_happened(call, turns)
        played = play_lines(agent, frozen, lines) if lines else None
        replayed = Behaviour(
            tools=[c.name for c in played.tool_calls if c.name not in CALL_CONTROL]
            if played else [],
            ended=bool(played and played.ended),
            transferred=bool(played and played.transferred),
            answer_chars=sum(len(reply) for reply in played.replies) if played else 0)
        replays.append(CallReplay(call_id=call.pk, caller_turns=len(lines), original=original,
                                  replayed=replayed,
                                  differences=behaviour_differences(original, replayed)))
    return replays


def what_happened(call: Call, turns: list[tuple[str, str]]) -> Behaviour:
    tools = [entry.get("name", "") for payload in CallEvent.objects.filter(
        tenant_id=call.tenant_id, call=call, type="tool_calls").order_by("id")
        .values_list("payload", flat=True) for entry in (payload or {}).get("calls", [])
        if entry.get("name") not in CALL_CONTROL]
    # Answers: the agent's turns after the first caller turn (not the greeting or disclosure).
    answers, heard_caller = 0, False
    for role, text in turns:
        heard_caller = heard_caller or role == Role.CALLER
        if role == Role.AGENT and heard_caller:
            answers += len(text)
    return Behaviour(tools=tools, ended=call.outcome == Outcome.AGENT_ENDED,
                     transferred=call.outcome == Outcome.TRANSFERRED, answer_chars=answers)


def behaviour_differences(original: Behaviour, replayed: Behaviour) -> list[str]:
    found = []
    if original.tools != replayed.tools:
        found.append(f"tools: {', '.join(original.tools) or 'none'} → "
                     f"{', '.join(replayed.tools) or 'none'}")
    for name, before, after in (("ends the call", original.ended, replayed.ended),
                                ("transfers", original.transferred, replayed.transferred)):
        if before != after:
            found.append(f"{'now' if after else 'no longer'} {name}")
    if original.answer_chars and replayed.answer_chars > LONGER * original.answer_chars:
        found.append(f"longer answers: {replayed.answer_chars} characters instead of "
                     f"{original.answer_chars}")
    return found


def replay_gate(agent, snapshot: dict[str, Any]) -> None:
    """agents.versions' publish gate: the draft replays the agent's recent calls; if it acts
    differently from what happened on more of them than the published version does, by more
    than REPLAY_GATE_MAX_REGRESSION_PCT, it is not published. Measured against the published
    version's own replay of the same calls, so what text mode cannot reproduce (a recogniser's
    slip, a caller's redacted name) does not count against the draft."""
    from django.conf import settings

    from agents.gates import EvaluationFailed
    from agents.models import AgentVersion

    if agent.published_version_id is None or settings.REPLAY_GATE_CALLS <= 0:
        return  # nothing to compare with: the first version is judged by its suite
    calls = list(Call.objects.filter(tenant_id=agent.tenant_id, agent=agent)
                 .exclude(outcome="").exclude(direction__in=TEST_DIRECTIONS)
                 .order_by("-started_at", "-id")[:settings.REPLAY_GATE_CALLS])
    if len(calls) < settings.REPLAY_GATE_MIN_CALLS:
        return
    draft = {r.call_id: r for r in replay_calls(
        agent=agent, version=AgentVersion(snapshot=snapshot), calls=calls)}
    published = {r.call_id: r for r in replay_calls(
        agent=agent, version=agent.published_version, calls=calls)}
    worse = [call_id for call_id, replay in draft.items()
             if replay.differences and not published[call_id].differences]
    better = [call_id for call_id, replay in draft.items()
              if published[call_id].differences and not replay.differences]
    regression_pct = 100.0 * (len(worse) - len(better)) / len(calls)
    if regression_pct > settings.REPLAY_GATE_MAX_REGRESSION_PCT:
        examples = "; ".join(f"call {call_id}: {', '.join(draft[call_id].differences)}"
                             for call_id in worse[:3])
        raise EvaluationFailed(
            f"Replayed on the agent's last {len(calls)} calls, the draft acts differently from "
            f"what happened on {len(worse)} the published version handles as it happened "
            f"({regression_pct:.0f} % net, more than "
            f"{settings.REPLAY_GATE_MAX_REGRESSION_PCT:g} %): {examples}. Fix the draft, or an "
            "owner may publish anyway.",
            extra={"replay_regressions": worse, "replay_improvements": better})
