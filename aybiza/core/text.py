"""Text that can be stored and read back on every database we run on.

PostgreSQL refuses NUL characters in text and JSON, and no encoder can write a lone UTF-16
surrogate ("\\ud800") as UTF-8: stored through SQLite it makes every later read of the row a 500.
Requests carrying them are refused (`aybiza.core.parsers`); what comes from outside our control
(a tool's web service, a recogniser, a webhook receiver) is repaired with `storable` instead.
"""

from __future__ import annotations

import re
from typing import Any

LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
REPLACEMENT = "\ufffd"  # what UTF-8 decoders put for bytes that are not text


def storable(value: Any) -> Any:
    """`value` (text, or JSON-like data: keys too) with NUL characters dropped and lone
    surrogates replaced by U+FFFD. Values that need no repair come back as they are."""
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "")
        return LONE_SURROGATE.sub(REPLACEMENT, value) if LONE_SURROGATE.search(value) else value
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    return value


def sentences(text: str) -> list[str]:
    """`text` cut after each ".", "!" or "?" followed by a space; empty pieces dropped."""
    return [sentence for sentence in SENTENCE_END.split(text.strip()) if sentence]
