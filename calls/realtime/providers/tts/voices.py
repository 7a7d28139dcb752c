"""Which voice names a TTS provider can actually speak with, checked when an agent is saved.

A voice that does not exist for its provider (left over after switching provider, or an offline
voice that is not installed) would fail every utterance; the call falls back to the provider's
default voice (calls/realtime/session.py), but the agent's owner should hear about it first.
"""

from __future__ import annotations

import re

# Deepgram Aura model names: aura-<voice>-<language> or aura-2-<voice>-<language>.
_AURA = re.compile(r"aura(?:-2)?-[a-z]+-[a-z]{2}")


def voice_refusal(provider: str, voice: str) -> str | None:
    """Why `voice` cannot be used with TTS `provider`, or None when it can (blank: default)."""
    voice = voice.strip()
    if not voice:
        return None
    if provider == "hibari":
        from calls.realtime.providers.tts.hibari import resolve_voice, voice_installed

        try:
            name = resolve_voice(voice)
        except ValueError:
            return (f"Unknown hibari voice {voice!r}; the voices installed here: "
                    f"{', '.join(installed_voices())}.")
        if not voice_installed(name):
            return (f"The hibari voice {voice!r} is not installed on this server (voices are "
                    f"not downloaded during calls); installed: {', '.join(installed_voices())}.")
        return None
    if provider == "deepgram" and not _AURA.fullmatch(voice):
        return (f"{voice!r} is not a Deepgram Aura voice: use a model name such as "
                "aura-2-thalia-en, or leave it blank for the default.")
    return None


def installed_voices() -> list[str]:
    """The hibari voices whose model is on disk."""
    from hibari.voices import VOICES

    from calls.realtime.providers.tts.hibari import voice_installed

    return [name for name in VOICES if voice_installed(name)]


# Deepgram's Aura-2 English voices (any aura-2-<voice>-<language> model name is accepted).
DEEPGRAM_VOICES = ("aura-2-thalia-en", "aura-2-andromeda-en", "aura-2-helena-en",
                   "aura-2-apollo-en", "aura-2-arcas-en", "aura-2-aries-en",
                   "aura-2-asteria-en", "aura-2-luna-en", "aura-2-orion-en", "aura-2-zeus-en")


def available_voices() -> list[dict[str, str]]:
    """Voices an agent may choose, per TTS provider: the hibari voices installed on this
    server and Deepgram's Aura-2 voices. Blank `voice` on an agent means the provider default."""
    voices = [{"provider": "hibari", "voice": name} for name in installed_voices()]
    voices += [{"provider": "deepgram", "voice": name} for name in DEEPGRAM_VOICES]
    return voices
