"""One event stream: small typed events published by services after their transaction commits.

Readers of what happens (live pages, post-call analysis, rollups, webhooks, alerts) subscribe
here instead of each service calling each feature. Delivery goes to the tenant's channel-layer
group (live pages join it) and to the subscribers registered with `subscribe`. A subscriber must
be cheap: it enqueues a Celery task or updates something small, so a live call that publishes
never waits on a reader. A failing subscriber is logged and never breaks the publisher.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)


class EventType(StrEnum):
    CALL_STARTED = "call.started"
    TURN_COMPLETED = "turn.completed"
    # What live calls are doing now (listening / thinking / speaking / tool): live pages only.
    CALL_STATE = "call.state"
    TOOL_EXECUTED = "tool.executed"
    CALL_COMPLETED = "call.completed"
    CALL_ANALYZED = "call.analyzed"
    # A vendor refused our credentials during a call: only a person can fix it (alert).
    PROVIDER_AUTH_FAILED = "provider.auth_failed"
    # An alert rule changed state (calls/alerts.py): evaluated by beat each minute.
    ALERT_FIRING = "alert.firing"
    ALERT_RESOLVED = "alert.resolved"
    # A campaign's row was called (or given up): counts per state (calls/campaigns.py).
    CAMPAIGN_PROGRESS = "campaign.progress"
    # An agent's evaluation suite run (learning/): an audio run is played by a worker on
    # `evaluation.started`; `evaluation.finished` carries its verdict (a CI can wait for it).
    EVALUATION_STARTED = "evaluation.started"
    EVALUATION_FINISHED = "evaluation.finished"


# What event webhooks carry (and may subscribe to). `turn.completed` and `call.state` (many per
# call, for live pages that show a call as it happens) stay on the tenant's live group only.
LIVE_ONLY_EVENT_TYPES = (EventType.TURN_COMPLETED, EventType.CALL_STATE)
WEBHOOK_EVENT_TYPES: tuple[EventType, ...] = tuple(
    event_type for event_type in EventType if event_type not in LIVE_ONLY_EVENT_TYPES)


@dataclass(frozen=True)
class Event:
    tenant_id: int
    type: EventType
    payload: dict[str, Any]
    at: str = field(default_factory=lambda: timezone.now().isoformat())

    def as_message(self) -> dict[str, Any]:
        """The channel-layer message; consumers handle it in their `event_message` method."""
        return {"type": "event.message", "event": self.type.value, "tenant": self.tenant_id,
                "payload": self.payload, "at": self.at}


Subscriber = Callable[[Event], None]
_subscribers: dict[EventType, list[Subscriber]] = {}


def tenant_group(tenant_id: int) -> str:
    """The channel-layer group of a tenant's live events (group names allow [a-z0-9._-])."""
    return f"tenant.{tenant_id}.events"


def subscribe(*types: EventType | str) -> Callable[[Subscriber], Subscriber]:
    """Register a handler for events of these types (decorator; idempotent per handler)."""
    def register(handler: Subscriber) -> Subscriber:
        for event_type in types:
            handlers = _subscribers.setdefault(EventType(event_type), [])
            if handler not in handlers:
                handlers.append(handler)
        return handler
    return register


def unsubscribe(handler: Subscriber) -> None:
    for handlers in _subscribers.values():
        if handler in handlers:
            handlers.remove(handler)


def publish_event(*, tenant, type: EventType | str, payload: dict[str, Any]) -> Event:
    """Publish once the current transaction commits (at once outside one).

    `tenant` is a Tenant or its id. `payload` must be JSON-serialisable and small: ids and
    a few fields, never a transcript (readers load what they need by id, inside the tenant).
    """
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    event = Event(tenant_id=tenant_id, type=EventType(type), payload=payload)
    transaction.on_commit(lambda: deliver(event))
    return event


def deliver(event: Event) -> None:
    """Hand an event to the tenant's group and to each subscriber; never raises."""
    layer = get_channel_layer()
    if layer is not None:
        try:
            async_to_sync(layer.group_send)(tenant_group(event.tenant_id), event.as_message())
        except Exception:  # a live page missing an event must not fail the call that sent it
            logger.exception("Event %s not sent to the tenant group", event.type)
    for handler in list(_subscribers.get(event.type, ())):
        try:
            handler(event)
        except Exception:
            logger.exception("Subscriber %r failed on %s", handler, event.type)
