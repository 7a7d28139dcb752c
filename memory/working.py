"""Short-term memory: a call cut off mid-conversation continues when the caller rings back.

When a call drops while the agent is waiting for an answer (the caller hung up or the line went
after "What day and time would you like?"), the session hands its conversation here; it is kept
in the cache — Redis in production, the process's memory in the embedded default — sealed with
the tenant's data key, for the agent's `resume_window_minutes`. The next call from the same
contact to the same agent within that window takes it (once): the conversation goes on where it
stopped and the greeting says so. Nothing is kept for a caller who may not be remembered, and
forgetting a caller, their erasure, or a call that ends normally removes it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from compliance.crypto import decrypt_text_for_tenant, encrypt_text_for_tenant

logger = logging.getLogger(__name__)

CONTEXT = "memory.working"
MAX_MESSAGES = 40


@dataclass(frozen=True)
class Resumable:
    """The conversation of a dropped call, as the session's messages (plain dicts)."""

    from_call_id: int
    saved_at: str
    messages: list[dict[str, Any]]


def _key(tenant_id: int, contact_id: int) -> str:
    return f"aybiza:working-memory:{tenant_id}:{contact_id}"


def working_memory_keep(*, call, messages: list[dict[str, Any]]) -> bool:
    """Keep `call`'s conversation for a call back (empty `messages`: the call finished, so an
    older conversation kept for this caller is dropped). True when something was kept."""
    contact, agent = call.contact, call.agent
    if contact is None:
        return False
    key = _key(call.tenant_id, contact.pk)
    window = getattr(agent, "resume_window_minutes", 0) if agent is not None else 0
    if not messages or not window or contact.do_not_remember or not agent.remember_callers:
        cache.delete(key)
        return False
    payload = {"call_id": call.pk, "agent_id": agent.pk, "saved_at": timezone.now().isoformat(),
               "messages": messages[-MAX_MESSAGES:]}
    sealed = encrypt_text_for_tenant(call.tenant, json.dumps(payload), context=CONTEXT)
    cache.set(key, sealed, timeout=window * 60)
    return True


def working_memory_take(*, call) -> Resumable | None:
    """The dropped conversation `call`'s caller may continue (removed: it resumes once), or
    None: none kept, expired, another agent's, or the caller may not be remembered now."""
    contact, agent = call.contact, call.agent
    if contact is None or agent is None:
        return None
    key = _key(call.tenant_id, contact.pk)
    sealed = cache.get(key)
    if sealed is None:
        return None
    cache.delete(key)
    if contact.do_not_remember or not agent.remember_callers or not agent.resume_window_minutes:
        return None
    try:
        payload = _unseal(call.tenant, sealed)
    except Exception:  # a rotated-away key or a damaged entry: start afresh
        logger.warning("A kept conversation could not be read for call %s", call.pk)
        return None
    return _resumable(payload) if payload.get("agent_id") == agent.pk else None


def working_memory_peek(*, tenant, contact) -> Resumable | None:
    """What is kept for this contact, without taking it (data-subject export)."""
    sealed = cache.get(_key(tenant.pk, contact.pk))
    return _resumable(_unseal(tenant, sealed)) if sealed is not None else None


def _unseal(tenant, sealed: str) -> dict[str, Any]:
    return json.loads(decrypt_text_for_tenant(tenant, sealed, context=CONTEXT))


def _resumable(payload: dict[str, Any]) -> Resumable:
    return Resumable(from_call_id=payload["call_id"], saved_at=payload["saved_at"],
                     messages=list(payload["messages"]))


def working_memory_forget(*, tenant_id: int, contact_id: int) -> None:
    cache.delete(_key(tenant_id, contact_id))
