"""Clause chunking: text deltas in, speakable clauses out, as early as they are complete.

The first clause of a reply is cut at a comma too, so the caller hears audio sooner; later ones
wait for sentence ends unless they grow long.
"""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"[.!?;:](?=\s)|\n")
_SOFT_BREAK = re.compile(r",(?=\s)")
FIRST_CLAUSE_MIN_CHARS = 8
SOFT_BREAK_MIN_CHARS = 60
MAX_CLAUSE_CHARS = 220


class ClauseChunker:
    def __init__(self) -> None:
        self._pending = ""
        self._emitted = 0

    def push(self, text: str) -> list[str]:
        """Add streamed text; return the clauses now complete."""
        self._pending += text
        clauses: list[str] = []
        while True:
            clause = self._next_clause()
            if clause is None:
                break
            if clause:
                clauses.append(clause)
                self._emitted += 1
        return clauses

    def flush(self) -> list[str]:
        """The rest of the text at the end of the reply."""
        rest, self._pending = self._pending.strip(), ""
        if rest:
            self._emitted += 1
            return [rest]
        return []

    def _next_clause(self) -> str | None:
        text = self._pending
        match = _SENTENCE_END.search(text)
        cut = match.end() if match else None
        # A comma cuts early: always in the first clause, later only in a long run of words.
        min_soft = FIRST_CLAUSE_MIN_CHARS if self._emitted == 0 else SOFT_BREAK_MIN_CHARS
        for soft in _SOFT_BREAK.finditer(text):
            if soft.end() >= min_soft:
                if cut is None or soft.end() < cut:
                    cut = soft.end()
                break
        if cut is None and len(text) > MAX_CLAUSE_CHARS:
            space = text.rfind(" ", 0, MAX_CLAUSE_CHARS)
            cut = space if space > 0 else MAX_CLAUSE_CHARS
        if cut is None:
            return None
        clause, self._pending = text[:cut].strip(), text[cut:]
        return clause
