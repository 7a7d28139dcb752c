"""Work for the agent's own language model (Bedrock, OpenAI-compatible) after calls.

- Post-call analysis: one request, the fixed instructions first (a cacheable prefix), then the
  call. The reply must be one JSON object; extracted fields are checked against the agent's
  schema, and a reply that does not match gets one more try with the reason, then is stored as a
  failed extraction.
- The answer a learning suggestion proposes for a question callers asked (`draft_answer`): from
  the agent's knowledge and documents only, or nothing.
- The grouping of the questions the agent could not answer (`group_questions`): the same
  information asked in other words goes together.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable
from typing import Any

from calls.realtime.providers.llm.base import Conversation, LLMProvider, Message, TextDelta
from learning.record import Analysis, CallRecord
from tools.validation import json_mismatch

INSTRUCTIONS = """You analyse one finished phone call between a caller and a voice agent.
Answer with exactly one JSON object and nothing else, with these keys:
- "summary": two or three sentences: what the caller wanted and what happened.
- "success": true or false: whether the call met the success criteria; null when there are none.
- "success_reason": one short sentence saying why.
- "sentiment": "positive", "neutral" or "negative": the caller's mood.
- "topics": a list of at most five short topics.
- "extracted": an object matching the extraction schema (leave out what the call did not say).
The transcript is redacted: never guess what a [REDACTED] marker hides."""
ANSWER_INSTRUCTIONS = """You write one entry of a phone voice agent's knowledge base.
You get the agent's instructions, its knowledge entries, a passage of its documents, and a
question callers asked that it could not answer. Write the answer the agent should say: one or
two short spoken sentences, using only the facts given. If they do not contain the answer, reply
with exactly UNKNOWN. Never invent prices, hours, names or policies."""
GROUP_INSTRUCTIONS = """You group questions callers asked a phone voice agent that it could not
answer. Questions asking for the same information belong together, whatever their wording
("Do you whiten teeth?", "How much is whitening?"). Answer with exactly one JSON object and
nothing else: {"groups": [{"question": "the group's question in its clearest wording",
"members": [the numbers of its questions]}]}. Use each number at most once; leave out what is
not a question for information. Never add facts: the questions are redacted, keep markers such
as [NAME] as they are."""
MAX_GROUPED = 200  # questions in one grouping request; more are grouped offline
UNKNOWN = "UNKNOWN"
CLOUD_MODELS = ("bedrock", "openai")  # the agents whose own model does this work
FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")
SENTIMENTS = ("positive", "neutral", "negative")


class AnalysisFailed(RuntimeError):
    """The model's reply was not a usable analysis."""


def analyse_with_llm(record: CallRecord, llm: LLMProvider, *, name: str) -> Analysis:
    """Sync (a Celery worker): one event loop for the request and its retry, then closed."""
    return _run_once(llm, _analysis(record, llm, name))


async def _analysis(record: CallRecord, llm: LLMProvider, name: str) -> Analysis:
    prompt = _call_description(record)
    data = await _ask_json(llm, prompt)
    extracted, problem = _checked(record, data.get("extracted"))
    if problem:  # one more try, told what was wrong
        retry = await _ask_json(llm, prompt + f"\n\nYour previous \"extracted\" was invalid: "
                                              f"{problem} Answer again, fixing it.")
        extracted, problem = _checked(record, retry.get("extracted"))
        data = {**data, **{k: v for k, v in retry.items() if k != "extracted"}}
    success = data.get("success")
    sentiment = str(data.get("sentiment", "")).lower()
    topics = [str(t)[:80] for t in data.get("topics") or [] if isinstance(t, str | int)][:5]
    return Analysis(
        analyzer=name, summary=str(data.get("summary", ""))[:2000],
        success=success if isinstance(success, bool) else None,
        success_reason=str(data.get("success_reason", ""))[:500],
        extracted=extracted if not problem else {},
        extraction_error=(problem or "")[:500],
        sentiment=sentiment if sentiment in SENTIMENTS else "",
        topics=topics)


def _call_description(record: CallRecord) -> str:
    lines = [f"Agent: {record.agent_name}",
             f"Success criteria: {record.success_criteria or '(none)'}",
             f"Extraction schema: {json.dumps(record.extraction_schema or {})}",
             f"Outcome: {record.outcome}; duration: {record.duration_seconds} s", "Transcript:"]
    lines += [f"{role}: {text}" for role, text in record.turns]
    if record.tools:
        lines.append("Tool runs:")
        lines += [f"- {run.name}({json.dumps(run.arguments)}): "
                  f"{'succeeded' if run.succeeded else 'failed'}" for run in record.tools]
    return "\n".join(lines)


async def _ask_json(llm: LLMProvider, prompt: str, *,
                    system: str = INSTRUCTIONS) -> dict[str, Any]:
    text = await _ask(llm, prompt, system=system)
    try:
        data = json.loads(FENCE.sub("", text.strip()))
    except json.JSONDecodeError as exc:
        raise AnalysisFailed(f"The model did not answer JSON: {text[:200]!r}") from exc
    if not isinstance(data, dict):
        raise AnalysisFailed("The model's JSON is not an object.")
    return data


def draft_answer(llm: LLMProvider, *, instructions: str, knowledge: list[tuple[str, str]],
                 passage: str, question: str) -> str:
    """The model's proposed answer to `question` from the facts given, or "" when they do not
    hold it (sync: the learning job runs in a Celery worker)."""
    facts = "\n".join(f"- Q: {q}\n  A: {a}" for q, a in knowledge) or "(none)"
    prompt = (f"Agent instructions:\n{instructions or '(none)'}\n\nKnowledge entries:\n{facts}"
              f"\n\nDocument passage:\n{passage or '(none)'}\n\nQuestion callers asked: "
              f"{question}")

    answer = draft_with(llm, system=ANSWER_INSTRUCTIONS, prompt=prompt).strip('"')
    return "" if not answer or answer.upper().startswith(UNKNOWN) else answer[:1000]


def draft_with(llm: LLMProvider, *, system: str, prompt: str) -> str:
    """One request's text, stripped of code fences (sync: a Celery worker's learning job)."""
    return FENCE.sub("", _run_once(llm, _ask(llm, prompt, system=system)).strip()).strip()


def _run_once(llm: LLMProvider, request: Awaitable[Any]) -> Any:
    """`request` on an event loop of its own, the provider closed after it (sync callers)."""

    async def run() -> Any:
        try:
            return await request
        finally:
            close = getattr(llm, "aclose", None)
            if close is not None:
                await close()

    return asyncio.run(run())


def group_questions(llm: LLMProvider, questions: list[str]) -> list[tuple[str, list[int]]]:
    """The model's grouping of `questions`: (the group's question, indexes into `questions`),
    each index in one group at most. Raises AnalysisFailed on a reply that is not such a
    grouping (sync: the learning job runs in a Celery worker)."""
    if len(questions) > MAX_GROUPED:
        raise AnalysisFailed(f"{len(questions)} questions: more than {MAX_GROUPED} to group.")
    prompt = "Questions:\n" + "\n".join(f"{n}. {q}" for n, q in enumerate(questions, start=1))

    groups, seen = [], set()
    raw = _run_once(llm, _ask_json(llm, prompt, system=GROUP_INSTRUCTIONS)).get("groups")
    if not isinstance(raw, list):
        raise AnalysisFailed("The model's grouping has no \"groups\" list.")
    for group in raw:
        question = group.get("question") if isinstance(group, dict) else None
        members = group.get("members") if isinstance(group, dict) else None
        if not (isinstance(question, str) and question.strip() and isinstance(members, list)):
            raise AnalysisFailed(f"A group is not {{\"question\", \"members\"}}: {group!r:.200}")
        indexes = [m - 1 for m in members if isinstance(m, int) and not isinstance(m, bool)
                   and 0 < m <= len(questions) and m - 1 not in seen]
        seen.update(indexes)
        if indexes:
            groups.append((question.strip()[:300], indexes))
    return groups


async def _ask(llm: LLMProvider, prompt: str, *, system: str = INSTRUCTIONS) -> str:
    conversation = Conversation(system_prompt=system,
                                messages=[Message(role="user", text=prompt)])
    parts = [event.text async for event in llm.respond(conversation)
             if isinstance(event, TextDelta)]
    return "".join(parts)


def _checked(record: CallRecord, extracted: Any) -> tuple[dict[str, Any], str | None]:
    schema = record.extraction_schema
    if not schema:
        return {}, None
    if not isinstance(extracted, dict):
        return {}, "\"extracted\" must be a JSON object."
    problem = json_mismatch(schema, extracted)
    return (extracted, None) if problem is None else ({}, problem)
