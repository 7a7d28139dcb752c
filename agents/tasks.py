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
