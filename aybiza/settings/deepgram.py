"""Deepgram (STT nova-3, TTS Aura-2). Used only by agents that choose the deepgram providers."""

from .env import env

DEEPGRAM_API_KEY: str = env("DEEPGRAM_API_KEY", default="")
# Endpoint overrides (local fakes in tests): REST base and WebSocket base.
DEEPGRAM_BASE_URL: str = env("DEEPGRAM_BASE_URL", default="https://api.deepgram.com")
DEEPGRAM_WS_URL: str = env("DEEPGRAM_WS_URL", default="wss://api.deepgram.com")
DEEPGRAM_STT_MODEL: str = env("DEEPGRAM_STT_MODEL", default="nova-3")
DEEPGRAM_TTS_MODEL: str = env("DEEPGRAM_TTS_MODEL", default="aura-2-thalia-en")
