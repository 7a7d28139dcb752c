"""Agent versions: snapshot, publish, roll back, diff, and the version a new call runs.

An agent's own fields are its draft. Publishing freezes the draft into an immutable
AgentVersion and points `Agent.published_version` at it; calls then run that version whatever
the draft becomes, and each call records the version it ran. Rolling back publishes an older
version again and puts its content back into the draft, so what the editor shows is what
callers hear. An agent never published runs its draft, each call recording a draft snapshot.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max

from agents.gates import gates_check
from agents.models import Agent, AgentVersion, KnowledgeDocument, KnowledgeEntry, VersionOrigin
from aybiza.core.errors import ApplicationError, NotFound
from aybiza.core.models import Tenant
from aybiza.core.selectors import parse_pk
from aybiza.core.tenancy import ensure_owned
from calls.realtime.providers.llm.base import ToolSpec
from compliance.services import audit_record

# The agent fields a version holds: everything that shapes what a caller hears. `name` is the
# agent's label and `status` follows publishing, so neither makes a new version.
SNAPSHOT_FIELDS = (
    "system_prompt", "greeting", "language", "voice", "stt_provider", "llm_provider",
    "tts_provider", "llm_model", "recognition_keywords", "provider_options",
    "end_of_turn_silence_ms",
    "smart_end_of_turn", "barge_in_min_speech_ms", "reprompt_after_s", "hangup_after_s",
    "max_call_seconds",
    "timezone", "business_hours", "reprompt_text", "goodbye_text", "outbound_greeting",
    "voicemail_message", "keep_original_transcripts",
    "recording_mode", "recording_disclosure", "consent_prompt",
)


def agent_snapshot(agent: Agent) -> dict[str, Any]:
    """The draft as a version would hold it: fields, knowledge, tool bindings with schemas."""
    from tools.selectors import confirms_before_running, tools_for_agent

    knowledge = KnowledgeEntry.objects.filter(tenant_id=agent.tenant_id, agent=agent)
    documents = KnowledgeDocument.objects.filter(tenant_id=agent.tenant_id, agent=agent)
    tools = tools_for_agent(tenant_id=agent.tenant_id, agent_id=agent.id)
    return {
        "agent": {name: getattr(agent, name) for name in SNAPSHOT_FIELDS},
        "knowledge": [{"question": row.question, "answer": row.answer}
                      for row in knowledge.order_by("id")],
        "tools": [{"id": tool.id, "name": tool.name, "description": tool.description,
                   "parameters": tool.parameters or {}, "trigger_phrases": tool.trigger_phrases,
                   "secure_argument": tool.secure_capture_argument,
                   "secure_prompt": tool.secure_capture_prompt, "filler": tool.filler_text,
                   "confirm": confirms_before_running(tool)}
                  for tool in tools],
        # Documents by reference (their passages are searched per turn): a version answers
        # from the documents it was published with, a new upload waits for the next publish.
        "documents": [{"id": row.id, "title": row.title, "sha256": row.sha256}
                      for row in documents.order_by("id")],
    }


def _checksum(snapshot: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(snapshot, sort_keys=True).encode()).hexdigest()


def _version_create(*, agent: Agent, snapshot: dict[str, Any], origin: str, note: str = "",
                    actor=None) -> AgentVersion:
    """A new version with the next number; two writers racing both get a number."""
    for _ in range(3):
        number = (agent.versions.aggregate(top=Max("number"))["top"] or 0) + 1
        try:
            with transaction.atomic():
                return AgentVersion.objects.create(
                    tenant_id=agent.tenant_id, agent=agent, number=number, origin=origin,
                    snapshot=snapshot, checksum=_checksum(snapshot), note=note,
                    created_by=actor if getattr(actor, "pk", None) else None)
        except IntegrityError:  # another publish or call took this number
            continue
    raise ApplicationError("The agent is being changed by someone else; try again.",
                           status_code=409, code="conflict")


def draft_has_changes(agent: Agent) -> bool:
    """Whether the draft differs from the published version (True when never published)."""
    published = agent.published_version
    return published is None or published.checksum != _checksum(agent_snapshot(agent))


def agent_publish(*, tenant: Tenant, agent: Agent, note: str = "", actor=None,
                  override_evaluation: bool = False,
                  rollout_percent: int | None = None) -> AgentVersion:
    """Freeze the draft into a version that new calls run. Publishing an unchanged draft
    returns the published version as it is (no empty versions). With `rollout_percent` (1, 10
    or 50) the version reaches that share of new calls first, in a staged rollout
    (agents/rollouts.py), and the published one keeps the rest.

    The gates run first (an agent with an evaluation suite publishes only a draft that passes
    it; an agent already published, only a draft that handles its recent calls no worse:
    learning/replay.py), before the row lock is taken; an owner may publish anyway with
    `override_evaluation`, which the audit log records."""
    ensure_owned(tenant, agent)
    evaluated = None
    if not override_evaluation:
        snapshot = agent_snapshot(agent)
        gates_check(agent, snapshot)
        evaluated = _checksum(snapshot)
    if rollout_percent is not None:
        version = _roll_out(tenant=tenant, agent=agent, note=note, actor=actor,
                            evaluated_checksum=evaluated, percent=rollout_percent)
    else:
        version = _publish(tenant=tenant, agent=agent, note=note, actor=actor,
                           evaluated_checksum=evaluated)
    if override_evaluation and (agent.eval_scenarios.exists()
                                or agent.published_version_id is not None):  # suite or replay
        audit_record(action="agent.publish_overrode_evaluation", tenant=tenant, target=agent,
                     actor=actor, payload={"version": version.number})
    return version


@transaction.atomic
def _publish(*, tenant: Tenant, agent: Agent, note: str, actor,
             evaluated_checksum: str | None) -> AgentVersion:
    given, agent = agent, Agent.objects.select_for_update().get(pk=agent.pk)  # one at a time
    snapshot = agent_snapshot(agent)
    if evaluated_checksum is not None and evaluated_checksum != _checksum(snapshot):
        raise ApplicationError("The draft changed while it was being evaluated; publish again.",
                               status_code=409, code="draft_changed")
    current = agent.published_version
    if current is not None and current.checksum == _checksum(snapshot):
        return current
    version = _version_create(agent=agent, snapshot=snapshot, origin=VersionOrigin.PUBLISHED,
                              note=note, actor=actor)
    _point_at(agent, version)
    given.published_version, given.status = version, agent.status
    audit_record(action="agent.published", tenant=tenant, target=agent, actor=actor,
                 payload={"version": version.number, "previous":
                          current.number if current else None})
    return version


@transaction.atomic
@transaction.atomic
def _roll_out(*, tenant: Tenant, agent: Agent, note: str, actor, evaluated_checksum: str | None,
              percent: int) -> AgentVersion:
    """The draft as a candidate version, sent to `percent` % of new calls (gates passed)."""
    from agents.rollouts import rollout_start

    agent = Agent.objects.select_for_update().get(pk=agent.pk)  # one publish at a time
    snapshot = agent_snapshot(agent)
    checksum = _checksum(snapshot)
    if evaluated_checksum is not None and evaluated_checksum != checksum:
        raise ApplicationError("The draft changed while it was being evaluated; publish again.",
                               status_code=409, code="draft_changed")
    version = agent.versions.filter(checksum=checksum).order_by("-number").first() \
        or _version_create(agent=agent, snapshot=snapshot, origin=VersionOrigin.DRAFT,
                           note=note, actor=actor)
    rollout_start(tenant=tenant, agent=agent, version=version, percent=percent, actor=actor,
                  gates_passed=True)
    return version


def agent_rollback(*, tenant: Tenant, agent: Agent, version: AgentVersion,
                   actor=None) -> AgentVersion:
    """Publish an older version again and make the draft equal to it."""
    from agents.services import knowledge_replace

    ensure_owned(tenant, agent)
    if version.agent_id != agent.id:
        raise NotFound("Version not found.")
    given, agent = agent, Agent.objects.select_for_update().get(pk=agent.pk)
    previous = agent.published_version
    for name, value in version.snapshot["agent"].items():
        setattr(agent, name, value)
    agent.save()
    knowledge_replace(tenant=tenant, agent=agent, entries=version.snapshot["knowledge"])
    _point_at(agent, version)
    given.published_version, given.status = version, agent.status
    audit_record(action="agent.rolled_back", tenant=tenant, target=agent, actor=actor,
                 payload={"version": version.number,
                          "previous": previous.number if previous else None})
    return version


def _point_at(agent: Agent, version: AgentVersion) -> None:
    agent.published_version = version
    agent.status = "live"
    agent.save(update_fields=["published_version", "status", "updated_at"])


def version_for_call(agent: Agent, *, draft: bool = False, call_sid: str = "") -> AgentVersion:
    """The version a new call of `agent` runs: the published one, or (never published, or
    `draft` for a test call of unpublished changes) a snapshot of the draft, reused while the
    draft does not change. Runs when a call starts (webhook time), never in the media path.
    The agent is read again: the caller's copy (a number's cached agent) may be stale."""
    agent = Agent.objects.select_related("published_version").get(pk=agent.pk)
    if call_sid and not draft:  # a staged rollout decides this call's side
        from agents.rollouts import rollout_version_for

        chosen = rollout_version_for(agent, call_sid)
        if chosen is not None:
            return chosen
    if agent.published_version_id is not None and not draft:
        return agent.published_version
    snapshot = agent_snapshot(agent)
    checksum = _checksum(snapshot)
    existing = agent.versions.filter(checksum=checksum).order_by("-number").first()
    if existing is not None:
        return existing
    return _version_create(agent=agent, snapshot=snapshot, origin=VersionOrigin.DRAFT)


def version_list(*, tenant: Tenant, agent: Agent):
    return AgentVersion.objects.filter(tenant=tenant, agent=agent).order_by("-number")


def version_get(*, tenant: Tenant, agent: Agent, number) -> AgentVersion:
    number = parse_pk(number)
    version = (version_list(tenant=tenant, agent=agent).filter(number=number).first()
               if number is not None else None)
    if version is None:
        raise NotFound("Version not found.")
    return version


@dataclass(frozen=True)
class Change:
    """One difference between two versions: `path` like "agent.greeting", "knowledge[2]"."""

    path: str
    before: Any
    after: Any


def version_diff(older: AgentVersion, newer: AgentVersion) -> list[Change]:
    """What changed from `older` to `newer`, field by field, entry by entry, tool by tool."""
    changes = []
    before, after = older.snapshot, newer.snapshot
    for name in sorted(set(before["agent"]) | set(after["agent"])):
        if before["agent"].get(name) != after["agent"].get(name):
            changes.append(Change(f"agent.{name}", before["agent"].get(name),
                                  after["agent"].get(name)))
    old_knowledge = {entry["question"]: entry["answer"] for entry in before["knowledge"]}
    new_knowledge = {entry["question"]: entry["answer"] for entry in after["knowledge"]}
    for question in sorted(set(old_knowledge) | set(new_knowledge)):
        if old_knowledge.get(question) != new_knowledge.get(question):
            changes.append(Change(f"knowledge[{question}]", old_knowledge.get(question),
                                  new_knowledge.get(question)))
    old_tools = {tool["name"]: tool for tool in before["tools"]}
    new_tools = {tool["name"]: tool for tool in after["tools"]}
    for name in sorted(set(old_tools) | set(new_tools)):
        if old_tools.get(name) != new_tools.get(name):
            changes.append(Change(f"tools[{name}]", old_tools.get(name), new_tools.get(name)))
    old_documents = {row["id"]: row for row in before.get("documents", [])}
    new_documents = {row["id"]: row for row in after.get("documents", [])}
    for document_id in sorted(set(old_documents) | set(new_documents)):
        old, new = old_documents.get(document_id), new_documents.get(document_id)
        if old != new:
            title = (new or old)["title"]
            changes.append(Change(f"documents[{title}]", old and old["title"],
                                  new and new["title"]))
    return changes


@dataclass(frozen=True)
class RunnableVersion:
    """What a live call needs of a version: an unsaved Agent holding its fields (so the call
    reads `agent.greeting` the same way for a draft or a version), knowledge, tools."""

    agent: Agent
    knowledge: list[tuple[str, str]]
    tools: list[ToolSpec]
    fillers: dict[str, str]
    document_ids: list[int]


def runnable(version: AgentVersion, agent: Agent) -> RunnableVersion:
    from tools.selectors import EMPTY_PARAMETERS, without_secure_argument

    fields = version.snapshot["agent"]
    frozen = Agent(id=agent.id, tenant_id=agent.tenant_id, name=agent.name,
                   published_version_id=agent.published_version_id,
                   **{name: value for name, value in fields.items() if name in SNAPSHOT_FIELDS})
    tools = [ToolSpec(name=tool["name"], description=tool["description"],
                      parameters=without_secure_argument(
                          tool["parameters"] or dict(EMPTY_PARAMETERS), tool["secure_argument"]),
                      trigger_phrases=list(tool["trigger_phrases"]),
                      secure_argument=tool["secure_argument"],
                      secure_prompt=tool["secure_prompt"] if tool["secure_argument"] else "",
                      confirm=tool.get("confirm", False))  # versions from before it: none
             for tool in version.snapshot["tools"]]
    return RunnableVersion(
        agent=frozen,
        knowledge=[(entry["question"], entry["answer"]) for entry in version.snapshot["knowledge"]],
        tools=tools,
        fillers={tool["name"]: tool["filler"] for tool in version.snapshot["tools"]
                 if tool["filler"]},
        # Versions from before documents existed hold none.
        document_ids=[row["id"] for row in version.snapshot.get("documents", [])])
