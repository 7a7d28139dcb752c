"""Load the offline speech models before the first call instead of during it.

`make serve`, `make demo` and production processes that use the offline providers set
`OFFLINE_SPEECH_WARMUP=true`; a daemon thread then loads pocketsphinx (with the vocabulary of
every live agent that uses it) and the hibari voice while the server starts accepting calls, and
prepares the opening audio of every live agent with an offline voice (agents/opening.py).
"""

from __future__ import annotations

import asyncio
import logging
import threading

logger = logging.getLogger(__name__)
# Set once the warm-up finished (or failed): /healthz reports it, `make demo` waits for it.
speech_ready = threading.Event()


def start_warmup_thread() -> threading.Thread:
    thread = threading.Thread(target=_warm_up, name="aybiza-speech-warmup", daemon=True)
    thread.start()
    return thread


def _warm_up() -> None:
    try:
        asyncio.run(warm_offline_speech())
    except Exception:  # warming is an optimisation: the first call loads what it needs
        logger.exception("Offline speech warm-up failed")
    finally:
        speech_ready.set()


async def warm_offline_speech() -> None:
    from asgiref.sync import sync_to_async

    from agents.opening import prepare_agent_opening
    from calls.realtime.providers.stt.pocketsphinx import PocketsphinxSTT
    from calls.realtime.providers.tts.hibari import HibariTTS

    vocabularies = await sync_to_async(_live_offline_vocabularies, thread_sensitive=False)()
    stt = PocketsphinxSTT()
    await stt.warmup()
    for vocabulary in vocabularies:
        await stt.warmup(vocabulary)
    await HibariTTS().warmup()
    # Calls open with prepared audio: an embedded server's cache starts empty.
    agent_ids = await sync_to_async(_live_offline_voice_agents, thread_sensitive=False)()
    for agent_id in agent_ids:
        await sync_to_async(prepare_agent_opening, thread_sensitive=False)(agent_id)
    logger.info("Offline speech ready (%d agent vocabularies, %d openings)", len(vocabularies),
                len(agent_ids))


def _live_offline_voice_agents() -> list[int]:
    from django.db import close_old_connections

    from agents.models import Agent, AgentStatus
    from calls.realtime.providers.registry import OFFLINE_TTS

    try:
        return list(Agent.objects.filter(status=AgentStatus.LIVE, tts_provider__in=OFFLINE_TTS)
                    .values_list("id", flat=True))
    finally:
        close_old_connections()


def _live_offline_vocabularies() -> list[list[str]]:
    from django.db import close_old_connections

    from agents.models import Agent, AgentStatus
    from calls.realtime.loader import agent_stt_vocabulary

    try:
        agents = Agent.objects.filter(status=AgentStatus.LIVE, stt_provider="pocketsphinx")
        return [vocabulary for agent in agents.select_related("tenant")
                if (vocabulary := agent_stt_vocabulary(agent))]
    finally:
        close_old_connections()
