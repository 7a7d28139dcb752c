"""What each live call is doing right now — listening, thinking, speaking, running a tool — for
the dashboards. Nothing is stored: the live call's writer hands the changes here in its batches
(`calls.realtime.persistence`), they are kept in the cache (Redis in production) for pages that
open later, and pushed on the tenant's event stream for pages already open."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.cache import cache

from aybiza.core.events import EventType, publish_event

LISTENING = "listening"
THINKING = "thinking"
SPEAKING = "speaking"
TOOL = "tool"
LABELS = {LISTENING: "Listening", THINKING: "Thinking", SPEAKING: "Speaking",
          TOOL: "Running a tool"}


def _key(call_id: int) -> str:
    return f"aybiza:call-state:{call_id}"


def call_states_publish(states: list[dict[str, Any]]) -> None:
    """Keep and push the latest state of each call (dicts of tenant_id, call_id, state)."""
    latest: dict[int, dict[str, Any]] = {}
    for entry in states:  # in order: a later state of the same call wins
        latest[entry["call_id"]] = entry
    cache.set_many({_key(call_id): entry["state"] for call_id, entry in latest.items()},
                   timeout=settings.CALL_STALE_AFTER_S)
    by_tenant: dict[int, dict[str, str]] = {}
    for call_id, entry in latest.items():
        by_tenant.setdefault(entry["tenant_id"], {})[str(call_id)] = entry["state"]
    for tenant_id, calls in by_tenant.items():
        publish_event(tenant=tenant_id, type=EventType.CALL_STATE, payload={"states": calls})


def call_states(call_ids: Iterable[int]) -> dict[int, str]:
    """The last known state of these calls (calls with none known are left out)."""
    ids = list(call_ids)
    found = cache.get_many([_key(call_id) for call_id in ids])
    return {call_id: found[_key(call_id)] for call_id in ids if _key(call_id) in found}
