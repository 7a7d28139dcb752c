"""Dates and times as callers say them, read against a business's hours (offline/when.py)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from aybiza.core.hours import HoursError, parse_hours
from calls.realtime.providers.llm.offline.when import Clock, parse_when, when_value

NEW_YORK = ZoneInfo("America/New_York")
# Wednesday 2 December 2026, 9:30 in the morning.
NOW = datetime(2026, 12, 2, 9, 30, tzinfo=NEW_YORK)
CLINIC = parse_hours("Mon-Fri 09:00-17:00; Sat 09:00-13:00")


@pytest.mark.parametrize(("said", "moment"), [
    ("tomorrow at ten in the morning", "2026-12-03T10:00"),
    ("next Tuesday at half past three", "2026-12-08T15:30"),
    ("the twelfth of December at 11", "2026-12-12T11:00"),
    ("Friday at quarter to five", "2026-12-04T16:45"),
    ("thursday at eleven fifteen", "2026-12-03T11:15"),
    ("at two", "2026-12-02T14:00"),  # a bare hour in the afternoon when the clinic is open
    ("friday the eleventh at ten", "2026-12-11T10:00"),
    ("wednesday next week at four", "2026-12-09T16:00"),
    ("tomorrow at half eleven", "2026-12-03T11:30"),
    ("in two days at 2 pm", "2026-12-04T14:00"),
    ("saturday at noon", "2026-12-05T12:00"),
    # hours as a recogniser may write them: by their sound
    ("friday at for", "2026-12-04T16:00"),
    ("tomorrow at to", "2026-12-03T14:00"),
    ("monday at ate in the morning", "2026-12-07T08:00"),
    # the next word starts like an ordinal's suffix ("th", "st") but is a word of its own
    ("friday at ten thanks", "2026-12-04T10:00"),
    ("tomorrow at nine then", "2026-12-03T09:00"),
    ("monday at eleven that works", "2026-12-07T11:00"),
    ("friday at two still", "2026-12-04T14:00"),
    ("friday at for three", "2026-12-04T16:00"),
    # a day before its month, as the British say it; a month and then an hour
    ("7th december at 10", "2026-12-07T10:00"),
    ("monday 7th december 10am", "2026-12-07T10:00"),  # was the tenth: "december 10 am"
    ("a week from today at 10", "2026-12-09T10:00"),  # was today
    ("two weeks from tomorrow at 10", "2026-12-17T10:00"),
    ("tomorrow at 9.30am", "2026-12-03T09:30"),
])
def test_spoken_moments(said, moment):
    heard = parse_when(said, NOW, CLINIC)
    assert heard is not None and heard.has_time
    assert heard.moment.isoformat().startswith(moment)


def test_a_weekday_said_on_that_day_after_its_time_is_next_week():
    assert parse_when("Wednesday at nine", NOW, CLINIC).moment.day == 9
    assert parse_when("Wednesday at eleven", NOW, CLINIC).moment.day == 2


def test_words_that_sound_like_hours_are_hours_only_after_at():
    assert parse_when("friday at for me", NOW).moment.hour == 16
    assert parse_when("I'm about to leave on friday", NOW).has_time is False
    assert parse_when("a table for two on friday", NOW).has_time is False


def test_counts_are_not_times():
    assert parse_when("a table for four on friday at seven", NOW).moment.hour == 7
    assert parse_when("for two", NOW) is None
    assert parse_when("banana", NOW) is None


@pytest.mark.parametrize(("said", "problem"), [
    ("banana", "didn't catch a day or time"),
    ("Sunday at ten", "closed on Sundays"),
    ("Saturday at three", "closed at that time"),
    ("Monday", "What time on Monday, December 7?"),
])
def test_values_that_cannot_be_booked_say_why(said, problem):
    value = when_value("date-time", said, Clock(NOW, CLINIC))
    assert problem in value and not value.startswith("2026")


def test_a_day_then_a_time_make_one_moment():
    clock = Clock(NOW, CLINIC)
    assert when_value("date-time", "at ten", clock, partial="Monday") == (
        "2026-12-07T10:00:00-05:00")
    assert when_value("date", "next tuesday", clock) == "2026-12-08"
    assert when_value("time", "half past two", clock) == "14:30"


@pytest.mark.parametrize("written", ["Mon-Fri 9-5", "Mon 09:00-08:00", "Fri-Mon 09:00-17:00",
                                     "Funday 09:00-10:00", "Mon 09:00-12:00 11:00-13:00"])
def test_business_hours_that_cannot_be_read_say_what_to_write(written):
    with pytest.raises(HoursError):
        parse_hours(written)


def test_business_hours_spoken():
    assert CLINIC.spoken() == "Monday to Friday, 9 AM to 5 PM, and Saturday, 9 AM to 1 PM"
    assert parse_hours("").unlimited and parse_hours("").is_open(NOW)


def test_a_booked_moment_is_recalled_as_said_not_as_stored():
    from calls.realtime.providers.llm.offline.memory import spoken_moments

    assert spoken_moments("when 2026-12-07T10:00:00-05:00 (asked on December 4)") == (
        "when Monday, December 7 at 10 AM (asked on December 4)")
    assert spoken_moments("on 2026-12-08") == "on Tuesday, December 8"


def test_a_week_without_its_day_asks_which_day_and_keeps_the_week():
    from calls.realtime.providers.llm.offline.when import WhenProblem

    clock = Clock(now=NOW, hours=CLINIC)
    asked = when_value("date-time", "sometime next week", clock)
    assert isinstance(asked, WhenProblem) and asked == "Which day next week?" and asked.needs_time
    # then the day names the week's Wednesday, not this week's (today)
    assert str(when_value("date-time", "wednesday at 2", clock, "sometime next week")).startswith(
        "2026-12-09T14:00")


def test_first_thing_is_the_opening_time_of_the_day_asked_for():
    clock = Clock(now=NOW, hours=CLINIC)
    assert when_value("date-time", "first thing", clock, "thursday").startswith(
        "2026-12-03T09:00")
    assert when_value("date-time", "as early as possible on saturday", clock).startswith(
        "2026-12-05T09:00")


@pytest.mark.parametrize(("said", "moment"), [
    ("monday at 10, actually 11", "2026-12-07T11:00"),
    ("friday at 7, no wait, make that 8", "2026-12-04T20:00"),
    ("monday at 10, actually tuesday", "2026-12-08T10:00"),
    ("sorry, friday at 10", "2026-12-04T10:00"),
])
def test_a_caller_correcting_themselves_mid_sentence_is_taken_at_their_last_word(said, moment):
    heard = parse_when(said, NOW, parse_hours("Mon-Sun 09:00-22:00"))
    assert heard is not None and heard.moment.isoformat().startswith(moment)
