"""What callers say, as one vocabulary: number words, yes and no, and the Luhn check.

One module for every reader of a transcript: redaction reads digit runs with it
(compliance/redaction/numbers.py), the offline brain reads numbers and answers, the offline
recogniser's language model spells numbers with it, and secure keypad capture and redaction
check card numbers with the same Luhn. Plain Python, no Django: importable anywhere.
"""

from __future__ import annotations

import re

ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
        "eighteen", "nineteen")
TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
# Word → value: "zero".."nineteen", "twenty".."ninety".
ONES_VALUE = {word: value for value, word in enumerate(ONES)}
TENS_VALUE = {word: 10 * value for value, word in enumerate(TENS) if word}
# How a digit is said one by one: "oh" and "o" for zero, radio "niner" for nine.
DIGIT_WORDS = {word: value for word, value in ONES_VALUE.items() if value < 10} | {
    "oh": 0, "o": 0, "niner": 9}
ORDINALS = {word: value + 1 for value, word in enumerate((
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
    "tenth", "eleventh", "twelfth"))}


# Days of a month as said: "first" .. "twelfth", "thirteenth" .. "twentieth", "thirtieth", and
# "twenty first" .. "thirty ninth" (dates read them, the recogniser's model hears them).
ORDINAL_DAY_WORDS = dict(ORDINALS) | {
    "thirteenth": 13, "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17,
    "eighteenth": 18, "nineteenth": 19, "twentieth": 20, "thirtieth": 30}
ORDINAL_DAY_WORDS |= {f"{tens} {unit}": base + value for tens, base in (("twenty", 20),
                                                                         ("thirty", 30))
                      for unit, value in ORDINALS.items() if value < 10}


def number_words(n: int) -> list[str]:
    """Spell a non-negative integer below one million the way a caller says it."""
    if n < 20:
        return [ONES[n]]
    if n < 100:
        tens, ones = divmod(n, 10)
        return [TENS[tens]] + ([ONES[ones]] if ones else [])
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return [ONES[hundreds], "hundred"] + (number_words(rest) if rest else [])
    if n < 1_000_000:
        thousands, rest = divmod(n, 1000)
        return number_words(thousands) + ["thousand"] + (number_words(rest) if rest else [])
    return [str(n)]


YES_WORDS = frozenset({
    "yes", "yeah", "yep", "yup", "sure", "correct", "right", "absolutely", "definitely",
    "affirmative", "ok", "okay", "certainly", "please", "fine", "agree", "alright"})
NO_WORDS = frozenset({
    "no", "nope", "nah", "negative", "not", "never", "wrong", "don't", "dont", "refuse",
    "rather"})
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
# Answers whose words say "no" but mean yes ("I don't mind", "no problem"): read before the
# words, so the negation inside them does not turn them into a refusal.
_YES_DESPITE_NEGATION = re.compile(
    r"\b(?:(?:i )?(?:do not|don't|dont) mind|(?:i )?(?:do not|don't|dont) see why not|why not"
    r"|no (?:problem|worries|objections?)|not a problem|(?:i )?(?:do not|don't|dont) have a "
    r"problem(?: with (?:it|that))?|(?:that's|that is|it's|it is) not a problem|no issue"
    r"|(?:i )?(?:can't|cannot|can not) see (?:why not|a problem)"
    r"|(?:it )?(?:doesn't|does not|doesnt) matter)\b")
# Refusals with no negation word ("I'd prefer you didn't", "leave it"): the words alone would
# read them as unclear.
_NO_WITHOUT_NEGATION = re.compile(
    r"\b(?:i(?:'d| would) prefer (?:you didn't|you did not|it wasn't|not)|please don't"
    r"|i object|i decline|absolutely not|of course not|certainly not|definitely not"
    r"|incorrect|cancel (?:that|it)|scratch that|forget (?:it|that|about it))\b")
# Yes said without a yes word: praise of the read-back, an acknowledgement, an order to go on
# ("perfect", "uh huh", "book it"). Kept out of YES_WORDS, which is also the recogniser's list
# of answers after a yes-or-no question (answers.YES_NO_PHRASES): these are in the agents'
# own models already, and a longer list would make "yes" itself less likely there.
_YES_PHRASE = re.compile(
    r"\b(?:of course|go ahead|go on|i guess so|i think so|sounds good|go for it|that works"
    r"|works for me|perfect|great|lovely|brilliant|awesome|cool|exactly|indeed|spot on"
    r"|good(?! (?:morning|afternoon|evening|night|day))|you got it|you bet|i confirm|confirmed"
    r"|book it|let's do (?:it|that)|i(?:'d| would) like that|that(?:'ll| will) do|uh huh|mhm"
    r"|mm hmm?)\b")
# "that isn't right", "I can't make it": negations beyond NO_WORDS' own.
_NEGATED = re.compile(r"\b(?:isn't|isnt|wasn't|aren't|didn't|won't|can't|cannot)\b")
_NEGATION_BEFORE_YES = re.compile(r"\b(?:not|don't|dont|do not)\s+(?:really\s+)?(?:sure|okay|ok|"
                                  r"fine|right|correct)\b")


def yes_no(text: str) -> bool | None:
    """True for yes, False for no, None when the words say neither.

    Negation is read as a phrase first: "I don't mind" and "no problem" are yes, "I'd rather
    not", "not really" and "I'm not sure" are no or unclear; otherwise no wins over yes.
    """
    lowered = " ".join(_WORD.findall(text.lower().replace("\u2019", "'")))
    if _NO_WITHOUT_NEGATION.search(lowered):
        return False
    if _YES_DESPITE_NEGATION.search(lowered):
        return True
    if re.search(r"\bnot sure\b|\bdon't know\b|\bdo not know\b|\bmaybe\b", lowered):
        return None  # "I'm not sure" is neither: ask again
    words = set(lowered.split())
    if (words & NO_WORDS or "do not" in lowered or _NEGATION_BEFORE_YES.search(lowered)
            or _NEGATED.search(lowered)):
        return False
    if words & YES_WORDS or _YES_PHRASE.search(lowered):
        return True
    return None


def luhn_valid(digits: str) -> bool:
    """The Luhn check digit of a card number (`digits` holds only 0-9)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0
