"""Calls' scheduled jobs (Celery beat, scheduled by migration 0004)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from calls.opening import prepare_call_opening_audio  # noqa: F401 (registered with the worker)
from calls.services import calls_reconcile


@shared_task(name="calls.reconcile_statuses")
def reconcile_statuses() -> int:
    """Close calls left open by a lost stream or status callback; asks Twilio when configured."""
    fetch = None
    if settings.TWILIO_ACCOUNT_SID:
        from calls.twilio import call_status

        fetch = call_status
    return calls_reconcile(fetch_status=fetch)


@shared_task(name="calls.evaluate_alerts", ignore_result=True, soft_time_limit=50,
             time_limit=55)
def evaluate_alerts() -> int:
    """Evaluate every enabled alert rule (beat, each minute); notify changes of state."""
    from calls.alerts import alerts_evaluate

    return alerts_evaluate()


@shared_task(name="calls.rollup_metrics", ignore_result=True)
def rollup_metrics() -> int:
    """Recompute the current and previous hour's rollups (beat, every 5 minutes)."""
    from calls.rollups import rollups_refresh

    return rollups_refresh()


@shared_task(name="calls.prune_metrics", ignore_result=True)
def prune_metrics() -> dict[str, int]:
    """Delete raw call events and rollups past their retention (beat, daily)."""
    from calls.rollups import metrics_prune

    return metrics_prune()



@shared_task(name="calls.dialer_tick", ignore_result=True, soft_time_limit=50, time_limit=55)
def dialer_tick() -> dict[str, int]:
    """Move running campaigns forward and place queued calls (beat, every 5 s; and at once
    when a campaign starts or a call ends, through `dialer_kick`)."""
    from calls.dialer import dialer_tick as tick

    return tick()


KICK_KEY = "aybiza:dialer-kick"
KICK_EVERY_S = 1


def dialer_kick() -> None:
    """Tick the dialer soon, off the caller's path: a Celery task in production; in the
    embedded default (tasks in-process, no beat) the in-process clock, which ticks every
    second while a campaign runs or a call waits to be dialled."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        if settings.DIALER_EMBEDDED_CLOCK:
            from calls.dialer_clock import embedded_clock

            embedded_clock.wake()
    elif cache.add(KICK_KEY, 1, timeout=KICK_EVERY_S):
        # At most one kick a second whatever the call volume (beat ticks every 5 s anyway).
        dialer_tick.delay()
