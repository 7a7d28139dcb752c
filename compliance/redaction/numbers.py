"""Digit runs: written digits and spoken number words read as one sequence of digits.

"four five six seven", "oh four twenty six", "double five", "4111 1111-1111 1111" and
"five five five, one two three" all become runs with the digits, their character span, the
groups their separators mark (for 3-2-4 SSNs) and where each word's digits start and end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from aybiza.core.spoken import DIGIT_WORDS, ONES_VALUE, TENS_VALUE

TOKEN = re.compile(r"\d+|[A-Za-z]+|[^\sA-Za-z\d]")

# Digit strings for the shared vocabulary (aybiza/core/spoken.py): "seven" → "7",
# "fifteen" → "15", "twenty" → "2" (its tens digit; a following unit completes it).
UNITS = {word: str(value) for word, value in DIGIT_WORDS.items()}
TEENS = {word: str(value) for word, value in ONES_VALUE.items() if value >= 10}
TENS = {word: str(value // 10) for word, value in TENS_VALUE.items()} | {"fourty": "4"}
REPEAT = {"double": 2, "triple": 3}
SCALES = {"hundred": 2, "thousand": 3}
FILLERS = frozenset({"uh", "um", "umm", "uhm", "er", "erm", "ah", "hmm"})
SEPARATORS = frozenset({",", "-", ".", "/", "slash", "dash"})


@dataclass
class DigitRun:
    digits: str = ""
    start: int = 0
    end: int = 0
    spoken: bool = False
    plus: bool = False
    groups: list[int] = field(default_factory=list)
    # (digit offset where the word's digits end, char start, char end) per word.
    words: list[tuple[int, int, int]] = field(default_factory=list)
    _group_open: int = 0
    _last_written: bool = False
    _scale: int = 0
    _scale_end: int = 0

    def add(self, digits: str, start: int, end: int, written: bool) -> None:
        if not self.words:
            self.start = start
        elif written and self._last_written and self._group_open:
            self._close_group()  # "4111 1111": written blocks are groups of their own
        if self._scale:
            digits, self._scale = digits.zfill(self._scale), 0
        self.digits += digits
        self._group_open += len(digits)
        self.words.append((len(self.digits), start, end))
        self.end, self.spoken = end, self.spoken or not written
        self._last_written = written

    def scale(self, width: int, end: int) -> bool:
        """"hundred" / "thousand" after a spoken number: pads what follows, or zeros."""
        if not self.words or self._last_written or self._scale:
            return False
        self._scale, self._scale_end = width, end
        return True

    @property
    def pending_scale(self) -> bool:
        return bool(self._scale)

    def separate(self) -> None:
        if self._group_open:
            self._close_group()

    def _close_group(self) -> None:
        self.groups.append(self._group_open)
        self._group_open = 0

    def finish(self) -> DigitRun:
        if self._scale:  # "four hundred" → 400
            self.digits += "0" * self._scale
            self._group_open += self._scale
            offset, start, _ = self.words[-1]
            self.words[-1] = (offset + self._scale, start, self._scale_end)
            self.end, self._scale = self._scale_end, 0
        self.separate()
        return self

    def split_at(self, offset: int) -> tuple[int, int] | None:
        """Char end of the word ending at digit `offset`, and the next word's start."""
        for index, (word_end, _, char_end) in enumerate(self.words[:-1]):
            if word_end == offset:
                return char_end, self.words[index + 1][1]
        return None


def digit_runs(
    text: str, start: int = 0, end: int | None = None, *, hard: frozenset[str] = frozenset()
) -> tuple[list[DigitRun], int]:
    """The digit runs of `text[start:end]` (spans into `text`), and how many written digits it
    holds (a cheap pre-check). Separators in `hard` end a run instead of grouping it."""
    tokens = [(m.group(), m.start(), m.end())
              for m in TOKEN.finditer(text, start, len(text) if end is None else end)]
    runs: list[DigitRun] = []
    written_digits = 0
    run: DigitRun | None = None
    plus = False
    i, count = 0, len(tokens)
    while i < count:
        token, start, end = tokens[i]
        word = token.lower()
        digits, last = _number_at(tokens, i)
        if digits is not None:
            if token.isdigit():
                written_digits += len(token)
            if run is None:
                run, plus = DigitRun(plus=plus), False
            run.add(digits, start, tokens[last][2], written=token.isdigit())
            i = last + 1
            continue
        if run is None or not _continues(run, word, end, hard):
            if run is not None:
                runs.append(run.finish())
                run = None
            plus = word in ("plus", "+")
        i += 1
    if run is not None:
        runs.append(run.finish())
    return runs, written_digits


def _continues(run: DigitRun, word: str, end: int, hard: frozenset[str]) -> bool:
    """Whether a token that is not a number keeps the run going."""
    if word in hard:
        return False
    if word in SEPARATORS:
        run.separate()
        return True
    if word in FILLERS:
        return True
    if word in SCALES:
        return run.scale(SCALES[word], end)
    return word == "and" and run.pending_scale


def _number_at(tokens: list[tuple[str, int, int]], i: int) -> tuple[str | None, int]:
    """The digits of the number starting at token i, and the index of its last token."""
    token = tokens[i][0]
    if token.isdigit():
        return token, i
    word = token.lower()
    if word in UNITS:
        return UNITS[word], i
    if word in TEENS:
        return TEENS[word], i
    if word in TENS:
        j = i + 1
        if j < len(tokens) and tokens[j][0] == "-":
            j += 1
        unit = tokens[j][0].lower() if j < len(tokens) else ""
        if unit in UNITS and UNITS[unit] != "0":  # "twenty six" → 26, "twenty" → 20
            return TENS[word] + UNITS[unit], j
        return TENS[word] + "0", i
    if word in REPEAT and i + 1 < len(tokens):
        unit = tokens[i + 1][0].lower()
        if unit in UNITS:
            return UNITS[unit] * REPEAT[word], i + 1
    return None, i
