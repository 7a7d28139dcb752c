"""An agent's call opening prepared ahead (calls/realtime/opening_audio.py does the audio):
when the agent is saved (agents.tasks, after the commit) and by the speech warm-up. An outbound
call's own opening is made when it is queued (calls/opening.py)."""

from __future__ import annotations

import asyncio
import logging

from calls.realtime.opening_audio import OPENING_FIELDS, opening_lines, prepare_opening

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
