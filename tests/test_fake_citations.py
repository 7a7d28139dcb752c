"""The fakes at the wire say where their protocol comes from: only files a reader can open."""

from __future__ import annotations

import re
from pathlib import Path

FAKES = Path(__file__).resolve().parent / "fakes"
REPO = FAKES.parent.parent
# A cited repository file (`calls/twilio.py`) or a protocol document by name.
CITED_FILE = re.compile(r"`([\w./-]+\.(?:py|md|txt|json))`")
DOCUMENT_NAME = re.compile(r"\b([A-Z][A-Z_]+\.md|PROTOCOLS)\b")


def test_every_file_a_fake_cites_is_in_the_repository():
    missing = []
    for fake in sorted(FAKES.glob("*.py")):
        text = fake.read_text()
        for path in CITED_FILE.findall(text):
            if "/" in path and not path.startswith("/") and not (REPO / path).exists():
                missing.append(f"{fake.name}: {path}")
        for name in DOCUMENT_NAME.findall(text):
            if not list(REPO.rglob(name if name.endswith(".md") else f"{name}.md")):
                missing.append(f"{fake.name}: {name}")
    assert missing == []
