"""One vocabulary for what callers say: numbers, yes/no and Luhn, with no copies elsewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

from aybiza.core.spoken import luhn_valid, number_words, yes_no

PRODUCT_PACKAGES = ("agents", "aybiza", "calls", "compliance", "learning", "memory", "tools")
# Fingerprints of the logic that used to be written several times (issue 19).
COPIES = {
    "Luhn": re.compile(r"\* 2 - 9"),
    "yes/no words": re.compile(r"[\"'\s]affirmative[\"'\s]|[\"'\s]nope[\"'\s]"),
    "number words": re.compile(r"[\"'\s]seventeen[\"'\s]"),
}


def _product_sources():
    base = Path(settings.BASE_DIR)
    for package in PRODUCT_PACKAGES:
        for path in (base / package).rglob("*.py"):
            parts = set(path.relative_to(base).parts)
            if not parts & {"tests", "migrations", "bench"}:
                yield path


@pytest.mark.parametrize("what", sorted(COPIES))
def test_product_code_holds_one_copy(what):
    holders = [str(path.relative_to(settings.BASE_DIR)) for path in _product_sources()
               if COPIES[what].search(path.read_text())]

    assert holders == ["aybiza/core/spoken.py"]


def test_yes_and_no():
    assert yes_no("Yes, please.") is True
    assert yes_no("yeah go ahead") is True
    assert yes_no("No thanks") is False
    assert yes_no("I'd rather not") is False
    assert yes_no("yes, I mean no") is False  # no wins
    assert yes_no("what time is it") is None
    # negation read as a phrase: a recording consent or a read-back answered naturally
    assert yes_no("I don't mind") is True
    assert yes_no("No problem, go ahead") is True
    assert yes_no("I'd prefer you didn't") is False
    assert yes_no("not really") is False
    assert yes_no("of course not") is False
    assert yes_no("I'm not sure") is None


@pytest.mark.parametrize("said", [
    "Perfect.", "That would be great.", "Sounds great", "Lovely, thanks", "Exactly.", "Uh huh",
    "mm hmm", "Book it.", "Let's do it", "You got it", "Confirmed.", "Works for me", "Cool",
    "That's good", "It doesn't matter", "Go on then"])
def test_yes_without_a_yes_word(said):
    # A read-back or a consent question answered the way people do; these were unclear and
    # the caller was asked again.
    assert yes_no(said) is True


@pytest.mark.parametrize("said", [
    "That isn't right.", "Incorrect.", "I can't make it then", "Scratch that", "Forget it",
    "Cancel that", "Not good", "That wasn't what I said", "Don't book it"])
def test_no_without_a_no_word(said):
    # "That isn't right" used to read as yes ("right"): the read-back was booked.
    assert yes_no(said) is False


@pytest.mark.parametrize("said", [
    "Good morning", "Can you confirm the time?", "How do I do that?", "Hold on", "Wait"])
def test_neither_yes_nor_no(said):
    assert yes_no(said) is None


def test_luhn_and_number_words():
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert number_words(415) == ["four", "hundred", "fifteen"]
    assert number_words(2026) == ["two", "thousand", "twenty", "six"]
