"""What else the learning job reads in analysed calls (learning/suggestions.py upserts each
finding as a suggestion with its evidence):

- **Tasks that failed, and at which step**: calls the post-call analysis judged unsuccessful
  that stopped while the agent was asking something (its last words a question), grouped by
  why (the analysis's reason) and that question: the step where callers give up. A step
  reached on MIN_CALLS calls or more proposes a *prompt addition* — the agent's cloud model
  drafts it from the evidence; offline the member writes it — which accepting appends to the
  draft's instructions.
- **Actions the agent lacks**: what callers ask it to do ("cancel my appointment") that none
  of its tools does, per action: add a tool.
- **Slow answers**: agent turns whose first audio came more than SLOW_ANSWER_MS after the caller
  stopped, on MIN_CALLS calls or more, with the stage that took the time (waiting for the end of
  the caller's turn, the model's first words, the voice's first audio). When it is the wait, the
  suggestion is a *turn-taking change* that accepting applies to the draft (a shorter end-of-turn
  silence); otherwise it says which stage to look at.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import defaultdict
from statistics import median

from calls.models import Role, Turn
from learning.models import CallAnalysis

logger = logging.getLogger(__name__)

MIN_CALLS = 2
MAX_QUOTES = 50
SLOW_ANSWER_MS = 1500
# A turn-taking change never goes below this end-of-turn silence: shorter cuts callers off.
MIN_END_OF_TURN_MS = 400
END_OF_TURN_STEP_MS = 200
STEP_CHARS = 120
PROMPT_INSTRUCTIONS = """You improve a phone voice agent's instructions. You get its instructions,
why some of its calls failed and the agent's last words before those callers left. Write one or
two sentences to add to the instructions so that the agent handles that moment better. Only
the sentences, no preamble. Never invent facts, prices or policies."""


def failed_tasks(tenant, agent, call_ids: list[int], *, explained: set[int]) -> list[dict]:
    """Findings (learning/suggestions.py `_upsert` arguments) for failed tasks, by step. Calls
    in `explained` are left out: a question the agent had no answer for is a knowledge entry's
    evidence, not a prompt's."""
    groups: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    failed = CallAnalysis.objects.filter(tenant=tenant, call_id__in=call_ids,
                                         success=False).exclude(call_id__in=explained)
    for call_id, reason in failed.values_list("call_id", "success_reason"):
        turns = list(Turn.objects.filter(tenant=tenant, call_id=call_id).order_by("-index")
                     .values_list("role", "text")[:6])
        step = next((text for role, text in turns if role == Role.AGENT and text.strip()), "")
        if not step.rstrip().endswith("?"):
            continue  # the agent was not waiting for anything: no step of a task stalled here
        said = next((text for role, text in turns if role == Role.CALLER and text.strip()), "")
        key = (reason.strip() or "The task did not succeed.", _short(step))
        if len(groups[key]) < MAX_QUOTES:
            groups[key].append((call_id, said or "(the caller said nothing)"))
    findings = []
    for (reason, step), quotes in groups.items():
        calls = {call for call, _ in quotes}
        if len(calls) < MIN_CALLS:
            continue
        where = f" after the agent asked “{step}”"
        findings.append({
            "fingerprint": _fingerprint(f"failed|{reason}|{step}"),
            "title": f"{len(calls)} calls failed{where}: {reason}",
            "proposal": {"reason": reason, "step": step,
                         **_prompt_addition(agent, reason, step, quotes)},
            "quotes": quotes,
            "effect": "Callers who reach this step leave without what they came for; an "
                      "instruction for this moment (tried on the evaluation suite and replay "
                      "before it is published) lets the agent handle it."})
    return findings


def slow_answers(tenant, agent, call_ids: list[int]) -> list[dict]:
    """A finding when answers are slow on several calls, with the stage that took the time."""
    slow = list(Turn.objects.filter(tenant=tenant, call_id__in=call_ids, role=Role.AGENT,
                                    first_frame_ms__gt=SLOW_ANSWER_MS)
                .values_list("call_id", "first_frame_ms", "stt_final_ms", "llm_first_token_ms",
                             "tts_first_audio_ms")[:1000])
    calls = {row[0] for row in slow}
    if len(calls) < MIN_CALLS:
        return []
    stages = {"waiting for the caller to finish": [], "the model's first words": [],
              "the voice's first audio": []}
    for _, _, stt, llm, tts in slow:
        if stt is not None:
            stages["waiting for the caller to finish"].append(stt)
        if llm is not None and stt is not None:
            stages["the model's first words"].append(llm - stt)
        if tts is not None and llm is not None:
            stages["the voice's first audio"].append(tts - llm)
    medians = {name: median(values) for name, values in stages.items() if values}
    stage = max(medians, key=medians.get) if medians else ""
    typical = round(median(row[1] for row in slow))
    proposal: dict = {"stage": stage, "median_ms": typical,
                      "stage_ms": {name: round(ms) for name, ms in medians.items()}}
    effect = f"Most of the time went to {stage}." if stage else ""
    current = agent.end_of_turn_silence_ms
    if stage == "waiting for the caller to finish" and current > MIN_END_OF_TURN_MS:
        shorter = max(MIN_END_OF_TURN_MS, current - END_OF_TURN_STEP_MS)
        proposal["end_of_turn_silence_ms"] = shorter
        effect += (f" Waiting {shorter} ms of silence instead of {current} ms answers sooner; "
                   "check on the evaluation suite that callers who pause are not cut off.")
    elif stage == "the model's first words":
        effect += (" A faster model for simple turns (automatic model selection) or shorter "
                   "instructions answer sooner.")
    elif stage:
        effect += " A faster voice, or shorter first sentences, answer sooner."
    return [{
        "fingerprint": _fingerprint(f"slow|{stage}"),
        "title": f"Slow answers on {len(calls)} calls: typically {typical} ms after the caller "
                 "stopped",
        "proposal": proposal,
        "quotes": [(call_id, f"{first_frame} ms to the first audio")
                   for call_id, first_frame, *_ in slow[:MAX_QUOTES]],
        "effect": effect}]


# What callers ask the agent to do, by the verb that names it (nouns alone say nothing new:
# "appointment" is a booking); call control (transfer) is every agent's.
ACTION_VERBS = re.compile(r"\b(book|schedule|reserve|cancel|reschedul\w*|change|move|order|buy|"
                          r"pay|refund|reset|send|update|sign\s?up|register)\b")


def missing_actions(tenant, agent, call_ids: list[int]) -> list[dict]:
    """Findings for things callers ask the agent to do that none of its tools does — no tool
    names the action in its name, description or trigger phrases — per action, on MIN_CALLS
    calls."""
    from tools.selectors import tools_for_agent

    tools_say = " ".join(
        f"{t.name.replace('_', ' ')} {t.description} {' '.join(t.trigger_phrases or [])}"
        for t in tools_for_agent(tenant_id=tenant.pk, agent_id=agent.pk)).lower()
    done_by_tools = {_action(match) for match in ACTION_VERBS.findall(tools_say)}
    asked: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for call_id, said in Turn.objects.filter(tenant=tenant, call_id__in=call_ids,
                                             role=Role.CALLER).values_list("call_id", "text"):
        verb = ACTION_VERBS.search(said.lower())
        action = _action(verb.group(1)) if verb else ""
        if action and action not in done_by_tools and len(asked[action]) < MAX_QUOTES:
            asked[action].append((call_id, said))
    findings = []
    for action, quotes in asked.items():
        calls = {call for call, _ in quotes}
        if len(calls) < MIN_CALLS:
            continue
        findings.append({
            "fingerprint": _fingerprint(f"action|{action}"),
            "title": f"Callers ask to {action} on {len(calls)} calls, and no tool does it",
            "proposal": {"action": action},
            "quotes": quotes,
            "effect": f"Add a tool that can {action} (Tools page: your own API, or one from the "
                      "catalogue) and bind it to the agent; until then it can only offer a "
                      "person."})
    return findings


def _action(verb: str) -> str:
    """One name per action: "rescheduling" → reschedule, "sign up" → signup; booking words
    (book, schedule, reserve) are one action."""
    verb = verb.replace(" ", "")
    if verb.startswith("reschedul"):
        return "reschedule"
    return "book" if verb in ("schedule", "reserve") else verb


def _prompt_addition(agent, reason: str, step: str,
                     quotes: list[tuple[int, str]]) -> dict[str, str]:
    """The sentences a cloud model proposes adding to the instructions; offline, none (the
    member writes them: a template would only repeat the evidence)."""
    from learning.llm import CLOUD_MODELS, draft_with

    if agent.llm_provider not in CLOUD_MODELS:
        return {"prompt_addition": "", "drafted_by": "offline"}
    from calls.realtime.agent_providers import llm_for_agent

    said = "\n".join(f"- {quote}" for _, quote in quotes[:10])
    prompt = (f"Agent instructions:\n{agent.system_prompt or '(none)'}\n\nWhy the calls failed: "
              f"{reason}\nThe agent's last words before the callers left: {step or '(none)'}\n"
              f"What the callers said last (redacted):\n{said}")
    try:
        text = draft_with(llm_for_agent(agent), system=PROMPT_INSTRUCTIONS, prompt=prompt)
        return {"prompt_addition": text[:1000], "drafted_by": agent.llm_provider}
    except Exception as exc:  # noqa: BLE001 - the finding stands without a draft
        logger.warning("The %s model could not draft a prompt addition for agent %s (%r)",
                       agent.llm_provider, agent.pk, exc)
        return {"prompt_addition": "", "drafted_by": "offline"}


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= STEP_CHARS else text[:STEP_CHARS - 1].rstrip() + "…"


def _fingerprint(finding: str) -> str:
    return hashlib.sha256(finding.encode()).hexdigest()
