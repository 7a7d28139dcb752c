"""Post-call analysis as a Celery task (queue "default"), queued when a call completes."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from celery import current_app, shared_task

from aybiza.core.events import Event, EventType, subscribe

logger = logging.getLogger(__name__)
# The embedded default runs tasks in-process: analyses go to one background thread, never on
# the live call's event loop nor on the writer that saves other calls' turns.
_in_process = ThreadPoolExecutor(max_workers=1, thread_name_prefix="call-analysis")


@shared_task(name="learning.analyze_call", ignore_result=True, acks_late=True,
             autoretry_for=(ConnectionError,), max_retries=3, retry_backoff=2)
def analyze_call(call_id: int) -> None:
    from learning.services import call_analyze

    call_analyze(call_id=call_id)


@shared_task(name="learning.advance_rollouts", ignore_result=True)
def advance_rollouts() -> int:
    """Beat, every 5 minutes (migration 0003): staged rollouts advance or roll back."""
    from learning.rollouts import rollouts_advance

    return len(rollouts_advance())


@shared_task(name="learning.run_learning_jobs", ignore_result=True)
def run_learning_jobs() -> int:
    """Beat, nightly (migration 0005): every agent with calls analysed since its last run."""
    from agents.models import Agent
    from learning.suggestions import learning_run

    ran = 0
    for agent in Agent.objects.filter(calls__analysis__isnull=False).distinct().select_related(
            "tenant"):
        try:
            learning_run(tenant=agent.tenant, agent=agent)
            ran += 1
        except Exception:  # one agent's failure never stops the others
            logger.exception("Learning job failed for agent %s", agent.pk)
    return ran


@subscribe(EventType.CALL_COMPLETED)
def analyze_completed_call(event: Event) -> None:
    from django.conf import settings

    call_id = event.payload.get("call_id")
    if not call_id or not settings.POST_CALL_ANALYSIS:
        return
    if current_app.conf.task_always_eager:
        _in_process.submit(_run_in_process, call_id)
    else:
        analyze_call.delay(call_id)


def _run_in_process(call_id: int) -> None:
    from django.db import close_old_connections

    close_old_connections()
    try:
        analyze_call.apply(args=(call_id,), throw=True)
    except Exception:
        logger.exception("Analysis of call %s failed", call_id)
    finally:
        close_old_connections()


def wait_for_in_process_analyses(timeout_s: float = 30.0) -> None:
    """Block until the analyses queued in this process so far have run (tests, the demo)."""
    _in_process.submit(lambda: None).result(timeout=timeout_s)
