from __future__ import annotations

import pytest

from compliance.redaction import TOKENS, redact
from compliance.tests.redaction_cases import NEGATIVE, POSITIVE


def _survivors(redacted: str, secret: str) -> list[str]:
    """The secret, its head or its tail, if any is still readable in the redacted text."""
    lowered = redacted.lower()
    pieces = {secret, secret[:8], secret[-8:]} if len(secret) > 8 else {secret}
    return [piece for piece in pieces if piece.lower() in lowered]


def test_the_corpus_is_big_enough():
    assert len(POSITIVE) >= 60 and len(NEGATIVE) >= 15
    assert all(secret in text for text, _, secrets in POSITIVE for secret in secrets)


@pytest.mark.parametrize(("text", "kinds", "secrets"), POSITIVE, ids=[c[0][:40] for c in POSITIVE])
def test_sensitive_data_does_not_survive(text, kinds, secrets):
    result = redact(text)

    assert kinds <= {finding.kind for finding in result.findings}, result
    for secret in secrets:
        assert not _survivors(result.text, secret), result.text


@pytest.mark.parametrize("text", NEGATIVE, ids=[t[:40] for t in NEGATIVE])
def test_ordinary_numbers_are_kept(text):
    result = redact(text)

    assert result.findings == [] and result.text == text


def test_findings_point_at_the_original_text_and_tokens_replace_them():
    text = "card 4111 1111 1111 1111, email jane@example.com"

    result = redact(text)

    assert [(f.kind, text[f.start:f.end]) for f in result.findings] == [
        ("card", "4111 1111 1111 1111"), ("email", "jane@example.com")]
    assert result.text == f"card {TOKENS['card']}, email {TOKENS['email']}"


def test_a_card_number_failing_luhn_is_redacted_as_an_unverified_card():
    # One digit misheard or mistyped is still card data to an auditor.
    result = redact("4111 1111 1111 1112")

    assert [f.kind for f in result.findings] == ["card_unverified"]
    assert result.text == TOKENS["card_unverified"]


def test_spoken_phone_number_with_hundreds_and_lost_digit_is_redacted():
    # How the offline recogniser wrote a caller's number: nine digits, no country dials it.
    result = redact("four hundred fifteen five hundred fifty five one ninety nine")

    assert result.text == TOKENS["phone"]


def test_redacting_twice_changes_nothing_more():
    once = redact("my social is 123-45-6789, call 415-555-2671").text

    assert redact(once).text == once
