"""Names as the offline agent hears them after asking for one: each name of `sets/names.txt`
spoken by the offline voices over the phone line and decoded by the agent's recogniser with the
names expected (as after the brain's "What name should the booking be under?",
`answers.name_phrases`) and without, for the agents whose tools take a person's name."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from agents.demo_agents import DemoAgent
from calls.realtime.providers.llm.offline.answers import is_person_name, name_phrases
from calls.realtime.wer import phone_band, transcribe_turns
from learning.quality.text import conversation_for, recogniser_vocabulary

NAMES_FILE = Path(__file__).with_name("sets") / "names.txt"


def load_names() -> list[str]:
    return [line.strip() for line in NAMES_FILE.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]


def takes_a_name(demo: DemoAgent) -> bool:
    return any(is_person_name(name, schema)
               for tool in conversation_for(demo).tools
               for name, schema in tool.parameters.get("properties", {}).items())


def _words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]", " ", text.lower()).split()


async def evaluate_names(demo: DemoAgent, voices: tuple[str, ...],
                         names: list[str] | None = None) -> list[dict[str, Any]]:
    """Per voice: how many names were heard whole, and their given names, with the names
    expected and without."""
    from calls.realtime.providers.stt.pocketsphinx import PocketsphinxSTT

    names = load_names() if names is None else names
    vocabulary = recogniser_vocabulary(demo)
    recogniser = PocketsphinxSTT()
    results = []
    for voice in voices:
        audio = [await phone_band(f"{name}.", voice) for name in names]
        row: dict[str, Any] = {"voice": voice, "names": len(names)}
        for label, expected in (("expected", name_phrases()), ("unexpected", ())):
            heard, _ = await transcribe_turns(recogniser, audio, vocabulary, expected)
            said = [_words(name) for name in names]
            got = [_words(text) for text in heard]
            row[label] = {
                "whole": sum(s == g for s, g in zip(said, got, strict=True)) / len(names),
                "given": sum(g[:1] == s[:1] for s, g in zip(said, got, strict=True))
                / len(names),
                "heard": heard}
        results.append(row)
    return results
