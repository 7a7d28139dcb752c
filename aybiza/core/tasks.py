"""Event webhooks off the call's path: fan-out and delivery as Celery tasks (queue "default"),
retries by beat (`core.retry_webhooks`, every minute, scheduled by migration 0004)."""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor, wait

from celery import current_app, shared_task

from aybiza.core.events import WEBHOOK_EVENT_TYPES, Event, EventType, subscribe

logger = logging.getLogger(__name__)
# The embedded default runs tasks in-process: webhooks go to background threads, never the live
# call's event loop nor the writer saving other calls' turns (an endpoint may take seconds).
_in_process = ThreadPoolExecutor(max_workers=2, thread_name_prefix="webhooks")
_queued: set[Future] = set()


@shared_task(name="core.fan_out_event", ignore_result=True)
def fan_out_event(tenant_id: int, event_type: str, payload: dict, at: str) -> None:
    from aybiza.core.webhooks import deliveries_for_event

    event = Event(tenant_id=tenant_id, type=EventType(event_type), payload=payload, at=at)
    for delivery_id in deliveries_for_event(event):
        deliver_webhook.delay(delivery_id)


@shared_task(name="core.deliver_webhook", ignore_result=True)
def deliver_webhook(delivery_id: int) -> None:
    from aybiza.core.webhooks import delivery_attempt

    delivery_attempt(delivery_id=delivery_id)


@shared_task(name="core.retry_webhooks", ignore_result=True)
def retry_webhooks() -> int:
    from aybiza.core.webhooks import deliveries_due

    due = deliveries_due()
    for delivery_id in due:
        deliver_webhook.delay(delivery_id)
    return len(due)


@subscribe(*WEBHOOK_EVENT_TYPES)
def webhook_events(event: Event) -> None:
    from aybiza.core.models import WebhookEndpoint

    # One indexed query where the event was published; most tenants subscribe nothing.
    if not WebhookEndpoint.objects.filter(tenant_id=event.tenant_id, is_active=True).exists():
        return
    arguments = (event.tenant_id, event.type.value, event.payload, event.at)
    if current_app.conf.task_always_eager:
        future = _in_process.submit(_run_in_process, arguments)
        _queued.add(future)
        future.add_done_callback(_queued.discard)
    else:
        fan_out_event.delay(*arguments)


def _run_in_process(arguments: tuple) -> None:
    from django.db import close_old_connections

    close_old_connections()
    try:
        fan_out_event.apply(args=arguments, throw=True)
    except Exception:
        logger.exception("Webhook fan-out of %s failed", arguments[1])
    finally:
        close_old_connections()


def wait_for_in_process_webhooks(timeout_s: float = 30.0) -> None:
    """Block until the webhooks queued in this process so far were sent (tests)."""
    wait(list(_queued), timeout=timeout_s)
