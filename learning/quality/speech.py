"""The evaluation sets spoken: each utterance synthesised by two offline voices (hibari, neural;
espeak-ng, formant) as 8 kHz µ-law like a phone line, with no noise and with noise at two
levels, decoded by the offline recogniser with the agent's own language model, then given to
the brain. Reports word error rate, and intent and slot accuracy from what was recognised."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agents.demo_agents import DemoAgent
from calls.realtime.providers.llm.offline.when import clock_of
from calls.realtime.wer import Score, phone_band, transcribe_turns
from learning.quality.dataset import Utterance
from learning.quality.text import (
    Tally,
    conversation_for,
    fill_value,
    filled_as,
    first_reply,
    recogniser_vocabulary,
    same_value,
)

VOICES = ("hibari", "espeak")
# Signal-to-noise ratios in dB; None is the clean line.
NOISE_LEVELS: tuple[float | None, ...] = (None, 20.0, 10.0)


@dataclass
class Condition:
    voice: str
    snr_db: float | None
    words: Score = field(default_factory=Score)
    # The WER target is for speech within the agent's domain: the words of utterances
    # the agent could act on (every intent but `unknown`: "banana", "how far is the moon").
    in_domain: Score = field(default_factory=Score)
    intents: Tally = field(default_factory=Tally)
    slots: Tally = field(default_factory=Tally)

    @property
    def name(self) -> str:
        return f"{self.voice}, {'clean' if self.snr_db is None else f'{self.snr_db:g} dB SNR'}"

    def as_dict(self) -> dict[str, Any]:
        return {"voice": self.voice, "snr_db": self.snr_db, "wer": round(self.words.wer, 1),
                "wer_in_domain": round(self.in_domain.wer, 1),
                "intent_accuracy": self.intents.rate, "slot_accuracy": self.slots.rate,
                "utterances": len(self.words.lines)}


def with_noise(ulaw: bytes, snr_db: float | None, seed: int) -> bytes:
    """The µ-law audio with white noise at `snr_db` below the speech's power."""
    from calls.realtime.audio import pcm16_to_ulaw, ulaw_to_pcm16

    if snr_db is None:
        return ulaw
    pcm = ulaw_to_pcm16(ulaw).astype(np.float64)
    voiced = pcm[np.abs(pcm) > 200]
    power = float(np.mean(voiced ** 2)) if voiced.size else 1.0
    noise = np.random.default_rng(seed).normal(0.0, np.sqrt(power / 10 ** (snr_db / 10)),
                                               pcm.size)
    return pcm16_to_ulaw(np.clip(pcm + noise, -32768, 32767).astype(np.int16))


def sample(utterances: list[Utterance], limit: int | None, seed: int = 7) -> list[Utterance]:
    """`limit` utterances spread over every intent (all of them when None), reproducibly."""
    if limit is None or limit >= len(utterances):
        return utterances
    shuffled = utterances[:]
    random.Random(seed).shuffle(shuffled)
    by_intent: dict[str, list[Utterance]] = {}
    for utterance in shuffled:
        by_intent.setdefault(utterance.intent, []).append(utterance)
    picked: list[Utterance] = []
    while len(picked) < limit:
        for group in by_intent.values():
            if group and len(picked) < limit:
                picked.append(group.pop())
    return picked


async def evaluate_speech(demo: DemoAgent, utterances: list[Utterance],
                          voices: tuple[str, ...] = VOICES,
                          noise_levels: tuple[float | None, ...] = NOISE_LEVELS
                          ) -> list[Condition]:
    from calls.realtime.providers.stt.pocketsphinx import PocketsphinxSTT

    base = conversation_for(demo)
    vocabulary = recogniser_vocabulary(demo)
    clock = clock_of(base)
    recogniser = PocketsphinxSTT()
    conditions = []
    for voice in voices:
        clean = [await phone_band(u.text, voice) for u in utterances]
        for snr in noise_levels:
            condition = Condition(voice, snr)
            audio = [with_noise(a, snr, seed=i) for i, a in enumerate(clean)]
            heard, _ = await transcribe_turns(recogniser, audio, vocabulary)
            for utterance, text in zip(utterances, heard, strict=True):
                condition.words.add(utterance.text, text)
                if utterance.intent != "unknown":
                    condition.in_domain.add(utterance.text, text)
                _judge(demo, utterance, text, condition, clock)
            conditions.append(condition)
    return conditions


def _judge(demo: DemoAgent, utterance: Utterance, heard: str, condition: Condition,
           clock) -> None:
    if utterance.intent == "fill":
        for name, expected in utterance.slots.items():
            condition.slots.add(filled_as(expected, fill_value(demo, name, heard, clock)))
        return
    reply = first_reply(demo, heard)
    condition.intents.add(reply.intent == utterance.intent)
    for name, expected in utterance.slots.items():
        if name != "summary":  # free text: the recogniser's words are never the caller's
            condition.slots.add(same_value(expected, reply.slots.get(name)))
