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

REGISTRIES: dict[str, dict[str, str]] = {
    "stt": STT_PROVIDERS,
    "llm": LLM_PROVIDERS,
    "tts": TTS_PROVIDERS,
}


def choices(kind: str) -> list[tuple[str, str]]:
    return [(name, name) for name in REGISTRIES[kind]]


def provider_class(kind: str, name: str) -> type:
    try:
        dotted = REGISTRIES[kind][name]
    except KeyError:
        raise ValueError(f"Unknown {kind} provider {name!r}.") from None
    module_name, _, class_name = dotted.rpartition(".")
    return getattr(import_module(module_name), class_name)


def build_provider(kind: str, name: str, **options: Any):
    """Instantiate provider `name` of `kind` ("stt", "llm", "tts") with its options."""
    return provider_class(kind, name)(**options)
