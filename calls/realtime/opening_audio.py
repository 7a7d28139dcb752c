"""The opening of a call — the recording disclosure, the consent question, the greeting —
synthesised before anyone calls, so the caller hears it the moment the stream starts.

Audio is kept in the cache (Redis in production: every daphne process shares it; the process's
memory in the embedded default) per clause, keyed by the TTS provider, voice, language and the
clause's words: a version that did not change its greeting reuses the audio, a new greeting gets
new audio. It is prepared when an agent is saved or published (a Celery task), by the offline
speech warm-up for live agents, and kept from a call that had to synthesise it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.core.cache import cache

from calls.realtime.chunker import ClauseChunker

KEY_PREFIX = "opening-audio:"
TTL_S = 30 * 24 * 3600
# One outbound call's own lines ("Hi Ana, this is…"), made before it is answered: kept only as
# long as a call rings and runs, so a campaign does not leave its callees' names in the cache.
CALL_TTL_S = 30 * 60
# A clause this long is not an opening line (and would hold a lot of audio): not cached.
MAX_CLAUSE_CHARS = 300


def clauses_of(lines: Iterable[str]) -> list[str]:
    """The clauses a call speaks for `lines`, split exactly as the session splits them."""
    found = []
    for line in lines:
        chunker = ClauseChunker()
        found += [c.strip() for c in chunker.push(line) + chunker.flush() if c.strip()]
    return found


def audio_key(provider: str, voice: str, language: str, clause: str) -> str:
    digest = hashlib.sha256(f"{provider}\n{voice}\n{language}\n{clause}".encode()).hexdigest()
    return KEY_PREFIX + digest


OPENING_FIELDS = ("greeting", "outbound_greeting", "recording_disclosure", "consent_prompt")


def opening_lines(agent) -> list[str]:
    """Every line a call of `agent` may open with (its fields, or a version's)."""
    lines = [getattr(agent, name, "") for name in OPENING_FIELDS]
    # A line with a call's variables ("Hi {{name}}") differs per call: never prepared.
    return [line for line in lines if line and line.strip() and "{{" not in line]


def cached_opening(*, provider: str, voice: str, language: str,
                   lines: Iterable[str]) -> dict[str, bytes]:
    """Clause → µ-law audio for the clauses of `lines` already prepared (sync: the loader)."""
    wanted = {audio_key(provider, voice, language, c): c for c in clauses_of(lines)
              if len(c) <= MAX_CLAUSE_CHARS}
    if not wanted:
        return {}
    found = cache.get_many(list(wanted))
    return {wanted[key]: audio for key, audio in found.items() if isinstance(audio, bytes)}


def keep_clause(*, provider: str, voice: str, language: str, clause: str, audio: bytes,
                ttl_s: int = TTL_S) -> None:
    """Keep audio a call synthesised for an opening clause (sync: run it off the event loop)."""
    if audio and len(clause) <= MAX_CLAUSE_CHARS:
        cache.set(audio_key(provider, voice, language, clause), bytes(audio), ttl_s)


async def prepare_opening(tts, *, provider: str, voice: str, language: str,
                          lines: Iterable[str], ttl_s: int = TTL_S) -> int:
    """Synthesise the clauses of `lines` not prepared yet with `tts`; how many were made."""
    from asgiref.sync import sync_to_async

    from calls.realtime.providers.tts.base import TTSOptions

    clauses = clauses_of(lines)
    have = await sync_to_async(cached_opening, thread_sensitive=False)(
        provider=provider, voice=voice, language=language, lines=clauses)
    options = TTSOptions(voice=voice, language=language)
    made = 0
    for clause in clauses:
        if clause in have or len(clause) > MAX_CLAUSE_CHARS:
            continue
        audio = b"".join([chunk async for chunk in tts.synthesize(clause, options)])
        await sync_to_async(keep_clause, thread_sensitive=False)(
            provider=provider, voice=voice, language=language, clause=clause, audio=audio,
            ttl_s=ttl_s)
        made += 1
    return made

