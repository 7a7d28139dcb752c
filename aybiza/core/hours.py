"""Business hours: when an agent's business is open, written the way a person writes them.

    "Mon-Fri 09:00-17:00; Sat 09:00-13:00"

Entries are separated by ";", each is days (one day or a range, Mon..Sun) then one or more
24-hour ranges. Empty means no limit. Plain Python, no Django: the agent's validation, the
offline brain (is a requested slot open?) and its spoken answer read the same parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")
_ENTRY = re.compile(r"^(?P<days>[a-z]{3}(?:\s*-\s*[a-z]{3})?)\s+(?P<ranges>.+)$")
_RANGE = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
MAX_CHARS = 300


class HoursError(ValueError):
    """The text is not business hours; the message says what to write instead."""


@dataclass(frozen=True, slots=True)
class BusinessHours:
    # Per weekday (Monday = 0): open ranges as (start, end) times, end exclusive.
    week: tuple[tuple[tuple[time, time], ...], ...]

    @property
    def unlimited(self) -> bool:
        return not any(self.week)

    def is_open(self, moment: datetime) -> bool:
        """Whether the business is open at `moment` (a local time); always when unlimited."""
        if self.unlimited:
            return True
        clock = moment.time().replace(tzinfo=None)
        return any(start <= clock < end for start, end in self.week[moment.weekday()])

    def open_on(self, weekday: int) -> bool:
        return self.unlimited or bool(self.week[weekday])

    def spoken(self) -> str:
        """ "Monday to Friday, 9 AM to 5 PM, and Saturday, 9 AM to 1 PM"."""
        groups: list[tuple[int, int, tuple]] = []
        for day, ranges in enumerate(self.week):
            if groups and groups[-1][2] == ranges and groups[-1][1] == day - 1:
                groups[-1] = (groups[-1][0], day, ranges)
            else:
                groups.append((day, day, ranges))
        parts = []
        for first, last, ranges in groups:
            if not ranges:
                continue
            days = DAY_NAMES[first] if first == last else f"{DAY_NAMES[first]} to {DAY_NAMES[last]}"
            clock = " and ".join(f"{spoken_time(a)} to {spoken_time(b)}" for a, b in ranges)
            parts.append(f"{days}, {clock}")
        if len(parts) > 1:
            return ", ".join(parts[:-1]) + ", and " + parts[-1]
        return parts[0] if parts else "at any time"


UNLIMITED = BusinessHours(week=((),) * 7)


def spoken_time(moment: time) -> str:
    """9:00 → "9 AM", 13:30 → "1:30 PM", 12:00 → "noon"."""
    if moment.hour == 12 and moment.minute == 0:
        return "noon"
    hour = moment.hour % 12 or 12
    suffix = "AM" if moment.hour < 12 else "PM"
    return f"{hour} {suffix}" if moment.minute == 0 else f"{hour}:{moment.minute:02d} {suffix}"


def parse_hours(text: str) -> BusinessHours:
    """The business hours written in `text`, or HoursError saying what is wrong."""
    text = (text or "").strip()
    if not text:
        return UNLIMITED
    if len(text) > MAX_CHARS:
        raise HoursError(f"At most {MAX_CHARS} characters.")
    week: list[list[tuple[time, time]]] = [[] for _ in DAYS]
    for raw in filter(None, (part.strip() for part in text.split(";"))):
        entry = _ENTRY.match(raw.lower())
        if entry is None:
            raise HoursError(f'"{raw}": write days then hours, like "Mon-Fri 09:00-17:00".')
        days = _day_span(entry["days"], raw)
        for range_text in entry["ranges"].replace(",", " ").split():
            opening = _range(range_text, raw)
            for day in days:
                week[day].append(opening)
    for ranges in week:
        ranges.sort()
        for (_, end), (start, _) in zip(ranges, ranges[1:], strict=False):
            if start < end:
                raise HoursError("Opening hours of one day overlap.")
    return BusinessHours(week=tuple(tuple(ranges) for ranges in week))


def _day_span(days: str, raw: str) -> list[int]:
    names = [name.strip() for name in days.split("-")]
    if any(name not in DAYS for name in names):
        raise HoursError(f'"{raw}": days are Mon, Tue, Wed, Thu, Fri, Sat, Sun.')
    first, last = DAYS.index(names[0]), DAYS.index(names[-1])
    if last < first:
        raise HoursError(f'"{raw}": a day range goes forward, like Mon-Fri.')
    return list(range(first, last + 1))


def _range(text: str, raw: str) -> tuple[time, time]:
    found = _RANGE.match(text)
    if found is None:
        raise HoursError(f'"{raw}": hours are 24-hour ranges like 09:00-17:00.')
    h1, m1, h2, m2 = (int(group) for group in found.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
        raise HoursError(f'"{raw}": {text} is not a time of day.')
    start = time(h1, m1)
    end = time(23, 59, 59) if h2 == 24 else time(h2, m2)
    if end <= start:
        raise HoursError(f'"{raw}": a range ends after it starts.')
    return start, end
