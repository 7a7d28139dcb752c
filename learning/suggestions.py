"""The learning job: what analysed calls say the agent lacks, as suggestions a member decides.

Read since the agent's last run (at first, the last LEARN_DAYS days):
- **Questions it could not answer**: caller questions that neither the agent's knowledge nor
  its tools cover (the offline brain's matcher, as the analyser reads calls), grouped by the
  words they share; a group asked on MIN_CALLS different calls or more becomes a suggested
  knowledge entry, its answer proposed from the agent's documents when a passage fits (else
  left for the member to write).
- **Failing tools**: a tool that failed MIN_FAILURES times or more.
- **Tasks failing at one step**, and **slow answers** with the stage that took the time
  (learning/findings.py): a prompt addition, a turn-taking change.
Each suggestion keeps its evidence: the calls, how often, and up to MAX_EXAMPLES redacted
quotes. The same finding again updates its open suggestion; a dismissed or accepted one is not
raised again. Nothing reaches callers by itself: accepting a knowledge entry adds it to the
draft, which is published through the evaluation gate like any edit. Offline agents get the
deterministic grouping and the documents' best passage as the answer; an agent with a cloud
model has it group the new questions by meaning (the offline grouping if it fails) and draft
each proposed answer from the agent's knowledge and documents (or say it cannot).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from aybiza.core.text import sentences
from calls.models import TEST_DIRECTIONS, Role, Turn
from calls.realtime.providers.llm.base import Conversation, ToolSpec
from calls.realtime.providers.llm.offline.matching import STRONG_MATCH, best_match, index_of
from calls.realtime.providers.llm.offline.text import analyse, normalise
from calls.realtime.providers.llm.routing import ACTION
from learning.findings import failed_tasks, missing_actions, slow_answers
from learning.llm import CLOUD_MODELS, draft_answer, group_questions
from learning.models import (
    CallAnalysis,
    LearningRun,
    Suggestion,
    SuggestionKind,
    SuggestionStatus,
)

logger = logging.getLogger(__name__)

LEARN_DAYS = 30
MIN_CALLS = 2
MIN_FAILURES = 2
MAX_EXAMPLES = 5
SIMILAR = 0.5  # shared topic words (of the shorter question) for two to be the same question
# Words and concepts that say nothing about the topic of a question ("do you *offer* X").
GENERIC = frozenset("""
take offer accept have get make need want come see go give tell know like provide avail
available possibl someth anyth @services
""".split())  # noqa: SIM905 - a word list reads better as text
QUESTION = re.compile(r"^(?:what|when|where|who|why|how|which|do|does|did|can|could|is|are|"
                      r"will|would|should|have|has)\b")


@dataclass
class _Group:
    terms: set[str]
    quotes: list[tuple[int, str]] = field(default_factory=list)  # (call id, redacted quote)
    fingerprint: str = ""  # set for an open suggestion raised by an earlier run
    question: str = ""  # the group's question as a cloud model worded it

    @property
    def calls(self) -> list[int]:
        return sorted({call for call, _ in self.quotes})


def learning_run(*, tenant, agent, now=None) -> LearningRun:
    """Read the agent's calls analysed since its last run; create or update suggestions."""
    now = now or timezone.now()
    last = agent.learning_runs.first()
    since = last.calls_until if last else now - timedelta(days=LEARN_DAYS)
    call_ids = list(CallAnalysis.objects.filter(
        tenant=tenant, call__agent=agent, created_at__gt=since, created_at__lte=now)
        .exclude(call__direction__in=TEST_DIRECTIONS)  # members' tests teach nothing
        .values_list("call_id", flat=True))
    # Read and drafted (a cloud model may take seconds) before the transaction that writes.
    unanswered = _unanswered(tenant, agent, call_ids)
    failed = failed_tasks(tenant, agent, call_ids, explained={
        call for finding in unanswered for call, _ in finding["quotes"]})
    slow = slow_answers(tenant, agent, call_ids)
    lacking = missing_actions(tenant, agent, call_ids)
    with transaction.atomic():
        touched = sum(_upsert(tenant, agent, SuggestionKind.KNOWLEDGE_ENTRY, **finding)
                      for finding in unanswered) + _failing_tools(tenant, agent, call_ids)
        touched += sum(_upsert(tenant, agent, SuggestionKind.PROMPT_ADDITION, **finding)
                       for finding in failed)
        touched += sum(_upsert(tenant, agent, SuggestionKind.TURN_TAKING, **finding)
                       for finding in slow)
        touched += sum(_upsert(tenant, agent, SuggestionKind.MISSING_ACTION, **finding)
                       for finding in lacking)
        return LearningRun.objects.create(tenant=tenant, agent=agent, calls_until=now,
                                          calls_read=len(call_ids), suggestions=touched)


def _unanswered(tenant, agent, call_ids: list[int]) -> list[dict]:
    """Questions callers asked that the agent had nothing for, grouped: each an `_upsert`'s
    arguments, its answer proposed."""
    from tools.selectors import tools_for_agent

    conversation = Conversation(
        system_prompt="", knowledge=[(k.question, k.answer) for k in agent.knowledge.all()],
        tools=[ToolSpec(name=t.name, description=t.description, parameters={},
                        trigger_phrases=list(t.trigger_phrases or []))
               for t in tools_for_agent(tenant_id=tenant.pk, agent_id=agent.pk)])
    index = index_of(conversation)
    # Open suggestions first: a question asked again joins the suggestion it belongs to.
    groups = [_Group(terms=_topic(s.proposal.get("question", "")), fingerprint=s.fingerprint)
              for s in Suggestion.objects.filter(agent=agent, status=SuggestionStatus.OPEN,
                                                 kind=SuggestionKind.KNOWLEDGE_ENTRY)]
    caller_turns = Turn.objects.filter(tenant=tenant, call_id__in=call_ids, role=Role.CALLER)
    for call_id, said in caller_turns.order_by("call_id", "index").values_list("call_id", "text"):
        text = _question_in(said)
        if not text or ACTION.search(text.lower()):
            continue  # no question; or a request to do something, which an entry cannot do
        match = best_match(text, index)
        if match.kind == "tool" or (match.kind == "knowledge" and match.score >= STRONG_MATCH):
            continue  # the agent had an answer or an action for it
        terms = _topic(text)
        if not terms:
            continue
        group = next((g for g in groups if _overlap(g.terms, terms) >= SIMILAR), None)
        if group is None:
            groups.append(_Group(terms=set(terms), quotes=[(call_id, text)]))
        else:
            group.quotes.append((call_id, text))
    if agent.llm_provider in CLOUD_MODELS:
        groups = [g for g in groups if g.fingerprint] + _grouped_by_model(
            agent, [g for g in groups if not g.fingerprint])
    findings = []
    for group in groups:
        if not group.quotes or (not group.fingerprint and len(group.calls) < MIN_CALLS):
            continue
        question = group.question or Counter(
            quote for _, quote in group.quotes).most_common(1)[0][0]
        findings.append({
            "fingerprint": group.fingerprint or _fingerprint(" ".join(sorted(group.terms))),
            "title": f"Callers ask: “{question}”",
            "proposal": {"question": question, **_proposed_answer(agent, question)},
            "quotes": group.quotes,
            "effect": f"{len(group.calls)} calls asked this and the agent had no answer; with "
                      "an entry, it answers instead of saying it did not understand."})
    return findings


def _grouped_by_model(agent, groups: list[_Group]) -> list[_Group]:
    """The new questions (not joined to an open suggestion) grouped again by the agent's cloud
    model, which sees that "how much is whitening" and "do you bleach teeth" ask the same; the
    offline groups when it fails or answers something else."""
    from calls.realtime.agent_providers import llm_for_agent

    quotes = [quote for group in groups for quote in group.quotes]
    if len(quotes) < MIN_CALLS:
        return groups  # nothing to bring together
    try:
        grouped = group_questions(llm_for_agent(agent), [text for _, text in quotes])
    except Exception as exc:  # noqa: BLE001 - the offline grouping still finds the questions
        logger.warning("The %s model could not group agent %s's questions (%r); the offline "
                       "grouping is used", agent.llm_provider, agent.pk, exc)
        return groups
    return [_Group(terms=_topic(question), quotes=[quotes[i] for i in members],
                   question=question) for question, members in grouped]


def _failing_tools(tenant, agent, call_ids: list[int]) -> int:
    from tools.models import ExecutionStatus, ToolExecution

    failures: dict[str, list[tuple[int, str]]] = {}
    runs = Counter()
    for name, status, call_id, http_status in ToolExecution.objects.filter(
            tenant=tenant, call_id__in=call_ids, dry_run=False).values_list(
            "tool_name", "status", "call_id", "http_status"):
        runs[name] += 1
        if status != ExecutionStatus.SUCCEEDED:
            # The status only: a service's error text may echo what the caller said.
            failures.setdefault(name, []).append(
                (call_id, f"{status}" + (f" (HTTP {http_status})" if http_status else "")))
    touched = 0
    for name, failed in failures.items():
        if len(failed) < MIN_FAILURES:
            continue
        touched += _upsert(
            tenant, agent, SuggestionKind.TOOL_FAILURES, fingerprint=_fingerprint(name),
            title=f"The tool {name} failed {len(failed)} of {runs[name]} times",
            proposal={"tool": name}, quotes=failed,
            effect="Callers heard that it could not be done; fix the tool's service or settings "
                   "(Tools page: try it) and the task succeeds.")
    return touched


def _upsert(tenant, agent, kind: str, *, fingerprint: str, title: str, proposal: dict,
            quotes: list[tuple[int, str]], effect: str) -> int:
    """Create the suggestion with this fingerprint, or add this run's evidence to it while it
    is open."""
    suggestion = Suggestion.objects.filter(agent=agent, kind=kind,
                                           fingerprint=fingerprint).first()
    if suggestion is not None and suggestion.status != SuggestionStatus.OPEN:
        return 0  # decided: not raised again
    evidence = suggestion.evidence if suggestion is not None else {}
    calls = sorted(set(evidence.get("calls", [])) | {call for call, _ in quotes})
    examples = list(evidence.get("examples", []))
    for call, quote in quotes:  # different wordings first: the same words say nothing new
        if len(examples) < MAX_EXAMPLES and quote not in {e["quote"] for e in examples}:
            examples.append({"call": call, "quote": quote})
    evidence = {"calls": calls, "count": evidence.get("count", 0) + len(quotes),
                "examples": examples}
    if suggestion is None:
        Suggestion.objects.create(tenant=tenant, agent=agent, kind=kind, fingerprint=fingerprint,
                                  title=title[:300], proposal=proposal, evidence=evidence,
                                  expected_effect=effect[:500])
    else:
        suggestion.title, suggestion.evidence = title[:300], evidence
        suggestion.expected_effect = effect[:500]
        if not (suggestion.proposal or {}).get("answer"):
            suggestion.proposal = proposal
        suggestion.save(update_fields=["title", "evidence", "expected_effect", "proposal",
                                       "updated_at"])
    return 1


def _proposed_answer(agent, question: str) -> dict[str, str]:
    """The answer a suggestion proposes, and who wrote it: the agent's own cloud model from its
    knowledge and the best passage of its documents (nothing when they do not hold it), or the
    offline passage picker; "" leaves it to the member."""
    from calls.realtime.providers.llm.offline.passages import passage_answer

    passage = _best_passage(agent, question)
    if agent.llm_provider in CLOUD_MODELS:
        from calls.realtime.agent_providers import llm_for_agent

        try:
            answer = draft_answer(
                llm_for_agent(agent), instructions=agent.system_prompt, passage=passage,
                knowledge=[(k.question, k.answer) for k in agent.knowledge.all()],
                question=question)
            return {"answer": answer, "answer_by": agent.llm_provider}
        except Exception as exc:  # noqa: BLE001 - a suggestion without a model's draft still helps
            logger.warning("The %s model could not draft an answer for agent %s (%r); the "
                           "offline one is used", agent.llm_provider, agent.pk, exc)
    return {"answer": passage_answer([passage]) if passage else "", "answer_by": "offline"}


def _best_passage(agent, question: str) -> str:
    from agents.knowledge_search import knowledge_search

    ids = list(agent.documents.values_list("id", flat=True))
    if not ids:
        return ""
    found = knowledge_search(tenant_id=agent.tenant_id, document_ids=ids, query=question,
                             limit=1)
    return found[0].text if found else ""


def _question_in(said: str) -> str:
    """The question a caller's turn asks ("Great. Can I park there?" → "Can I park there?")."""
    for sentence in sentences(said):
        if sentence.endswith("?") or QUESTION.match(normalise(sentence)):
            return sentence
    return ""


def _fingerprint(finding: str) -> str:
    """What identifies a finding across runs (its topic words, or the failing tool's name)."""
    return hashlib.sha256(finding.encode()).hexdigest()


def _topic(text: str) -> set[str]:
    return set(analyse(text).terms) - GENERIC


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0
