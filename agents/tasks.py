"""The agents app's background work."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import transaction


@shared_task(name="agents.prepare_opening_audio", ignore_result=True, soft_time_limit=120)
def prepare_opening_audio(agent_id: int) -> int:
    """Synthesise what calls of the agent open with, so they start at once (agents.opening)."""
    from agents.opening import prepare_agent_opening

    return prepare_agent_opening(agent_id)


def prepare_after_commit(agent) -> None:
    """Prepare `agent`'s opening once the transaction that saved it commits."""
    if settings.OPENING_AUDIO_PREPARE:
        agent_id = agent.pk
        transaction.on_commit(lambda: prepare_opening_audio.delay(agent_id))


@shared_task(name="agents.prepare_call_opening_audio", ignore_result=True, soft_time_limit=60)
def prepare_call_opening_audio(call_id: int) -> int:
    """Synthesise an outbound call's opening while it is dialled (agents.opening)."""
    from agents.opening import prepare_call_opening

    return prepare_call_opening(call_id)


def prepare_call_after_commit(call) -> None:
    """Prepare outbound `call`'s opening once the transaction that queued it commits."""
    if settings.OPENING_AUDIO_PREPARE:
        call_id = call.pk
        # Expires with the ring: behind a backlog, a call already answered needs nothing.
        transaction.on_commit(lambda: prepare_call_opening_audio.apply_async(
            (call_id,), expires=settings.OUTBOUND_RING_TIMEOUT_S))
