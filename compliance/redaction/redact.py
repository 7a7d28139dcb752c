"""`redact(text)`: find card numbers, CVVs, expiries, SSNs, phone numbers, e-mails and dates of
birth, written or spoken, and replace each with a token such as `[CARD]`.

Numbers are first read as digit runs (`numbers.py`); a run is a card when it passes Luhn (an
unverified card, `card_unverified`, when it only has a card's length and first digit), an SSN
when it has the 3-2-4 shape or follows "social", a phone number by its length (spoken, 9-12
digits even when no country would dial them: recognisers drop digits) or through
phonenumbers' matcher (written). CVVs and expiries count only near a card or after
words that announce them, so prices and times stay. Costs tens of µs per utterance
(`python -m compliance.redaction.bench`).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

import phonenumbers
from phonenumbers import Leniency, PhoneNumberMatcher, ValidationResult

from aybiza.core.spoken import luhn_valid
from compliance.conf import setting
from compliance.redaction import patterns
from compliance.redaction.addresses import find_addresses
from compliance.redaction.names import find_names
from compliance.redaction.numbers import DigitRun, digit_runs

TOKENS = {"card": "[CARD]", "card_unverified": "[CARD]", "cvv": "[CVV]", "expiry": "[EXPIRY]",
          "ssn": "[SSN]", "phone": "[PHONE]", "email": "[EMAIL]", "dob": "[DOB]",
          "address": "[ADDRESS]", "name": "[NAME]"}
# When two findings overlap, the first kind here wins.
PRIORITY = ("card", "card_unverified", "ssn", "cvv", "expiry", "email", "dob", "address", "phone",
            "name")
_RANK = {kind: rank for rank, kind in enumerate(PRIORITY)}
CONTEXT_CHARS = 48  # how far back the words announcing a number are looked for
NEAR_CARD_CHARS = 80  # a CVV or expiry this close to a card number belongs to it
_MIN_WRITTEN_PHONE_DIGITS = 7
_HARD = frozenset({","})  # after a card, commas separate its expiry from its code
_SPOKEN_NUMBER_DIGITS = (9, 12)  # a spoken run this long is someone's number
_WORDS_KINDS = frozenset({"name", "address"})
_TRIMMED = re.compile(r"\w(?:.*\w)?", re.S)


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int


@dataclass(frozen=True)
class RedactionResult:
    text: str
    findings: list[Finding]


def _card_number(digits: str) -> bool:
    # Issuer prefixes 2-6 (Mastercard, Amex/Diners, Visa, Mastercard, Discover) and Luhn.
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_valid(digits)


def _card_shaped(text: str, run: DigitRun) -> bool:
    """A card number that fails Luhn (misheard, mistyped) is still card data to an auditor;
    numbers announced as orders, confirmations and the like stay."""
    return (13 <= len(run.digits) <= 19 and run.digits[0] in "23456" and not run.plus
            and not _before(text, run.start, patterns.NOT_PHONE_CONTEXT, 32))


def _ssn_shape(digits: str) -> bool:
    return (len(digits) == 9 and digits[0] != "9" and digits[:3] not in ("000", "666")
            and digits[3:5] != "00" and digits[5:] != "0000")


def _ssn_words(text: str, run: DigitRun) -> bool:
    """"social" / "SSN" / "tax id" just before the number, or just after it."""
    return (_before(text, run.start, patterns.SSN_CONTEXT)
            or patterns.SSN_CONTEXT.search(text, run.end, run.end + CONTEXT_CHARS) is not None)


def _before(text: str, start: int, pattern: re.Pattern[str], chars: int = CONTEXT_CHARS) -> bool:
    return pattern.search(text, max(0, start - chars), start) is not None


def _phone_possible(digits: str, *, local: bool = False) -> bool:
    try:
        number = phonenumbers.parse(digits, setting("COMPLIANCE_DEFAULT_REGION"))
    except phonenumbers.NumberParseException:
        return False
    reason = phonenumbers.is_possible_number_with_reason(number)
    return reason == ValidationResult.IS_POSSIBLE or (
        local and reason == ValidationResult.IS_POSSIBLE_LOCAL_ONLY)


def _expiry_shape(run: DigitRun) -> bool:
    """MMYY / MYY / MMYYYY, or two groups month + year ("04/26", "4/2026")."""
    digits = run.digits
    if len(run.groups) == 2:
        month, year = digits[:run.groups[0]], digits[run.groups[0]:]
        return 1 <= int(month) <= 12 and len(year) in (2, 4)
    if len(digits) == 3:
        return digits[0] != "0"
    if len(digits) == 4:
        return 1 <= int(digits[:2]) <= 12
    return len(digits) == 6 and 1 <= int(digits[:2]) <= 12 and digits[2:4] == "20"


def _classify_runs(text: str, runs: list[DigitRun]) -> tuple[list[Finding], list[DigitRun]]:
    """Cards, SSNs, spoken phones and numeric dates of birth; returns the undecided runs."""
    found: list[Finding] = []
    rest: list[DigitRun] = []
    for run in runs:
        digits, count = run.digits, len(run.digits)
        if _card_number(digits):
            found.append(Finding("card", run.start, run.end))
        elif count > 16 and (split := _card_prefix(run)):
            # Said straight on into its expiry or code: "...1111, 12/28, 123" is one run.
            card_end, rest_start = split
            found.append(Finding("card", run.start, card_end))
            rest += digit_runs(text, rest_start, run.end, hard=_HARD)[0]
        elif _card_shaped(text, run):
            found.append(Finding("card_unverified", run.start, run.end))
        elif count == 9 and (_ssn_words(text, run) or (run.groups == [3, 2, 4]
                                                     and _ssn_shape(digits))):
            found.append(Finding("ssn", run.start, run.end))
        elif count == 4 and _before(text, run.start, patterns.SSN_CONTEXT):
            found.append(Finding("ssn", run.start, run.end))  # "last four of my social"
        elif _phone_run(text, run):
            found.append(Finding("phone", run.start, run.end))
        elif 5 <= count <= 8 and _before(text, run.start, patterns.DOB_CONTEXT):
            found.append(Finding("dob", run.start, run.end))
        else:
            rest.append(run)
    return found, rest


def _card_prefix(run: DigitRun) -> tuple[int, int] | None:
    """Where a card number ends inside a longer run, followed by at most 12 more digits."""
    for length in (16, 15, 19, 18, 17, 14, 13):
        if 0 < len(run.digits) - length <= 12 and _card_number(run.digits[:length]):
            split = run.split_at(length)
            if split:
                return split
    return None


def _phone_run(text: str, run: DigitRun) -> bool:
    if not (run.spoken or run.plus):
        return False  # written numbers go through phonenumbers' matcher
    if _before(text, run.start, patterns.NOT_PHONE_CONTEXT, 32):
        return False
    if run.plus:
        return _phone_possible("+" + run.digits)
    if len(run.digits) in (10, 11) and _phone_possible(run.digits):
        return True
    if _SPOKEN_NUMBER_DIGITS[0] <= len(run.digits) <= _SPOKEN_NUMBER_DIGITS[1]:
        # A recogniser writes "four hundred fifteen ... one ninety nine" and loses a digit:
        # a long spoken number is someone's number even when no country would dial it.
        return True
    return (len(run.digits) == 7 and _before(text, run.start, patterns.PHONE_CONTEXT)
            and _phone_possible(run.digits, local=True))


def _near(findings: list[Finding], start: int, end: int) -> bool:
    return any(f.kind == "card" and start < f.end + NEAR_CARD_CHARS
               and end > f.start - NEAR_CARD_CHARS for f in findings)


def _distance(text: str, start: int, pattern: re.Pattern[str]) -> int | None:
    """Chars between the last announcing word in the window and `start`, if any."""
    last = None
    for match in pattern.finditer(text, max(0, start - CONTEXT_CHARS), start):
        last = match
    return start - last.end() if last else None


def _card_details(text: str, runs: list[DigitRun], found: list[Finding]) -> list[Finding]:
    """CVVs and expiries: after the words that announce them, or close to a card number."""
    details: list[Finding] = []
    for run in runs:
        count = len(run.digits)
        to_expiry = _distance(text, run.start, patterns.EXPIRY_CONTEXT)
        to_cvv = _distance(text, run.start, patterns.CVV_CONTEXT)
        kind = None
        # The nearest announcing word decides: "expires 0426, CVV 123".
        if to_expiry is not None and (to_cvv is None or to_expiry < to_cvv):
            kind = "expiry" if _expiry_shape(run) else None
        elif to_cvv is not None:
            kind = "cvv" if count in (3, 4) else None
        if kind is None and _near(found, run.start, run.end):
            if count == 3:
                kind = "cvv"
            elif count == 4:  # Amex codes have 4 digits; MMYY reads as an expiry
                kind = "expiry" if _expiry_shape(run) else "cvv"
            elif count in (5, 6) and _expiry_shape(run):
                kind = "expiry"
        if kind:
            details.append(Finding(kind, run.start, run.end))
    for match in patterns.EXPIRY_BY_MONTH.finditer(text):
        start, end = match.span()
        if _before(text, start, patterns.EXPIRY_CONTEXT) or _near(found, start, end):
            details.append(Finding("expiry", start, end))
    return details


def _written_phones(text: str, taken: list[Finding]) -> list[Finding]:
    """Written numbers through phonenumbers' matcher, run only on phone-shaped stretches
    (it costs ~1 ms on a whole utterance with digits, tens of µs on a short stretch)."""
    found = []
    region = setting("COMPLIANCE_DEFAULT_REGION")
    for candidate in patterns.PHONE_CANDIDATE.finditer(text):
        start, end = candidate.span()
        digits = sum(char.isdigit() for char in candidate.group())
        if not _MIN_WRITTEN_PHONE_DIGITS <= digits <= 15 or any(
                start < f.end and f.start < end for f in taken):
            continue
        for match in PhoneNumberMatcher(candidate.group(), region, leniency=Leniency.POSSIBLE):
            local_only = (phonenumbers.is_possible_number_with_reason(match.number)
                          == ValidationResult.IS_POSSIBLE_LOCAL_ONLY)
            at = start + match.start
            if local_only and not _before(text, at, patterns.PHONE_CONTEXT):
                continue
            if _before(text, at, patterns.NOT_PHONE_CONTEXT, 32):
                continue
            found.append(Finding("phone", at, start + match.end))
    return found


def _pick(text: str, candidates: list[Finding]) -> list[Finding]:
    """Non-overlapping findings, by kind priority then length; returned in text order.

    A name or address that overlaps a finding kept before it keeps the words outside it: a
    surname must not survive because the address after it won."""
    kept: list[Finding] = []
    for finding in sorted(candidates, key=lambda f: (_RANK[f.kind], f.start - f.end)):
        if all(finding.end <= k.start or k.end <= finding.start for k in kept):
            kept.append(finding)
        elif finding.kind in _WORDS_KINDS:
            kept += _outside(text, finding, kept)
    return sorted(kept, key=lambda f: f.start)


def _outside(text: str, finding: Finding, kept: list[Finding]) -> list[Finding]:
    """The stretches of `finding` that no kept finding covers, trimmed, that hold a word."""
    pieces, position = [], finding.start
    for other in sorted(k for k in kept if k.start < finding.end and finding.start < k.end):
        pieces.append((position, other.start))
        position = max(position, other.end)
    pieces.append((position, finding.end))
    found = []
    for start, end in pieces:
        match = _TRIMMED.search(text, start, end) if start < end else None
        if match:
            found.append(Finding(finding.kind, *match.span()))
    return found


def _name_words(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"[^\W\d_]+", text.casefold()))


def redact(text: str, *, public_names: Collection[str] = ()) -> RedactionResult:
    """Replace sensitive data in `text` with tokens; findings give the original spans.

    `public_names` are names that are not personal data where this text is spoken: the
    business's and its agent's own ("Hi, Acme here."). A name found in the text whose words are
    all among theirs is left as it is; "Acme" never hides a caller's "John Acme-Smith".
    """
    runs, written_digits = digit_runs(text)
    candidates, undecided = _classify_runs(text, runs)
    candidates += _card_details(text, undecided, candidates)
    if written_digits >= _MIN_WRITTEN_PHONE_DIGITS:
        candidates += _written_phones(text, candidates)
    if "@" in text:
        candidates += [Finding("email", *m.span()) for m in patterns.EMAIL_WRITTEN.finditer(text)]
    if patterns.AT_WORD.search(text):
        candidates += [Finding("email", *m.span())
                       for m in patterns.EMAIL_SPOKEN.finditer(text)]
    candidates += [Finding("dob", *m.span("date"))
                   for m in patterns.DATE_OF_BIRTH.finditer(text)]
    candidates += [Finding("address", *span) for span in find_addresses(text)]
    public_words = _name_words(" ".join(public_names))
    candidates += [Finding("name", start, end) for start, end in find_names(text)
                   if not public_words or not _name_words(text[start:end]) <= public_words]
    if not candidates:
        return RedactionResult(text, [])
    findings = _pick(text, candidates)
    pieces, position = [], 0
    for finding in findings:
        pieces += [text[position:finding.start], TOKENS[finding.kind]]
        position = finding.end
    pieces.append(text[position:])
    return RedactionResult("".join(pieces), findings)
