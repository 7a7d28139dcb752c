"""Precompiled patterns: e-mails (written and spoken), dates of birth, expiries, and the words
around a number that say what it is."""

from __future__ import annotations

import re

_I = re.IGNORECASE

# --- words around numbers (searched in a short window before the number) -------------------
SSN_CONTEXT = re.compile(r"\b(?:social|ssn|s\s?s\s?n|tax\s+id|taxpayer)\b", _I)
PHONE_CONTEXT = re.compile(
    r"\b(?:phone|call|reach|cell|mobile|text|fax|landline|contact|number)\b", _I)
# "order number one two three..." is not a phone number.
NOT_PHONE_CONTEXT = re.compile(
    r"\b(?:order|confirmation|account|reference|ref|tracking|invoice|policy|member|case|"
    r"ticket|booking|reservation|claim|serial|model|room|flight|zip|postal|pin)\b", _I)
CVV_CONTEXT = re.compile(
    r"\b(?:c\s?v\s?v2?|c\s?v\s?c2?|csc|cid|security\s+code|card\s+verification|verification\s+"
    r"(?:code|number|value)|three[\s-]digit\s+code|(?:on\s+the\s+)?back\s+of\s+(?:the|my)\s+"
    r"card)\b", _I)
EXPIRY_CONTEXT = re.compile(
    r"\b(?:expir\w*|exp|valid\s+(?:thru|through|until)|good\s+(?:thru|through))\b", _I)
DOB_CONTEXT = re.compile(r"\b(?:born|birth\s*(?:day|date)|date\s+of\s+birth|d\.?\s?o\.?\s?b)\b",
                         _I)

# A written stretch that may hold a phone number: digits with the punctuation numbers use.
PHONE_CANDIDATE = re.compile(r"(?:\+\s?)?\(?\d(?:[\d \t().-]*\d)?")

# --- e-mail ----------------------------------------------------------------------------------
EMAIL_WRITTEN = re.compile(r"\b[A-Za-z0-9._%+-]+\s?@\s?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+\b")
# Spelled letters or a word; bounded so that hostile input cannot make matching quadratic.
_ATOM = r"(?:[a-z0-9](?:\s[a-z0-9](?![a-z0-9])){1,40}|[a-z0-9]{1,64})"
_LOCAL_SEP = r"(?:\s+(?:dot|period|point|underscore|dash|hyphen)\s+|[._-])"
_DOT = r"(?:\s+dot\s+|\.)"
_TLD = (r"(?:com|net|org|edu|gov|mil|io|co|uk|us|ca|de|fr|es|it|nl|au|in|info|biz|me|ai|app|"
        r"dev|email)")
_PROVIDERS = r"(?:gmail|googlemail|yahoo|hotmail|outlook|icloud|aol|protonmail|proton)"
EMAIL_SPOKEN = re.compile(
    rf"\b{_ATOM}(?:{_LOCAL_SEP}{_ATOM}){{0,8}}\s+at\s+"
    rf"(?:(?:[a-z0-9-]+{_DOT})+{_TLD}\b|{_PROVIDERS}(?:{_DOT}{_TLD}\b)?)", _I)

AT_WORD = re.compile(r"\bat\b", _I)

# --- dates -----------------------------------------------------------------------------------
_UNIT = r"(?:one|two|three|four|five|six|seven|eight|nine)"
_TEEN = (r"(?:ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|"
         r"nineteen)")
_TENS = r"(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)"
_ORDINAL_UNIT = r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth)"
_ORDINAL = (rf"(?:(?:twenty|thirty)[\s-]+{_ORDINAL_UNIT}|{_ORDINAL_UNIT}|tenth|eleventh|"
            r"twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|"
            r"nineteenth|twentieth|thirtieth)")
_CARDINAL_DAY = rf"(?:(?:twenty|thirty)[\s-]+{_UNIT}|{_TEEN}|twenty|thirty|{_UNIT})"
_DAY = rf"(?:\d{{1,2}}(?:st|nd|rd|th)?\b|{_ORDINAL}\b|{_CARDINAL_DAY}\b)"
_TWO_DIGITS = rf"(?:{_TEEN}|{_TENS}(?:[\s-]+{_UNIT})?|oh[\s-]+{_UNIT})"
SPOKEN_YEAR = (rf"(?:(?:nineteen|twenty)[\s-]+(?:hundred|{_TWO_DIGITS})|two[\s-]+thousand"
               rf"(?:[\s-]+(?:and[\s-]+)?(?:{_TWO_DIGITS}|{_UNIT}))?)")
_YEAR = rf"(?:\d{{4}}\b|'?\d{{2}}\b|{SPOKEN_YEAR}\b)"
MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
         r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
# Most specific first: a day that looks like a year ("nineteen") must not end the match early.
_DAY_MONTH = rf"(?:(?:the\s+)?{_DAY}[\s,]*(?:of\s+)?{MONTH}|{MONTH}[\s,]+(?:the\s+)?{_DAY})"
DATE = (rf"(?:(?:\d{{4}}|{SPOKEN_YEAR})[\s,]+(?:on\s+)?{_DAY_MONTH}"
        rf"|{MONTH}[\s,]+(?:the\s+)?{_DAY}[\s,]+(?:of\s+)?{_YEAR}"
        rf"|{MONTH}[\s,]+(?:of\s+)?{_YEAR}"
        rf"|(?:the\s+)?{_DAY}[\s,]*(?:of\s+)?{MONTH}(?:[\s,]+{_YEAR})?"
        rf"|{MONTH}[\s,]+(?:the\s+)?{_DAY}"
        r"|\d{4}-\d{1,2}-\d{1,2}\b|\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})\b)")
DATE_OF_BIRTH = re.compile(
    r"\b(?:born(?:\s+on|\s+in)?|date\s+of\s+birth|birth\s*date|birthday|d\.?\s?o\.?\s?b\b\.?)"
    rf"(?:\s*(?:is|was|was\s+on|:|,|-|on|the))*\s*(?P<date>{DATE})", _I)
# A card's expiry by month name: "April 2026", "april twenty six", "04 of 2026" is a digit run.
EXPIRY_BY_MONTH = re.compile(
    rf"\b{MONTH}[\s,]+(?:of\s+)?(?:\d{{4}}\b|\d{{2}}\b|{SPOKEN_YEAR}\b|{_TWO_DIGITS}\b)", _I)
