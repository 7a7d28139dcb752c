"""Which phone numbers a tenant may register, and how they are stored (agents.services)."""

from __future__ import annotations

import pytest

from agents.services import normalize_e164
from aybiza.core.errors import ApplicationError


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("+15550100000", "+15550100000"),  # the demo number: area code 555 is never assigned
        ("+1 (555) 010-0000", "+15550100000"),  # punctuation and spaces are dropped
        ("+1 212 555 0199", "+12125550199"),  # NXX-555-01XX, reserved for fiction
        ("+14155552671", "+14155552671"),  # an allocated US number
        ("+44 20 7946 0000", "+442079460000"),  # an allocated UK number
    ],
)
def test_accepted_numbers_are_stored_in_e164(typed, stored):
    assert normalize_e164(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "5550100000",  # no country code
        "+1555010",  # too short to be possible
        "+15550100000000",  # too long
        "+19999999999",  # possible length, but area code 999 is not allocated (nor fictional)
        "+44 20 7946",  # too short for the UK
        "",
        "not a number",
    ],
)
def test_rejected_numbers_name_the_field(typed):
    with pytest.raises(ApplicationError) as raised:
        normalize_e164(typed)
    assert list(raised.value.extra["fields"]) == ["e164"]
