"""An agent's call opening prepared ahead (calls/realtime/opening_audio.py does the audio):
when the agent is saved (agents.tasks, after the commit), by the speech warm-up, and for each
outbound call when it is queued (its greeting and voicemail message carry the callee's name)."""

from __future__ import annotations

import asyncio
import logging

from calls.realtime.opening_audio import (
    CALL_TTL_S,
    OPENING_FIELDS,
    opening_lines,
    prepare_opening,
)

logger = logging.getLogger(__name__)


def prepare_agent_opening(agent_id: int) -> int:
    """Synthesise the opening of an agent's draft and published version into the shared cache
    (sync: a Celery task); how many clauses were made."""
    from agents.models import Agent
    from calls.realtime.agent_providers import tts_for_agent

    agent = Agent.objects.select_related("tenant", "published_version").filter(
        pk=agent_id).first()
    if agent is None:
        return 0
    lines = opening_lines(agent)
    if agent.published_version is not None:  # what callers hear now, if the draft moved on
        published = agent.published_version.snapshot.get("agent", {})
        lines += [line for name in OPENING_FIELDS if (line := published.get(name) or "").strip()]
    try:
        return asyncio.run(prepare_opening(
            tts_for_agent(agent), provider=agent.tts_provider, voice=agent.voice,
            language=agent.language, lines=list(dict.fromkeys(lines))))
    except Exception:  # an optimisation: a call synthesises what is missing
        logger.warning("Could not prepare the opening audio of agent %s", agent_id,
                       exc_info=True)
        return 0



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
