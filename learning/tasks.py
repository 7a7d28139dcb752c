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


# Audio evaluations take real time (their conversations): in the embedded default they get a
# thread of their own, never the request that started them.
_in_process_evaluations = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evaluation")


@shared_task(name="learning.run_evaluation", ignore_result=True, acks_late=True)
def run_evaluation(run_id: int) -> None:
    """Play an audio evaluation run's scenarios as calls (learning/audio_eval.py)."""
    from learning.services import evaluation_play

    evaluation_play(run_id=run_id)


@subscribe(EventType.EVALUATION_STARTED)
def play_started_evaluation(event: Event) -> None:
    """An audio run was started: a worker plays it (this process's evaluation thread when
    tasks run in-process)."""
    run_id = event.payload.get("run_id")
    if not run_id or event.payload.get("mode") != "audio":
        return
    if current_app.conf.task_always_eager:
        _in_process_evaluations.submit(_evaluate_in_process, run_id)
    else:
        run_evaluation.delay(run_id)


def wait_for_in_process_evaluations(timeout_s: float = 600.0) -> None:
    """Block until the evaluations queued in this process so far have run (tests, commands)."""
    _in_process_evaluations.submit(lambda: None).result(timeout=timeout_s)


def _evaluate_in_process(run_id: int) -> None:
    from django.db import close_old_connections

    close_old_connections()
    try:
        run_evaluation.apply(args=(run_id,), throw=True)
    except Exception:
        logger.exception("Evaluation %s failed", run_id)
    finally:
        close_old_connections()


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
