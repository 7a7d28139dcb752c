"""Street addresses in a transcript: a house number (or a P.O. box) read onwards by usaddress.

usaddress (datamade) is a CRF trained on US addresses that ships its model inside the
package: no download at run time. It labels an address string well but assumes it is given
one, so it runs only on candidates: from each house number (1-6 digits, maybe a letter) to
the end of its sentence, when the sentence holds a street-type word. The labelled tokens are
taken while they are address parts, and kept only when they hold a number, a street name and
a street type ("Avenue", "Rd", "Route 9", "Avenue of the Stars") or form a P.O. box; a city
after them counts when a state or ZIP follows or it is written with capitals, or it ends the
sentence. ~0.25 ms per candidate; utterances without a candidate cost a regex scan.
"""

from __future__ import annotations

import re
from functools import lru_cache


def _words(text: str) -> frozenset[str]:
    """Whitespace-separated words: keeps long vocabulary lists readable."""
    return frozenset(text.split())


# USPS street suffixes (Publication 28, C1) most used, their abbreviations, and British ones.
STREET_TYPES = _words("""
alley aly allee avenue ave av bend bnd boulevard blvd bypass byp causeway cswy center ctr circle
cir cl close common commons court ct courts cove cv crescent cres crest creek crk crossing xing
drive dr driveway expressway expy extension ext freeway fwy gardens gdns gate gateway gtwy glen
green grn grove grv harbor hbr heights hts highway hwy hill hl hills hollow holw knoll knls
lane ln landing lndg loop meadow meadows mews mount mt mountain orchard orch oval park parkway
pkwy pike place pl plaza plz point pt port ridge rdg road rd route rte row run square sq
station sta street st terrace ter trace trce trail trl turnpike tpke view vw village vlg
walk way wy wynd
""")
PRE_TYPES = _words("avenue route highway hwy rte county road state interstate camino")
_STREET_LABELS = frozenset({
    "AddressNumberPrefix", "AddressNumber", "AddressNumberSuffix", "StreetNamePreModifier",
    "StreetNamePreDirectional", "StreetNamePreType", "StreetName", "StreetNamePostType",
    "StreetNamePostDirectional", "SubaddressType", "SubaddressIdentifier", "OccupancyType",
    "OccupancyIdentifier", "USPSBoxType", "USPSBoxID", "USPSBoxGroupType", "USPSBoxGroupID",
    "BuildingName"})
_PLACE_LABELS = frozenset({"PlaceName", "StateName", "ZipCode"})
# A house number, or the start of a P.O. box, at a word boundary.
ANCHOR = re.compile(r"\b(?:\d{1,6}(?:[a-z]\b)?|p\.?\s?o\.?\s+box|post\s+office\s+box)", re.I)
_WORD = re.compile(r"[a-z]+", re.I)
# Sentence ends: ". " / "? " / "! " / "..." / ";" (a dot inside "St." or "P.O." does not end it).
_SENTENCE_END = re.compile(r"(?:[?!;]|\.{2,}|(?<![A-Z])(?<!\b[A-Za-z][a-z])\.)(?=\s|$)")
_MAX_TOKENS = 16
_MAX_CHARS = 160


@lru_cache(maxsize=1)
def load_parser():
    import usaddress  # loads its CRF model (~30 ms): at process start, see warm_up()

    return usaddress


def find_addresses(text: str) -> list[tuple[int, int]]:
    """Spans of street addresses and P.O. boxes in `text`."""
    spans: list[tuple[int, int]] = []
    position = 0
    for anchor in ANCHOR.finditer(text):
        start = anchor.start()
        if start < position:
            continue
        limit = min(len(text), start + _MAX_CHARS)  # bounded: hostile input stays linear
        end_match = _SENTENCE_END.search(text, anchor.end(), limit)
        end = end_match.start() if end_match else limit
        window = text[start:end]
        if not _has_street_word(window):
            continue
        span = _address_in(window)
        if span:
            spans.append((start, start + span))
            position = start + span
    return spans


def _has_street_word(window: str) -> bool:
    if window[0].isalpha():  # a P.O. box
        return True
    return any(word.lower() in STREET_TYPES or word.lower() in PRE_TYPES
               for word in _WORD.findall(window))


def _address_in(window: str) -> int | None:
    """Length of the address that starts `window`, if it is one."""
    tokens = _tokens(window)[:_MAX_TOKENS]
    labels = [label for _, label in load_parser().parse(" ".join(t for t, _, _ in tokens))]
    labels += ["NotAddress"] * (len(tokens) - len(labels))
    street_end = 0
    seen: set[str] = set()
    has_type = False
    for index, ((token, _, _), label) in enumerate(zip(tokens, labels, strict=True)):
        if label not in _STREET_LABELS:
            break
        word = token.strip(".,").lower()
        if label == "StreetNamePostType" and word not in STREET_TYPES:
            break  # "12 pizzas", "7 at gate 12": not a street
        if label in ("StreetNamePostType", "StreetNamePreType") and word in (
                STREET_TYPES | PRE_TYPES):
            has_type = True
        seen.add(label)
        street_end = index + 1
    is_box = {"USPSBoxType", "USPSBoxID"} <= seen
    if not is_box and not ({"AddressNumber", "StreetName"} <= seen and has_type):
        return None
    token, _, token_end = tokens[_place_end(tokens, labels, street_end) - 1]
    return token_end - (len(token) - len(token.rstrip(",")))


def _place_end(tokens: list[tuple[str, int, int]], labels: list[str], start: int) -> int:
    """How far a city, state and ZIP after the street reach (token index)."""
    end = start
    index = start
    while index < len(tokens) and labels[index] in _PLACE_LABELS:
        index += 1
    place = range(start, index)
    if not place:
        return end
    said_with_state = any(labels[i] in ("StateName", "ZipCode") for i in place)
    capitalised = all(tokens[i][0][:1].isupper() or labels[i] == "ZipCode" for i in place)
    if said_with_state or capitalised or index == len(tokens):
        return index
    return end


def _tokens(window: str) -> list[tuple[str, int, int]]:
    return [(m.group(), m.start(), m.end()) for m in re.finditer(r"\S+", window)
            if m.group().strip(",.")] or [(window, 0, len(window))]
