"""The offline brain answering from the agent's documents: the best passage found for the
caller's words (calls/realtime/knowledge.py), cut to what is comfortable to hear."""

from __future__ import annotations

import re

from aybiza.core.text import sentences

SOURCE = re.compile(r"^\[[^\]]*\]\s*")  # "[Handbook — Parking] " before the passage's words
SPOKEN_CHARS = 280


def passage_answer(passages: list[str]) -> str:
    """The first sentences of the best passage (about SPOKEN_CHARS), or "" with none."""
    if not passages:
        return ""
    text = " ".join(SOURCE.sub("", passages[0]).split())
    answer = ""
    for sentence in sentences(text):
        if answer and len(answer) + 1 + len(sentence) > SPOKEN_CHARS:
            break
        answer = f"{answer} {sentence}".strip()
    return answer[:SPOKEN_CHARS + 120]
