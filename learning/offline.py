"""The offline analyser: a real analysis of every call with no network, from what the call did.

It reads the redacted transcript with the offline brain's matcher (which knowledge entries and
tools the caller's words were about), the tool runs and the outcome. Deterministic: the same
call always gives the same analysis. Used when the agent's model is the offline brain, and as
the fallback when a cloud model cannot analyse.
"""

from __future__ import annotations

import re
from typing import Any

from calls.models import Outcome
from calls.realtime.providers.llm.base import Conversation, ToolSpec
from calls.realtime.providers.llm.offline.matching import best_match, index_of
from calls.realtime.providers.llm.offline.text import humanise, normalise, split_words
from learning.record import Analysis, CallRecord

ENDINGS = {
    Outcome.AGENT_ENDED: "The agent ended the call after saying goodbye.",
    Outcome.CALLER_HUNG_UP: "The caller hung up.",
    Outcome.TRANSFERRED: "The call was transferred to a person.",
    Outcome.NO_INPUT: "The caller stopped responding and the agent hung up.",
    Outcome.MAX_DURATION: "The call reached its maximum length.",
    Outcome.ERROR: "The call ended on a technical problem.",
    Outcome.DISCONNECTED: "The line dropped.",
}
POSITIVE = frozenset(split_words(
    "thanks thank great perfect wonderful excellent helpful lovely awesome appreciate"))
NEGATIVE = frozenset(split_words(
    "angry terrible awful useless complaint complain frustrated annoyed ridiculous "
    "unacceptable hurts pain worst rude"))
# "my name is Ana", "this is Ana Lima", "I'm Ana": the first words after, capitalised or not.
NAME_PHRASE = re.compile(r"\b(?:my name is|my name's|this is|i am|i'm|call me)\s+"
                         r"([a-z][a-z'\-]+(?:\s+[a-z][a-z'\-]+)?)", re.IGNORECASE)
NOT_NAMES = frozenset(split_words(
    "calling looking trying just here not going phoning wondering interested a an the sorry "
    "fine good ok okay"))
NAME_KEYS = ("name", "caller_name", "full_name", "customer_name", "patient_name")


def analyse_offline(record: CallRecord) -> Analysis:
    topics = _topics(record)
    extracted = _extract(record)
    success, reason = _judge(record, topics)
    return Analysis(analyzer="offline", summary=_summary(record, topics), success=success,
                    success_reason=reason, extracted=extracted, extraction_error="",
                    sentiment=_sentiment(record), topics=topics)


def _conversation(record: CallRecord) -> Conversation:
    tools = [ToolSpec(name=name, description=description, parameters={},
                      trigger_phrases=triggers)
             for name, description, triggers in record.tool_triggers]
    return Conversation(system_prompt="", knowledge=record.knowledge, tools=tools)


def _topics(record: CallRecord) -> list[str]:
    """What the caller talked about: the knowledge questions and tools their words matched."""
    index = index_of(_conversation(record))
    topics: list[str] = []
    for line in record.caller_lines:
        if line.startswith("[DTMF"):
            continue
        match = best_match(line, index)
        if match.kind == "knowledge":
            topic = record.knowledge[match.index][0].split("?")[0].strip() + "?"
        elif match.kind == "tool":
            topic = humanise(record.tool_triggers[match.index][0])
        else:
            continue
        if topic not in topics:
            topics.append(topic)
    for run in record.tools:
        topic = humanise(run.name)
        if topic not in topics:
            topics.append(topic)
    return topics[:10]


def _summary(record: CallRecord, topics: list[str]) -> str:
    if not record.caller_lines:
        opening = "The caller said nothing the agent could hear."
    else:
        asked = [t for t in topics if t.endswith("?")]
        opening = (f"The caller asked: {'; '.join(asked)}" if asked
                   else f"The caller said: “{record.caller_lines[0][:120]}”")
        opening = opening if opening.endswith(("?", ".", "”")) else opening + "."
    sentences = [opening]
    for run in record.tools:
        arguments = ", ".join(f"{humanise(k)} {v}" for k, v in run.arguments.items()
                              if isinstance(v, str | int | float) and str(v).strip())
        action = humanise(run.name)
        detail = f" ({arguments})" if arguments else ""
        sentences.append(f"{action.capitalize()}{detail}: "
                         f"{'done' if run.succeeded else 'it failed'}.")
    ending = ENDINGS.get(record.outcome)
    if ending:
        sentences.append(ending)
    if record.duration_seconds is not None:
        sentences.append(f"It lasted {record.duration_seconds} s.")
    return " ".join(sentences)


def _judge(record: CallRecord, topics: list[str]) -> tuple[bool | None, str]:
    """Success against the agent's criteria. A criterion naming one of the agent's actions
    ("an appointment is booked") holds when that tool succeeded; without a criterion, a call
    succeeds when the caller was heard and it ended normally."""
    criteria = normalise(record.success_criteria)
    if criteria:
        words = set(criteria.split())
        # The agent's tools now, and any that ran on the call (a tool may have been unbound).
        names = list(dict.fromkeys([name for name, _, _ in record.tool_triggers]
                                   + [run.name for run in record.tools]))
        for name in names:
            stems = {word[:4] for word in humanise(name).split() if len(word) > 2}
            if stems and stems <= {word[:4] for word in words}:
                runs = [run for run in record.tools if run.name == name]
                if any(run.succeeded for run in runs):
                    return True, f"{humanise(name).capitalize()} succeeded."
                if runs:
                    return False, f"{humanise(name).capitalize()} was tried but failed."
                return False, f"{humanise(name).capitalize()} never ran."
        if {"question", "questions", "answer", "answered"} & words:
            asked = [t for t in topics if t.endswith("?")]
            if asked:
                return True, f"Answered: {'; '.join(asked)}"[:500]
            return False, "No question the agent knows was asked or answered."
    if not record.caller_lines:
        return False, "The caller was never heard."
    if record.outcome in (Outcome.ERROR, Outcome.DISCONNECTED, Outcome.NO_INPUT):
        return False, ENDINGS[record.outcome]
    if criteria:
        return None, "The offline analyser cannot judge this criterion; a cloud model can."
    return True, "The caller was heard and the call ended normally."


def _sentiment(record: CallRecord) -> str:
    words = [w for line in record.caller_lines for w in normalise(line).split()]
    score = sum(w in POSITIVE for w in words) - sum(w in NEGATIVE for w in words)
    return "positive" if score > 0 else "negative" if score < 0 else "neutral"


def caller_name(record: CallRecord) -> str:
    """The name the caller gave ("my name is Ana Lima"), or "". Stored transcripts hold
    [NAME]; the name itself is on the contact when the caller's memory is on."""
    if record.caller_name:
        return record.caller_name
    for line in record.caller_lines:
        match = NAME_PHRASE.search(line)
        if match:
            words = [w for w in match.group(1).split() if w.lower() not in NOT_NAMES]
            if words and words[0].lower() == match.group(1).split()[0].lower():
                return " ".join(w.capitalize() for w in words)
    return ""


def _extract(record: CallRecord) -> dict[str, Any]:
    """The schema's fields found in the call: tool arguments of the same name, and the
    caller's name for a name field. Missing fields are left out, never guessed."""
    properties = (record.extraction_schema or {}).get("properties") or {}
    arguments: dict[str, Any] = {}
    for run in record.tools:  # later runs win: the last booking is the one that counts
        arguments.update({k: v for k, v in run.arguments.items() if v not in (None, "")})
    extracted: dict[str, Any] = {}
    for key, schema in properties.items():
        kind = schema.get("type") if isinstance(schema, dict) else None
        if key in arguments:
            value = arguments[key]
        elif key in NAME_KEYS and caller_name(record):
            value = caller_name(record)
        else:
            continue
        if kind == "string" and not isinstance(value, str):
            value = str(value)
        extracted[key] = value
    return extracted
