"""Vocabulary-biased language models for the pocketsphinx provider (plain Python, no decoder).

pocketsphinx's Python API cannot interpolate two n-gram models inside one search, so biasing is
done with a second, small *domain* model that the provider runs next to the general one:

- the domain model is a back-off trigram (absolute discounting) trained on the agent's
  vocabulary phrases plus `CARRIER_PHRASES` (how callers wrap those phrases: "can I", "do you
  have", "my name is"), with a unigram floor mixed from the general model's most frequent words so
  a sentence that strays a little still decodes;
- its dictionary is the CMUdict subset of its words (a 30 ms, 9 MB decoder instead of 1 s, 95 MB).

Words without a CMUdict pronunciation cannot be recognised and are dropped (listed in
`DomainModel.dropped`), except short ones with no vowel, which callers say letter by letter
("VPN", "SMS", "CRM"): those are given the letters' pronunciations.
"""

from __future__ import annotations

import math
import os
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aybiza.core.spoken import ONES, ORDINAL_DAY_WORDS, TENS, number_words

CARRIER_PHRASES: tuple[str, ...] = (
    "hello", "hi", "hi there", "good morning", "good afternoon", "yes", "yes please", "yeah",
    "no", "no thanks", "okay", "sure", "i would like to", "i'd like to", "i want to",
    "i need to", "i was wondering", "can i", "could i", "can you", "could you", "do you",
    "do you have", "are you", "is there", "is it", "what is", "what is the", "what are",
    "what are your", "what time", "how much", "how much is", "how much does", "how long",
    "when is", "when are you", "where is", "where are you", "my name is", "my phone number is",
    "my email is", "that works for me", "that's fine", "that is all", "thank you",
    "thank you very much", "thanks", "goodbye", "bye", "for two people", "for one person",
    "at three", "this week", "next week", "today", "tomorrow",
    "in the morning", "in the afternoon", "in the evening", "i'm calling about",
    "can you tell me", "i don't know", "one moment", "hold on", "sorry", "please",
)

# Pronunciations CMUdict lacks for words callers say to the agents, added to its own: how most
# people say the word, or how it arrives over a phone line.
EXTRA_PRONUNCIATIONS: Mapping[str, tuple[str, ...]] = {
    "vegan": ("V IY G AH N",),  # CMUdict has only "VEG-an"
    "toothache": ("T UW TH EY K",),  # "tooth" + "ache"; CMUdict lacks it, the brain acts on it
    "syncing": ("S IH NG K IH NG",),  # "sync" + "-ing"; CMUdict has "sync" only
    "dodgy": ("D AA JH IY",),  # British for suspicious ("a dodgy link"); CMUdict lacks it
    # A contraction's final /s/ is often lost outright: "it's urgent" was heard "it urgent",
    # "what's the address" "what the address". "That's" makes some misheard requests end in
    # "that's it", which the brain answers as the request, not as a goodbye (`says_goodbye`).
    # ("is" without its /z/ changed no reading.)
    "what's": ("W AH T",),
    "it's": ("IH T",),
    "that's": ("DH AE T",),
}
# The 8 kHz band keeps little of an /s/ (its energy lies mostly above 4 kHz): "Sunday" reached
# the recogniser as a weak fricative and "unday", which the acoustic model scored closer to
# "Monday" than to S AH N D EY; "Friday at seven" was heard "friday at ten", "Saturday at six"
# "saturday at eight". The days and the numbers callers book with that begin with an /s/ get
# each pronunciation again with the weak /th/ in its place, which matches what arrives; one with
# no first sound at all was tried and rejected: it also matched the end of "Tuesday" and
# "somebody".
WEAK_FIRST_S_WORDS = frozenset(
    {"saturday", "sunday"}
    | {word for word in (*ONES, *TENS, *ORDINAL_DAY_WORDS) if word.startswith(("six", "seven"))})

MAX_INITIALISM = 5
VOWELS = frozenset("aeiou")

_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_TOKEN = re.compile(r"\d+|[a-z]+(?:'[a-z]+)*")


def normalize_words(text: str) -> list[str]:
    """Lower-case words as the recogniser spells them: digits spelled out, punctuation dropped.

    "3:30" -> three thirty, "10am" -> ten am, "&" -> and.
    """
    text = text.lower().replace("&", " and ").replace("%", " percent ").replace("’", "'")
    text = _THOUSANDS.sub("", text)
    out: list[str] = []
    for token in _TOKEN.findall(text):
        if token.isdigit():
            out.extend(number_words(int(token)) if len(token) <= 6 else list(token))
        else:
            out.append(token)
    return out


class Lexicon:
    """CMUdict pronunciations: word -> list of phone strings (alternates included)."""

    def __init__(self, path: str,
                 extra: Mapping[str, tuple[str, ...]] = EXTRA_PRONUNCIATIONS,
                 weak_first_s: Iterable[str] = WEAK_FIRST_S_WORDS) -> None:
        self.path = path
        self._entries: dict[str, str] = {}
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                word, _, phones = line.partition(" ")
                self._add(word.split("(", 1)[0], phones.strip())
        for word, variants in extra.items():
            for phones in variants:
                if phones not in self.pronunciations(word):
                    self._add(word, phones)
        for word in weak_first_s:
            for phones in self.pronunciations(word):
                weak = "TH" + phones[1:] if phones.startswith("S ") else ""
                if weak and weak not in self.pronunciations(word):
                    self._add(word, weak)

    def _add(self, word: str, phones: str) -> None:
        previous = self._entries.get(word)
        # Joined strings keep the 126k-word table at ~20 MB.
        self._entries[word] = f"{previous}|{phones}" if previous else phones

    def __contains__(self, word: str) -> bool:
        return word in self._entries

    def sayable(self, word: str) -> bool:
        """CMUdict has it, or it is an initialism said letter by letter."""
        return word in self._entries or bool(self._spelled(word))

    def __iter__(self):
        return iter(self._entries)

    def pronunciations(self, word: str) -> list[str]:
        entry = self._entries.get(word) or self._spelled(word)
        return entry.split("|") if entry else []

    def _spelled(self, word: str) -> str:
        """The letters' pronunciations of an initialism CMUdict lacks ("vpn" -> V IY P IY EH N):
        2 to 5 letters and no vowel, so a misspelt or foreign word is never read as letters."""
        if not (2 <= len(word) <= MAX_INITIALISM) or not word.isalpha() or set(word) & VOWELS:
            return ""
        letters = [self._entries.get(letter, "").split("|")[0] for letter in word]
        return "" if "" in letters else " ".join(letters)

    def dictionary_text(self, words: Iterable[str]) -> str:
        """The words' entries in CMUdict format (alternates as word(2), word(3)...)."""
        lines = []
        for word in sorted(set(words)):
            for index, phones in enumerate(self.pronunciations(word)):
                name = word if index == 0 else f"{word}({index + 1})"
                lines.append(f"{name} {phones}\n")
        return "".join(lines)


# Complexity over the limit on purpose: writes the ARPA sections in order; each branch is one
# section rule.
def build_arpa(  # noqa: C901
    sentences: Iterable[list[str]],
    background: Mapping[str, float],
    background_weight: float = 0.3,
    discount: float = 0.5,
) -> str:
    """Back-off trigram in ARPA format from tokenised sentences.

    Unigrams mix the sentences' relative frequencies with `background` (word -> probability,
    renormalised here) at `background_weight`; bigrams and trigrams use absolute discounting with
    back-off weights that keep every history's distribution summing to one.
    """
    uni: Counter[str] = Counter()
    bi: dict[str, Counter[str]] = defaultdict(Counter)
    tri: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for words in sentences:
        padded = ["<s>", *words, "</s>"]
        for i, word in enumerate(padded):
            uni[word] += 1
            if i >= 1:
                bi[padded[i - 1]][word] += 1
            if i >= 2:
                tri[(padded[i - 2], padded[i - 1])][word] += 1
    tokens = sum(count for word, count in uni.items() if word != "<s>")
    background_total = sum(background.values()) or 1.0
    p1: dict[str, float] = {}
    for word in set(uni) | set(background):
        if word == "<s>":
            continue
        domain_p = uni.get(word, 0) / tokens if tokens else 0.0
        p1[word] = (1 - background_weight) * domain_p + background_weight * background.get(
            word, 0.0
        ) / background_total

    p2: dict[tuple[str, str], float] = {}
    bo1: dict[str, float] = {}
    for history, following in bi.items():
        total = sum(following.values())
        for word, count in following.items():
            p2[(history, word)] = (count - discount) / total
        kept = 1.0 - sum(p1[word] for word in following)
        bo1[history] = (discount * len(following) / total) / max(kept, 1e-9)

    def bigram_p(history: str, word: str) -> float:
        return p2.get((history, word), bo1.get(history, 1.0) * p1[word])

    p3: dict[tuple[str, str, str], float] = {}
    bo2: dict[tuple[str, str], float] = {}
    for (first, second), following in tri.items():
        total = sum(following.values())
        for word, count in following.items():
            p3[(first, second, word)] = (count - discount) / total
        kept = 1.0 - sum(bigram_p(second, word) for word in following)
        bo2[(first, second)] = (discount * len(following) / total) / max(kept, 1e-9)

    def log10(p: float) -> str:
        return f"{math.log10(max(p, 1e-99)):.4f}"

    out = ["\\data\\", f"ngram 1={len(p1) + 1}", f"ngram 2={len(p2)}", f"ngram 3={len(p3)}"]
    out += ["", "\\1-grams:", f"-99.0000 <s> {log10(bo1.get('<s>', 1.0))}"]
    out += [f"{log10(p)} {w} {log10(bo1.get(w, 1.0))}" for w, p in sorted(p1.items())]
    out += ["", "\\2-grams:"]
    out += [
        f"{log10(p)} {a} {b} {log10(bo2.get((a, b), 1.0))}" for (a, b), p in sorted(p2.items())
    ]
    out += ["", "\\3-grams:"]
    out += [f"{log10(p)} {a} {b} {c}" for (a, b, c), p in sorted(p3.items())]
    out += ["", "\\end\\", ""]
    return "\n".join(out)


@dataclass(frozen=True, slots=True)
class DomainModel:
    """Files of one vocabulary's domain model."""

    arpa_path: str
    dict_path: str
    words: frozenset[str]
    dropped: tuple[str, ...]


def write_domain_model(
    vocabulary: Iterable[str],
    lexicon: Lexicon,
    background: Mapping[str, float],
    directory: str,
    name: str,
    background_weight: float = 0.3,
) -> DomainModel:
    """Build the domain model of `vocabulary` (phrases) into `directory`/`name`.{arpa,dict}."""
    dropped: set[str] = set()
    sentences: list[list[str]] = []
    for phrase in [*vocabulary, *CARRIER_PHRASES]:
        words = normalize_words(phrase)
        known = [w for w in words if lexicon.sayable(w)]
        dropped.update(w for w in words if not lexicon.sayable(w))
        if known:
            sentences.append(known)
    usable_background = {w: p for w, p in background.items() if w in lexicon}
    arpa = build_arpa(sentences, usable_background, background_weight=background_weight)
    words = {w for s in sentences for w in s} | set(usable_background)
    arpa_path = os.path.join(directory, f"{name}.arpa")
    dict_path = os.path.join(directory, f"{name}.dict")
    with open(arpa_path, "w", encoding="utf-8") as out:
        out.write(arpa)
    with open(dict_path, "w", encoding="utf-8") as out:
        out.write(lexicon.dictionary_text(words))
    return DomainModel(arpa_path, dict_path, frozenset(words), tuple(sorted(dropped)))


_LEXICON_LOCK = threading.Lock()
_LEXICONS: dict[str, Lexicon] = {}


def shared_lexicon(path: str) -> Lexicon:
    """One parsed CMUdict per process (0.3 s and ~20 MB, paid on first use)."""
    with _LEXICON_LOCK:
        lexicon = _LEXICONS.get(path)
        if lexicon is None:
            lexicon = _LEXICONS[path] = Lexicon(path)
        return lexicon
