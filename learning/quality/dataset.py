"""The evaluation sets: one caller utterance per line, labelled with its intent, the slot values
the brain must fill and words its reply must hold.

    intent | what the caller says | name=value; name=value | words the reply holds

Lines starting with # are comments. Every set is read against one fixed clock (`NOW`) so that
"tomorrow at ten" has one right answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

SETS = Path(__file__).with_name("sets")
# Wednesday 2 December 2026, 9:30 in the morning at the demo businesses.
NOW = datetime(2026, 12, 2, 9, 30, tzinfo=ZoneInfo("America/New_York"))
INTENTS = ("book", "cancel", "reschedule", "question", "problem", "human", "goodbye", "unknown",
           "fill")


class DatasetError(ValueError):
    """A line of a set that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class Utterance:
    intent: str
    text: str
    slots: dict[str, str] = field(default_factory=dict)
    expect: str = ""
    where: str = ""  # file:line, for reports


SPLITS = ("main", "heldout")


def load(agent_key: str, split: str = "main") -> list[Utterance]:
    """The evaluation set of the demo agent `agent_key` (dental, restaurant, helpdesk): the
    main set, or the held-out one written after the brain was tuned on the main set."""
    path = SETS / f"{agent_key}.txt" if split == "main" else SETS / split / f"{agent_key}.txt"
    utterances = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{path.relative_to(SETS)}:{number}"
        parts = [part.strip() for part in line.split("|")]
        if len(parts) != 4 or parts[0] not in INTENTS or not parts[1]:
            raise DatasetError(f"{where}: expected 'intent | text | slots | expect' with an "
                               f"intent among {', '.join(INTENTS)}.")
        slots = {}
        for pair in filter(None, (p.strip() for p in parts[2].split(";"))):
            name, sep, value = pair.partition("=")
            if not sep or not name.strip() or not value.strip():
                raise DatasetError(f"{where}: slots are name=value pairs separated by ';'.")
            slots[name.strip()] = value.strip()
        utterances.append(Utterance(parts[0], parts[1], slots, parts[3], where))
    return utterances
