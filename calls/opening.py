"""An outbound call's own opening made while it is dialled and rings: its greeting carries the
callee's name ("Hi Ana, this is…"), so unlike the agent's opening (agents/opening.py) it cannot
be made when the agent is saved. Queued after the commit that queued the call; the task expires
with the ring (behind a backlog, a call already answered needs nothing)."""

from __future__ import annotations

import asyncio
import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction

from calls.realtime.opening_audio import CALL_TTL_S, opening_lines, prepare_opening

logger = logging.getLogger(__name__)


def prepare_call_after_commit(call) -> None:
    """Prepare outbound `call`'s opening once the transaction that queued it commits."""
    if settings.OPENING_AUDIO_PREPARE:
        call_id = call.pk
        transaction.on_commit(lambda: prepare_call_opening_audio.apply_async(
            (call_id,), expires=settings.OUTBOUND_RING_TIMEOUT_S))


# Registered with the worker through calls.tasks, which imports it.
@shared_task(name="calls.prepare_call_opening_audio", ignore_result=True, soft_time_limit=60)
def prepare_call_opening_audio(call_id: int) -> int:
    return prepare_call_opening(call_id)


def prepare_call_opening(call_id: int) -> int:
    """Synthesise what an outbound call opens with while it is dialled and rings (sync: a Celery
    task): the agent's own lines, if no call or save made them yet, and the greeting filled with
    the call's variables, kept only for `CALL_TTL_S`. The voicemail message too when the voice
    costs nothing: a paid voice would bill every call for a message few of them leave. How
    many clauses were made; 0 for a call that is not outbound or has begun."""
    from calls.call_variables import variables_open
    from calls.models import Call, CallStatus, Direction
    from calls.realtime.agent_providers import tts_for_agent
    from calls.realtime.loader import agent_of_call, outbound_opening
    from calls.realtime.providers.registry import OFFLINE_TTS

    call = Call.objects.select_related("tenant", "agent", "agent_version").filter(
        pk=call_id, direction=Direction.OUTBOUND,
        status__in=[CallStatus.QUEUED, CallStatus.RINGING]).first()
    if call is None or call.agent is None:
        return 0
    agent = agent_of_call(call)
    greeting, voicemail = outbound_opening(agent, variables_open(call.tenant,
                                                                 call.variables_sealed))
    own = [greeting, voicemail] if agent.tts_provider in OFFLINE_TTS else [greeting]
    key = {"provider": agent.tts_provider, "voice": agent.voice, "language": agent.language}

    async def prepare(tts) -> int:
        made = await prepare_opening(tts, **key, lines=opening_lines(agent))
        return made + await prepare_opening(tts, **key, lines=own, ttl_s=CALL_TTL_S)

    try:
        return asyncio.run(prepare(tts_for_agent(agent)))
    except Exception:  # an optimisation: the call synthesises what is missing
        logger.warning("Could not prepare the opening audio of call %s", call_id, exc_info=True)
        return 0
