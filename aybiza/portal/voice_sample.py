"""The agent's greeting spoken by its own TTS provider and voice, as a WAV for an <audio> player
("play sample" on the agent page). Built like a call builds its voice (calls.realtime.loader):
the agent's provider options, the tenant's own credentials when it has them."""

from __future__ import annotations

import hashlib
import io
import wave

from asgiref.sync import async_to_sync
from django.core.cache import cache

from agents.models import Agent
from calls.realtime.agent_providers import tts_for_agent
from calls.realtime.audio import SAMPLE_RATE, ulaw_to_pcm16
from calls.realtime.frames import BYTES_PER_S
from calls.realtime.providers.tts.base import TTSOptions

SAMPLE_FALLBACK_TEXT = "Hello, this is how I sound on the phone."
# Samples are kept a while: replaying one must not synthesize it again.
SAMPLE_CACHE_S = 3600
MAX_SAMPLE_BYTES = BYTES_PER_S * 30  # 30 s of 8 kHz µ-law


def greeting_sample_wav(*, agent: Agent) -> bytes:
    """The agent's greeting (or a stock line) as 8 kHz mono 16-bit WAV."""
    text = agent.greeting.strip() or SAMPLE_FALLBACK_TEXT
    options = (agent.provider_options or {}).get("tts")
    key = "portal:voice-sample:" + hashlib.sha256(repr(
        (agent.tenant_id, agent.tts_provider, agent.voice, agent.language, options, text)
    ).encode()).hexdigest()
    cached = cache.get(key)
    if cached is not None:
        return cached
    tts = tts_for_agent(agent)
    ulaw = async_to_sync(_synthesize)(tts, text, TTSOptions(voice=agent.voice,
                                                             language=agent.language))
    body = io.BytesIO()
    with wave.open(body, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(ulaw_to_pcm16(ulaw).tobytes())
    cache.set(key, body.getvalue(), SAMPLE_CACHE_S)
    return body.getvalue()


async def _synthesize(tts, text: str, options: TTSOptions) -> bytes:
    audio = bytearray()
    try:
        async for chunk in tts.synthesize(text, options):
            audio += chunk
            if len(audio) >= MAX_SAMPLE_BYTES:
                break
    finally:
        await tts.aclose()
    return bytes(audio[:MAX_SAMPLE_BYTES])
