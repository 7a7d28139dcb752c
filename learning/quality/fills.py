"""Answers to the brain's questions as a call hears them: every *fill* utterance of an agent's
main set (a day and time, a party size, an urgency …) spoken by the offline voices and decoded
with the answers the brain's question for that argument expects (`question_phrases`, as in a
call), then read by the brain's parser for that argument. Slot accuracy with the expectation
and without it (as the speech table decodes every utterance)."""

from __future__ import annotations

from typing import Any

from agents.demo_agents import DemoAgent
from calls.realtime.providers.llm.offline.answers import question_phrases
from calls.realtime.providers.llm.offline.when import clock_of
from calls.realtime.wer import phone_band, transcribe_turns
from learning.quality.dataset import Utterance, load
from learning.quality.text import (
    argument_schema,
    conversation_for,
    fill_value,
    filled_as,
    recogniser_vocabulary,
)


def _question_phrases(demo: DemoAgent, utterance: Utterance) -> tuple[str, ...]:
    name = next(iter(utterance.slots))
    return tuple(question_phrases(name, argument_schema(demo, name) or {}))


async def evaluate_fills(demo: DemoAgent, voices: tuple[str, ...]) -> list[dict[str, Any]]:
    """Per voice: the share of answers whose every slot was filled right, with the question's
    expected answers and without."""
    from calls.realtime.providers.stt.pocketsphinx import PocketsphinxSTT

    base = conversation_for(demo)
    clock = clock_of(base)
    vocabulary = recogniser_vocabulary(demo)
    fills = [u for u in load(demo.key) if u.intent == "fill" and u.slots]
    by_question: dict[tuple[str, ...], list[Utterance]] = {}
    for utterance in fills:
        by_question.setdefault(_question_phrases(demo, utterance), []).append(utterance)
    recogniser = PocketsphinxSTT()
    results = []
    for voice in voices:
        audio = {u.text: await phone_band(u.text, voice) for u in fills}
        row: dict[str, Any] = {"voice": voice, "answers": len(fills)}
        for label, expecting in (("expected", True), ("unexpected", False)):
            right, misses = 0, []
            for phrases, utterances in by_question.items():
                heard, _ = await transcribe_turns(recogniser, [audio[u.text] for u in utterances],
                                                  vocabulary, phrases if expecting else ())
                for utterance, text in zip(utterances, heard, strict=True):
                    if all(filled_as(value, fill_value(demo, name, text, clock))
                           for name, value in utterance.slots.items()):
                        right += 1
                    else:
                        misses.append(f"{utterance.where} {utterance.text!r} → {text!r}")
            row[label] = {"slot_accuracy": right / len(fills) if fills else None,
                          "misses": misses}
        results.append(row)
    return results
