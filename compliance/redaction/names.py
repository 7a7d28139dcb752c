"""Person names in a transcript: the words callers use to give one, capitals, and a gazetteer.

No statistical NER model for English installs from PyPI with its weights (spaCy's models are
published elsewhere), so names are found the way a careful reader of a transcript would:

* after the words that introduce a name: "my name is", "this is", "it's", "I'm", "call me",
  "under (the name)", "ask for", "speak to", a title ("Dr.", "Mrs.", "Nurse") or a relative
  ("my son", "my wife, …"); before "here", "speaking", "called", "'s mom";
* anywhere, a capitalised first name ("… check if Samuel Adeyemi is on the list") — recognisers
  that write capitals (Deepgram) give this away; lower-case transcripts need an introduction;
* a name runs on over further capitalised words, or, in lower-case text, over words the
  gazetteer knows as names; spelled-out letters after a name ("K O W A L C Z Y K") are taken.

The gazetteer is the one probablepeople (datamade) ships: the US Census surnames (~150,000)
with how often each is a first name, and ~5,000 first names. Ordinary words that are also
names ("Will", "Mark", "Grace", "May", "Rose") need an introduction or a surname after them.
"""

from __future__ import annotations

import re
from functools import lru_cache


def _words(text: str) -> frozenset[str]:
    """Whitespace-separated words: keeps long vocabulary lists readable."""
    return frozenset(text.split())


# Words that are never (the start of) a name after an introduction.
STOP = _words("""
a about above after again against all also am an and any are aren't as at away back be
because been before being below between both but by can can't could couldn't did didn't do
does doesn't doing don't down during each even ever every few for from further had hadn't has
hasn't have haven't having he he'd he'll he's her here hers herself him himself his how i i'd
i'll i'm i've if in into is isn't it it'd it'll it's its itself just let's me more most much
must my myself no nor not now of off on once only or other our ours ourselves out over own
please same she she'd she'll she's should shouldn't so some such than that that's the their
theirs them themselves then there there's these they they'd they'll they're they've this
those through to too under until up very was wasn't we we'd we'll we're we've were weren't
what what's when where which while who who's whom why will with won't would wouldn't yes yeah
yep you you'd you'll you're you've your yours yourself uh um er hmm oh okay ok well like
actually really sorry thanks thank hi hello hey bye goodbye sir ma'am madam mister miss
""")
# Ordinary words that follow "this is" / "it's" / "I'm" / "for" and are not names.
COMMON = _words("""
able afraid alive alone almost already always another anything anyone anyway around available
awake aware bad better big booked born bright broken busy called calling calm certain cheap
checking clear close closed cold complete confused correct crazy dead done double early easy
empty enough everything excellent expensive extra fair family fancy fast fine first fixed
free friday full fun funny gone good great guess half happy hard here help home hoping hot
hungry important impossible interested just kind last late later leaking left less little
looking lost lovely main maybe mine monday morning much near nearly nervous never new next
nice night nobody none normal nothing now odd off okay old one open other outside over
paid past perfect possible pretty probably quick quite ready real really regular ridiculous
right running safe same saturday second serious short sick similar simple single small
something sometimes soon special still stuck sunday sure terrible third thursday tired today
tomorrow tonight true trying tuesday twice two urgent usual waiting wednesday weekend weird
welcome whatever wondering work working worried worse wrong yesterday young
january february march april may june july august september october november december
monday tuesday wednesday thursday friday saturday sunday christmas easter thanksgiving
mom mum dad mother father son daughter wife husband partner brother sister doctor nurse
patient customer manager office team company clinic hospital school work home someone
everyone anybody somebody nobody person people guy lady man woman kid kids child children
baby family friend boss colleague neighbor neighbour owner tenant landlord
insurance appointment booking reservation order account bill payment delivery package
visa mastercard amex paypal apple google amazon starbucks target walmart hilton
will mark grace hope rose lily june may bill pat art sue rich joy faith dawn summer autumn
april august sunny frank earnest honest drew gene jack jean max ray rob nick chase
""")
SUFFIXES = _words("jr jr. junior sr sr. senior ii iii iv")
PARTICLES = _words("de da del della der di du van von la le al bin ibn ben dos das st")

_TOKEN = re.compile(r"[^\W\d_](?:[\w'’\-]*[^\W\d_])?\.?")
_INTRO = re.compile(r"""\b(?:
    (?P<strong>
        (?:my|his|her|the\s+patient's|their)\s+(?:full\s+|first\s+|last\s+)?name\s+is
      | (?:my\s+)?name's | (?:the\s+)?name\s+is | (?:first|last|sur)\s*name(?:\s+is)?
      | call\s+me | (?:under|in)\s+the\s+name(?:\s+of)? | (?:goes|go)\s+by | (?:he's|she's)\s+called
      | named | the\s+name\s*,? )
  | (?P<relation>
        (?:my\s+|(?<='s\s))(?:wife|husband|son|daughter|mother|mom|mum|father|dad|partner|grandmother|grandma
        |grandfather|grandpa|brother|sister|friend|boss|child|kid|baby|aunt|uncle|nephew|niece
        |fianc[ée]e?|girlfriend|boyfriend|colleague|patient) )
  | (?P<title>
        dr\.? | doctor | mr\.? | mrs\.? | ms\.? | miss | nurse | father | professor | prof\.?
      | pastor | rabbi | captain | officer )
  | (?P<weak>
        this\s+is | it's | it\s+is | i'm | i\s+am | (?:helped|referred|called)\s+by
      | (?:spoke|speak|talk|talked|speaking)\s+(?:with|to) | transfer\s+me\s+to | reach
      | ask\s+for | message\s+for | tell | for | under | with | from | mother\s+of | father\s+of
      | put\s+down | is | hi | hello | hey | yes | yeah | down )
)(?:\b|(?<=\.))[\s,:]*""", re.I | re.X)
_AFTER = re.compile(r"\b(?:here|speaking|called|calling)\b|'s\s+(?:mom|mum|dad|mother|father|"
                    r"brother|sister|son|daughter|wife|husband)\b", re.I)
_PLACE_BEFORE = re.compile(r"\b(?:in|near|around|outside|downtown)\s+$", re.I)
_SPELLED = re.compile(r"[\s,]*(?:(?:spelled|spelt|that's)\s+)?((?:[A-Za-z](?:\s+|\.\s*|-)){2,}"
                      r"[A-Za-z])\b")


class _Names:
    """Membership in probablepeople's tables, read in place (copies would double ~20 MB)."""

    def __init__(self, first_names: dict[str, float], census: dict[str, float], *,
                 first: bool) -> None:
        self._first_names, self._census, self._first = first_names, census, first

    def __contains__(self, word: str) -> bool:
        if not self._first:
            return word.upper() in self._census
        # The census ratio is how often the name is a first name.
        return word in self._first_names or self._census.get(word.upper(), 0) >= 0.5


@lru_cache(maxsize=1)
def gazetteer() -> tuple[_Names, _Names]:
    """(first names, surnames) for lower-case words, from probablepeople's shipped tables."""
    # ~0.1-0.4 s once, holding the GIL: at process start (compliance.redaction.warm_up)
    from probablepeople.gender import gender_names
    from probablepeople.ratios import ratios

    return (_Names(gender_names, ratios, first=True), _Names(gender_names, ratios, first=False))


def find_names(text: str) -> list[tuple[int, int]]:
    """Spans of person names in `text`."""
    cased = _is_cased(text)
    tokens = [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]
    if not tokens:
        return []
    first_names, surnames = gazetteer()
    starts = {start: index for index, (_, start, _) in enumerate(tokens)}
    found: list[tuple[int, int]] = []
    for intro in _INTRO.finditer(text):
        index = starts.get(intro.end())
        if index is None:
            continue
        kind = intro.lastgroup or "weak"
        if _starts_name(tokens, index, kind, cased, text, first_names, surnames):
            found.append(_extend(tokens, index, cased, first_names, surnames, text))
    if cased:
        found += _capitalised_first_names(tokens, text, first_names, surnames)
    for after in _AFTER.finditer(text):
        span = _backwards(tokens, text, after.start(), cased, first_names, surnames)
        if span:
            found.append(span)
    found = _merge(found)
    return _merge(found + _spelled(text, found))


def _is_cased(text: str) -> bool:
    # "I", "I'm" are capitalised by every recogniser; other capitals mean a cased transcript.
    return re.search(r"[A-Z]", re.sub(r"\bI(?=\b|')", "", text[1:])) is not None


def _word(token: str) -> str:
    return token.lower().rstrip(".").removesuffix("'s").removesuffix("’s")


def _starts_name(tokens, index, kind, cased, text, first_names, surnames) -> bool:
    token = tokens[index][0]
    word = _word(token)
    if word in STOP or len(word) < 2 or not word[0].isalpha():
        return False
    if cased:
        if not token[0].isupper():
            return False
        if word in COMMON:
            # "Grace", "Will", "May": a name only with a surname after it or a strong intro.
            return kind in ("strong", "title", "relation") or _surname_follows(
                tokens, index, cased, surnames)
        return kind != "weak" or _weak_ok(tokens, index, text, first_names, surnames)
    if word in COMMON:
        return kind == "strong" and word not in ("here", "calling")
    if kind in ("strong", "title", "relation"):
        return True
    # Lower case after "this is", "for", "tell": only a word the gazetteer knows as a name.
    return word in first_names or (word in surnames and _surname_follows(
        tokens, index, cased, surnames))


def _weak_ok(tokens, index, text, first_names, surnames) -> bool:
    """A capitalised word after "for", "with", "tell"… is a name when the gazetteer knows it
    or another capitalised word follows; after "this is", "it's", "I'm" capitals suffice."""
    word = _word(tokens[index][0])
    before = text[max(0, tokens[index][1] - 12):tokens[index][1]].lower()
    if re.search(r"(?:this is|it's|it is|i'm|i am|hi|hello|hey|yes|yeah)[\s,]*$", before):
        return True
    return word in first_names or word in surnames or _surname_follows(
        tokens, index, True, surnames)


def _surname_follows(tokens, index, cased, surnames) -> bool:
    if index + 1 >= len(tokens):
        return False
    token = tokens[index + 1][0]
    word = _word(token)
    if word in STOP or word in COMMON:
        return False
    return token[0].isupper() if cased else word in surnames


def _adjacent(text: str, tokens, left: int, right: int) -> bool:
    """Only spaces between two tokens: a comma, a number or a full stop ends a name."""
    return not text[tokens[left][2]:tokens[right][1]].strip()


def _extend(tokens, index, cased, first_names, surnames, text) -> tuple[int, int]:
    start, end = tokens[index][1], tokens[index][2]
    last = index
    for following in range(index + 1, min(index + 4, len(tokens))):
        if not _adjacent(text, tokens, following - 1, following):
            break
        token, _, token_end = tokens[following]
        word = _word(token)
        if word in SUFFIXES:
            end, last = token_end, following
            continue
        if cased:
            ok = token[0].isupper() or (word in PARTICLES and following + 1 < len(tokens)
                                        and tokens[following + 1][0][0].isupper())
            ok = ok and word not in STOP and word not in ("i",)
        else:
            ok = word not in STOP and word not in COMMON and (
                word in surnames or word in first_names)
        if not ok:
            break
        end, last = token_end, following
    return start, _trim(tokens, last, end)


def _trim(tokens, last, end) -> int:
    token = tokens[last][0]
    for suffix in ("'s", "’s"):
        if token.endswith(suffix):
            return end - len(suffix)
    if token.endswith(".") and _word(token) not in SUFFIXES:
        return end - 1
    return end


def _capitalised_first_names(tokens, text, first_names, surnames) -> list[tuple[int, int]]:
    """A capitalised first name with no introduction, not opening a sentence unless a
    capitalised surname follows."""
    found = []
    for index, (token, start, _) in enumerate(tokens):
        if not token[0].isupper():
            continue
        word = _word(token)
        if word not in first_names or word in STOP:
            continue
        opening = index == 0 or re.search(r"[.?!]\s*$", text[:start]) is not None
        if _PLACE_BEFORE.search(text, max(0, start - 12), start):
            continue  # "a location in Dallas", "near Austin"
        if (opening or word in COMMON) and not _surname_follows(tokens, index, True, surnames):
            continue
        found.append(_extend(tokens, index, True, first_names, surnames, text))
    return found


def _backwards(tokens, text, position, cased, first_names, surnames):
    """"Ahmed Hassan here", "Kevin called", "Lily Wong's mom": the name before the word."""
    index = next((i for i in range(len(tokens) - 1, -1, -1) if tokens[i][1] < position), None)
    if index is None:
        return None
    if text[tokens[index][2]:position].strip(" ,'’s") != "" and "'s" not in text[
            tokens[index][1]:position]:
        return None
    first = index
    while first >= 0 and index - first < 3:
        if first < index and not _adjacent(text, tokens, first, first + 1):
            break
        token = tokens[first][0]
        word = _word(token)
        ok = word not in STOP and word not in COMMON and (
            token[0].isupper() if cased else word in first_names or word in surnames)
        if not ok:
            break
        first -= 1
    first += 1
    if first > index:
        return None
    return tokens[first][1], _trim(tokens, index, tokens[index][2])


def _spelled(text: str, names: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Letters spelled out right after a name: "Kowalczyk, K O W A L C Z Y K"."""
    found = []
    for _, end in names:
        match = _SPELLED.match(text, end)
        if match:
            found.append(match.span(1))
    return found


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
