"""Dates and times as callers say them: "tomorrow at ten in the morning", "next Tuesday at half
past three", "the twelfth of December at 2", "Friday afternoon at four thirty".

Spoken numbers are turned into clock times here (the recogniser writes "ten thirty", not
"10:30"); the date part is read by our own rules for what callers say most (today, tomorrow,
weekdays, "in three days", a day of a month) and by `dateparser` for the rest. A time without
AM/PM takes the half of the day the business is open ("at two" is 2 PM at a clinic).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aybiza.core.hours import (
    DAY_NAMES,
    MONTH_NAMES,
    UNLIMITED,
    BusinessHours,
    HoursError,
    parse_hours,
    spoken_time,
)
from aybiza.core.spoken import ONES_VALUE, ORDINAL_DAY_WORDS, TENS_VALUE

_WEEKDAYS = {name.lower(): index for index, name in enumerate(DAY_NAMES)}
_WEEKDAYS |= {"tues": 1, "weds": 2, "thurs": 3}
_MONTHS = {name.lower(): index for index, name in enumerate(MONTH_NAMES, start=1)}
_MONTHS |= {name[:3]: index for name, index in list(_MONTHS.items())} | {"sept": 9}
_ORDINAL_WORDS = ORDINAL_DAY_WORDS
_HOUR_WORDS = {word: value for word, value in ONES_VALUE.items() if 1 <= value <= 12}
_MINUTE_WORDS = {"oh five": 5, "o five": 5, "fifteen": 15, "thirty": 30, "forty five": 45,
                 "ten": 10, "twenty": 20, "forty": 40, "fifty": 50, "twenty five": 25,
                 "thirty five": 35, "fifty five": 55, "forty five minutes": 45}
_COUNT_WORDS = dict(ONES_VALUE) | dict(TENS_VALUE) | {"a": 1, "an": 1, "couple of": 2}

_WEEKDAY_SAID = re.compile(rf"\b(?:{'|'.join(_WEEKDAYS)})s?\b")
MORNING = re.compile(r"\b(?:a m|am|in the morning|morning)\b")
AFTERNOON = re.compile(r"\b(?:p m|pm|in the afternoon|in the evening|afternoon|evening|"
                       r"tonight)\b")
_HOUR = "|".join(sorted(_HOUR_WORDS, key=len, reverse=True))
_MINUTE = "|".join(sorted(_MINUTE_WORDS, key=len, reverse=True))


@dataclass(frozen=True, slots=True)
class When:
    """A moment a caller asked for, in the business's time zone, and what they said of it."""

    moment: datetime
    has_date: bool
    has_time: bool

    def spoken(self) -> str:
        """ "Saturday, December 5 at 10 AM"."""
        day = f"{DAY_NAMES[self.moment.weekday()]}, {self.moment:%B} {self.moment.day}"
        return f"{day} at {spoken_time(self.moment.time())}" if self.has_time else day


def _clean(text: str) -> str:
    text = text.lower().replace("\u2019", "'").replace("a.m.", "am").replace("p.m.", "pm")
    text = re.sub(r"o'clock|oclock|o clock", " oclock", text)
    text = re.sub(r"\b(\d{1,2})\.(\d{2})(?!\d)", r"\1:\2", text)  # "9.30", as the British write it
    text = re.sub(r"[^a-z0-9:/ ]+", " ", text.replace("-", " "))
    return re.sub(r"\s+", " ", text).strip()


# A recogniser writes an hour by its sound: "at for", "at to", "at ate". No English goes on
# from "at" with these words, so after "at" they are the hours ("around to" and "by for" are
# English: left alone).
_HOUR_HOMOPHONES = {"for": "four", "fore": "four", "to": "two", "too": "two", "ate": "eight",
                    "won": "one"}
_HOMOPHONE_HOUR = re.compile(rf"\bat ({'|'.join(_HOUR_HOMOPHONES)})\b")


def _clock_words(text: str) -> str:
    """Spoken clock times as digits: "half past three" → "3:30", "ten thirty" → "10:30"."""
    text = _HOMOPHONE_HOUR.sub(lambda m: f"at {_HOUR_HOMOPHONES[m[1]]}", text)
    text = re.sub(r"\b(?:noon|midday)\b", "12:00 pm", text)
    text = re.sub(r"\bmidnight\b", "12:00 am", text)

    def hour(word: str) -> int:
        return int(word) if word.isdigit() else _HOUR_WORDS[word]

    hour_pattern = rf"(\d{{1,2}}|{_HOUR})"
    text = re.sub(rf"\bhalf (?:past |after )?{hour_pattern}\b",  # "half eleven" is 11:30
                  lambda m: f"{hour(m[1])}:30", text)
    text = re.sub(rf"\b(?:a )?quarter (?:past|after) {hour_pattern}\b",
                  lambda m: f"{hour(m[1])}:15", text)
    text = re.sub(rf"\b(?:a )?quarter (?:to|before|of) {hour_pattern}\b",
                  lambda m: f"{(hour(m[1]) - 2) % 12 + 1}:45", text)
    text = re.sub(rf"\b{hour_pattern} oclock\b", lambda m: f"{hour(m[1])}:00", text)
    text = re.sub(rf"\b({_HOUR}) ({_MINUTE})\b(?! (?:people|guests|of us|minutes|days|weeks))",
                  lambda m: f"{_HOUR_WORDS[m[1]]}:{_MINUTE_WORDS[m[2]]:02d}", text)
    text = re.sub(rf"\b(\d{{1,2}}) ({_MINUTE})\b(?! (?:people|guests|of us|minutes|days|weeks))",
                  lambda m: f"{m[1]}:{_MINUTE_WORDS[m[2]]:02d}"
                  if int(m[1]) <= 12 else m[0], text)
    text = re.sub(r"\b(\d{1,2}) (00|15|30|45)\b", r"\1:\2", text)  # "7 30" as recognisers write it
    text = re.sub(r"\b(\d{1,2})(am|pm)\b", r"\1 \2", text)
    return re.sub(rf"\b({_HOUR})(?= (?:am|pm|a m|p m|in the (?:morning|afternoon|evening))\b)",
                  lambda m: str(_HOUR_WORDS[m[1]]), text)


def _time_of(text: str) -> tuple[int, int, str] | None:
    """(hour, minute, "am"/"pm"/"") of the clock time in cleaned text, or None."""
    half = "pm" if AFTERNOON.search(text) else "am" if MORNING.search(text) else ""
    found = re.search(r"\b(\d{1,2}):(\d{2})\b", text)
    if found is None:
        found = re.search(r"\b(\d{1,2})(?= (?:am|pm|a m|p m|in the (?:morning|afternoon|"
                          r"evening))\b)", text)
        # "at seven" before "for seven": "a table for four at seven" is seven o'clock.
        for lead in ("at|around|about|by", "for"):
            if found is not None:
                break
            # Not a count ("for two people", "in two days") nor a date written apart ("the 4
            # th"): the suffixes as whole words, or "at ten thanks" and "at nine then" lose
            # their hour.
            found = re.search(
                rf"\b(?:{lead}) (\d{{1,2}}|{_HOUR})\b(?! (?:people|guests|persons|of us|days|"
                r"weeks|minutes|th|st|nd|rd)\b)(?!:)", text)
            if lead == "for" and found and not half:
                found = None  # "for two" without AM/PM is a count ("a table for two")
        if found is None:
            return None
        word = found[1]
        hour = int(word) if word.isdigit() else _HOUR_WORDS[word]
        minute = 0
    else:
        hour, minute = int(found[1]), int(found[2])
    if hour > 23 or minute > 59:
        return None
    return hour, minute, half if hour <= 12 else ""


def _date_of(text: str, today: date) -> date | None:
    """The day in cleaned text, at or after `today`, or None when it names none."""
    found = re.search(r"\b(a|an|one|two|three|\d+) weeks? from (today|now|tomorrow)\b", text)
    if found:  # "a week from today": before "today" itself is read
        weeks = int(found[1]) if found[1].isdigit() else _COUNT_WORDS[found[1]]
        return today + timedelta(days=7 * weeks + (found[2] == "tomorrow"))
    if re.search(r"\bday after tomorrow\b", text):
        return today + timedelta(days=2)
    if re.search(r"\b(?:tomorrow|tmrw|tomorow)\b", text):
        return today + timedelta(days=1)
    if re.search(r"\b(?:today|tonight|this (?:morning|afternoon|evening))\b", text):
        return today
    found = re.search(r"\bin (a|an|a couple of|\d+|[a-z]+) (day|week)s?\b", text)
    if found and found[1] in _COUNT_WORDS or (found and found[1].isdigit()):
        count = int(found[1]) if found[1].isdigit() else _COUNT_WORDS[found[1]]
        return today + timedelta(days=count * (7 if found[2] == "week" else 1))
    of_month = _day_of_month(text, today)
    weekday = re.search(rf"\b(next |this |coming )?({'|'.join(_WEEKDAYS)})s?\b", text)
    if of_month is not None:  # "Friday the eleventh": the date says which Friday
        return of_month
    if weekday and re.search(r"\b(?:next week|the week after)\b", text):
        monday = today + timedelta(days=7 - today.weekday())
        return monday + timedelta(days=_WEEKDAYS[weekday[2]])
    if weekday:
        ahead = (_WEEKDAYS[weekday[2]] - today.weekday()) % 7
        if ahead == 0 and weekday[1] == "next ":
            ahead = 7
        return today + timedelta(days=ahead)
    return None


def _day_of_month(text: str, today: date) -> date | None:
    month_names = "|".join(sorted(_MONTHS, key=len, reverse=True))
    ordinal_words = "|".join(sorted(_ORDINAL_WORDS, key=len, reverse=True))
    day_pattern = rf"(\d{{1,2}})(?:st|nd|rd|th)?|({ordinal_words})"
    month = day = None
    # "December 7", "the seventh of December", "7th December" - but "December 10 am" is a
    # month and an hour, not the tenth.
    found = (re.search(rf"\b({month_names}) (?:the )?(?:{day_pattern})\b"
                       r"(?! ?(?:am|pm|a m|p m|oclock|:))", text)
             or re.search(rf"\b(?:the )?(?:{day_pattern})(?: of)? ({month_names})\b", text))
    if found:
        groups = [g for g in found.groups() if g]
        month_word = next(g for g in groups if g in _MONTHS)
        day_word = next(g for g in groups if g not in _MONTHS)
        month = _MONTHS[month_word]
        day = int(day_word) if day_word.isdigit() else _ORDINAL_WORDS[day_word]
    else:
        found = re.search(rf"\bthe (?:(\d{{1,2}})(?:st|nd|rd|th)|({ordinal_words}))\b", text)
        if found is None:
            return None
        day = int(found[1]) if found[1] else _ORDINAL_WORDS[found[2]]
    for months_ahead in range(13):
        year, index = divmod(today.month - 1 + months_ahead, 12)
        candidate_month = month or index + 1
        candidate_year = today.year + year if month is None else (
            today.year if (month, day) >= (today.month, today.day) else today.year + 1)
        try:
            candidate = date(candidate_year, candidate_month, day)
        except ValueError:
            if month is not None:
                return None
            continue
        if candidate >= today:
            return candidate
    return None


def _dateparser_date(text: str, now: datetime) -> date | None:
    """What our rules do not read ("December 12", "next month"), by dateparser."""
    import dateparser

    parsed = dateparser.parse(text, languages=["en"], settings={
        "PREFER_DATES_FROM": "future", "RELATIVE_BASE": now.replace(tzinfo=None),
        "REQUIRE_PARTS": ["day"]})
    return parsed.date() if parsed is not None else None


# The caller corrects themselves mid-sentence: "at 7, no wait, make that 8", "at 10, actually 11".
_SELF_CORRECTION = re.compile(r"\b(?:actually|no wait|wait|i mean|or rather|make (?:that|it)"
                              r"|sorry|no)\b")


def _corrected(cleaned: str) -> tuple[str, str]:
    """(what came before the caller's last self-correction, what they said after it), the
    second read first; ("…", "") when they did not correct themselves. A bare hour after the
    correction ("actually 11") is a time."""
    found = next(reversed(list(_SELF_CORRECTION.finditer(cleaned))), None)
    if found is None or not cleaned[:found.start()].strip():
        return cleaned, ""
    after = re.sub(rf"^(?:{_SELF_CORRECTION.pattern}|\s)+", "", cleaned[found.end():].strip())
    bare = _BARE_HOUR.match(after)
    return cleaned[:found.start()], f"at {bare['clock']}" if bare else after


def parse_when(text: str, now: datetime, hours: BusinessHours = UNLIMITED) -> When | None:
    """The moment `text` asks for (in `now`'s time zone), or None when it names no day or time.

    A time alone is the next time that clock comes round; a day alone has no time
    (`has_time` False: ask for one).
    """
    cleaned = _clock_words(_clean(text))
    before, after = _corrected(cleaned)
    clock = _time_of(after) or _time_of(before)
    day = _date_of(after, now.date()) or _date_of(before, now.date())
    if day is None and clock is None and re.search(r"\d|" + "|".join(_MONTHS), cleaned):
        day = _dateparser_date(cleaned, now)
    if day is None and clock is None:
        return None
    if clock is None:
        return When(datetime.combine(day, time(0), now.tzinfo), has_date=True, has_time=False)
    hour, minute, half = clock
    candidates = _hour_candidates(hour, half)
    if day is None:
        for offset in range(8):
            moment = _first_open(now.date() + timedelta(days=offset), candidates, minute, now,
                                 hours, future_only=True)
            if moment is not None:
                return When(moment, has_date=False, has_time=True)
        return When(datetime.combine(now.date(), time(candidates[0], minute), now.tzinfo),
                    has_date=False, has_time=True)
    if day == now.date() and _WEEKDAY_SAID.search(cleaned) and not re.search(
            r"\b(?:today|tonight|this (?:morning|afternoon|evening))\b", cleaned) and (
            _first_open(day, candidates, minute, now, hours, future_only=True) is None):
        day += timedelta(days=7)  # "Monday at ten" said on Monday at noon: next Monday
    moment = _first_open(day, candidates, minute, now, hours, future_only=False)
    if moment is None:
        moment = datetime.combine(day, time(candidates[0], minute), now.tzinfo)
    return When(moment, has_date=True, has_time=True)


def _hour_candidates(hour: int, half: str) -> list[int]:
    """24-hour readings of a spoken hour, likeliest first ("two" → 14 then 2)."""
    if half == "am":
        return [0 if hour == 12 else hour]
    if half == "pm":
        return [hour if hour == 12 else hour + 12]
    if hour > 12 or hour == 0:
        return [hour]
    afternoon = 12 if hour == 12 else hour + 12
    return [afternoon, hour] if hour <= 6 or hour == 12 else [hour, afternoon]


def _first_open(day: date, hours_24: list[int], minute: int, now: datetime,
                hours: BusinessHours, *, future_only: bool) -> datetime | None:
    for hour in hours_24:
        moment = datetime.combine(day, time(hour, minute), now.tzinfo)
        if hours.is_open(moment) and (moment > now or not future_only):
            return moment
    return None


@dataclass(frozen=True, slots=True)
class Clock:
    """What a date slot is checked against: the time now at the business, and its hours."""

    now: datetime
    hours: BusinessHours = UNLIMITED
    # How far ahead a caller may book.
    horizon: timedelta = timedelta(days=366)


DATE_FORMATS = ("date-time", "date", "time")


def clock_of(conversation) -> Clock:
    """The conversation's clock: its `now` (evaluations fix it) or the time now in the agent's
    time zone, and the agent's business hours."""
    try:
        zone = ZoneInfo(conversation.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    now = conversation.now.astimezone(zone) if conversation.now else datetime.now(zone)
    try:
        hours = parse_hours(conversation.business_hours)
    except HoursError:  # validated when saved; an old row must not stop a call
        hours = UNLIMITED
    return Clock(now=now.replace(second=0, microsecond=0), hours=hours)


class WhenProblem(str):
    """Why a spoken moment cannot be used, as the sentence to say (a str, told apart from a
    value by its type)."""

    needs_time: bool  # a day was named, its time was not
    understood: bool  # False only when no day or time was heard at all

    def __new__(cls, hint: str, *, needs_time: bool = False,
                understood: bool = True) -> WhenProblem:
        problem = super().__new__(cls, hint)
        problem.needs_time, problem.understood = needs_time, understood
        return problem


# A clock time: "8 pm", "seven o'clock" (never a count of people).
_CLOCK_TIME = re.compile(rf"\b(?:\d{{1,2}}(?::\d{{2}})?|{_HOUR}) ?"
                         r"(?:am|pm|a\.? ?m\.?|p\.? ?m\.?|o'? ?clock)\b")


def says_a_clock_time(text: str) -> bool:
    return _CLOCK_TIME.search(text.lower()) is not None


# A week named without its day ("sometime next week").
WEEK_ONLY = re.compile(r"\b(?:next week|the week after)\b")

# An answer that is only a clock reading: "10", "ten thirty", "3 30 please".
_BARE_HOUR = re.compile(
    r"^(?:(?:about|around|maybe|say|um|uh|how about|ok|okay|so|well|then|at) )*"
    rf"(?P<clock>(?:\d{{1,2}}|{_HOUR})(?: (?:\d{{2}}|{_MINUTE}))?)"
    r"(?: (?:please|then|is fine|works|if possible))?$")


# "First thing", "as early as possible": the business's opening time on the day asked for.
_FIRST_THING = re.compile(r"\b(?:first thing|as early as (?:possible|you can)|earliest"
                          r"|when you open)\b")


def _heard_with(text: str, partial: str, clock: Clock) -> When | None:
    """The moment in `text`, completed by what the caller said before (`partial`)."""
    heard = parse_when(text, clock.now, clock.hours)
    if _FIRST_THING.search(_clean(text)) and (heard is None or not heard.has_time):
        day = parse_when(f"{partial} {text}" if partial else text, clock.now, clock.hours)
        if day is not None and day.has_date and any(clock.hours.week):
            opening = next(iter(clock.hours.week[day.moment.weekday()]), None)
            if opening is not None:
                return When(datetime.combine(day.moment.date(), opening[0], clock.now.tzinfo),
                            has_date=True, has_time=True)
    if partial and (heard is None or not heard.has_date or WEEK_ONLY.search(_clean(partial))):
        # "Monday", then "at ten"; "next week", then "Wednesday": Wednesday of next week
        heard = parse_when(f"{partial} {text}", clock.now, clock.hours) or heard
        bare = _BARE_HOUR.match(_clean(text))
        if (heard is None or not heard.has_time) and bare:
            # "10" or "ok ten thirty then" to "What time on Monday?": the hour, as if "at" was
            # said
            heard = parse_when(f"{partial} at {bare['clock']}", clock.now, clock.hours) or heard
    return heard


_PART_OF_DAY = re.compile(r"\b(?:morning|afternoon|evening|lunchtime|lunch time|tonight)\b")


def part_of_day_question(text: str, partial: str, clock: Clock) -> str:
    """For "morning" said to "What time on Monday?": the time asked for again with that part
    of the day and the hours of that day ("What time in the morning on Monday, December 7?
    We're open 9 AM to 5 PM that day."); "" when no part of the day was said."""
    part = _PART_OF_DAY.search(_clean(text))
    day = parse_when(partial, clock.now, clock.hours) if partial else None
    if part is None or day is None or not day.has_date:
        return ""
    ranges = clock.hours.week[day.moment.weekday()] if any(clock.hours.week) else ()
    opening = " and ".join(f"{spoken_time(start)} to {spoken_time(end)}" for start, end in ranges)
    said = {"tonight": "in the evening", "lunchtime": "at lunchtime",
            "lunch time": "at lunchtime"}.get(part[0], f"in the {part[0]}")
    question = f"What time {said} on {day.spoken()}?"
    return f"{question} We're open {opening} that day." if opening else question


def open_day_of(text: str, clock: Clock) -> str:
    """The day of a moment refused for its time ("tomorrow at 4": closed at four) as a partial
    answer ("December 3"), when the business is open that day; "" otherwise."""
    heard = parse_when(text, clock.now, clock.hours)
    if heard is None or not (heard.has_date and heard.has_time):
        return ""
    moment = heard.moment
    if not clock.hours.open_on(moment.weekday()) or moment.date() < clock.now.date():
        return ""
    return day_said(moment)


def day_said(moment: datetime) -> str:
    """A moment's day as a caller's partial answer would say it: "December 7"."""
    return f"{moment:%B} {moment.day}"


def when_value(schema_format: str, text: str, clock: Clock,
               partial: str = "") -> str | WhenProblem:
    """The argument value for a date/time slot ("2026-12-08T15:30:00-05:00", "2026-12-08",
    "15:30"), or a WhenProblem. `partial` is what the caller said before ("Tuesday") when they
    were asked only for the time."""
    heard = _heard_with(text, partial, clock)
    if (heard is None or not heard.has_date) and WEEK_ONLY.search(_clean(f"{partial} {text}")):
        # "sometime next week" (or a time after it): kept, and the day asked for
        return WhenProblem("Which day next week?", needs_time=True)
    if heard is None:
        return WhenProblem("Sorry, I didn't catch a day or time.", understood=False)
    moment = heard.moment
    if schema_format == "time":
        return f"{moment:%H:%M}" if heard.has_time else WhenProblem("Sorry, what time?")
    if not clock.hours.open_on(moment.weekday()):
        return WhenProblem(f"Sorry, we're closed on {DAY_NAMES[moment.weekday()]}s. "
                           f"We're open {clock.hours.spoken()}.")
    if moment.date() < clock.now.date() or moment - clock.now > clock.horizon:
        return WhenProblem("Sorry, I can only book from today up to a year ahead.")
    if schema_format == "date":
        return moment.date().isoformat()
    if not heard.has_time:
        return WhenProblem(f"What time on {heard.spoken()}?", needs_time=True)
    if moment <= clock.now:
        return WhenProblem("Sorry, that time has already passed.")
    if not clock.hours.is_open(moment):
        return WhenProblem(f"Sorry, we're closed at that time. We're open {clock.hours.spoken()}.")
    return moment.isoformat()


def spoken_moment(value: str) -> str:
    """A date/time argument as said back to the caller ("Tuesday, December 8 at 3:30 PM")."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    has_time = "T" in value
    return When(moment, has_date=True, has_time=has_time).spoken()
