"""Which provider names exist, and the class behind each (imported only when used).

Agents store provider names; this registry turns a name into an instance. Vendor modules import
their SDKs lazily, so choosing the offline set never imports deepgram or boto3.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

STT_PROVIDERS: dict[str, str] = {
    "pocketsphinx": "calls.realtime.providers.stt.pocketsphinx.PocketsphinxSTT",
    "deepgram": "calls.realtime.providers.stt.deepgram.DeepgramSTT",
    "instant": "calls.realtime.providers.stt.instant.InstantSTT",
}
LLM_PROVIDERS: dict[str, str] = {
    "offline": "calls.realtime.providers.llm.offline.OfflineBrain",
    "bedrock": "calls.realtime.providers.llm.bedrock.BedrockLLM",
    "openai": "calls.realtime.providers.llm.openai_compat.OpenAICompatLLM",
    "instant": "calls.realtime.providers.llm.instant.InstantLLM",
}
TTS_PROVIDERS: dict[str, str] = {
    "hibari": "calls.realtime.providers.tts.hibari.HibariTTS",
    "espeak": "calls.realtime.providers.tts.espeak.EspeakTTS",
    "deepgram": "calls.realtime.providers.tts.deepgram.DeepgramTTS",
    "instant": "calls.realtime.providers.tts.instant.InstantTTS",
}

# Voices that run on this machine (no account, no network).
OFFLINE_TTS = frozenset({"hibari", "espeak"})

# Test and bench doubles (no speech, canned replies, simulated latencies): never for a real
# caller. Built only where the FAKE_PROVIDERS_ENABLED setting is on (off in production settings;
# the bench turns it on for its own server).
FAKE_PROVIDERS = frozenset({"instant"})
FAKE_PROVIDERS_SETTING = "FAKE_PROVIDERS_ENABLED"

REGISTRIES: dict[str, dict[str, str]] = {
    "stt": STT_PROVIDERS,
    "llm": LLM_PROVIDERS,
    "tts": TTS_PROVIDERS,
}


def choices(kind: str) -> list[tuple[str, str]]:
    return [(name, name) for name in REGISTRIES[kind]]


def fake_providers_enabled() -> bool:
    from django.conf import settings

    return bool(getattr(settings, FAKE_PROVIDERS_SETTING, False))


def fake_provider_refusal(kind: str, name: str) -> str | None:
    """Why provider `name` may not be used here (a fake with the setting off), else None."""
    if name in FAKE_PROVIDERS and not fake_providers_enabled():
        return (f"The {name!r} {kind} provider is a test double, available only when the "
                f"{FAKE_PROVIDERS_SETTING} setting is on.")
    return None


def provider_class(kind: str, name: str) -> type:
    refusal = fake_provider_refusal(kind, name)
    if refusal:
        raise ValueError(refusal)
    try:
        dotted = REGISTRIES[kind][name]
    except KeyError:
        raise ValueError(f"Unknown {kind} provider {name!r}.") from None
    module_name, _, class_name = dotted.rpartition(".")
    return getattr(import_module(module_name), class_name)


def build_provider(kind: str, name: str, **options: Any):
    """Instantiate provider `name` of `kind` ("stt", "llm", "tts") with its options."""
    return provider_class(kind, name)(**options)
