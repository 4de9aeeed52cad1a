"""Date range presets, previous periods and chart buckets in the viewer's zone (no database)."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from builder import timeframes

NY = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")
KATHMANDU = ZoneInfo("Asia/Kathmandu")


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def local(zone, *args):
    """An aware local time, for times that exist once (no DST ambiguity)."""
    return datetime(*args, tzinfo=zone).astimezone(UTC)


def span(r):
    return r.start, r.end


# ---------------------------------------------------------------- presets in UTC on a Sunday afternoon

NOW = utc(2026, 3, 15, 14, 0)  # a Sunday


@pytest.mark.parametrize(
    ("preset", "start", "end"),
    [
        ("today", utc(2026, 3, 15), NOW),
        ("yesterday", utc(2026, 3, 14), utc(2026, 3, 15)),
        ("this_week", utc(2026, 3, 9), NOW),  # Monday
        ("last_week", utc(2026, 3, 2), utc(2026, 3, 9)),
        ("last_7_days", utc(2026, 3, 9), NOW),  # today and the 6 days before
        ("this_month", utc(2026, 3, 1), NOW),
        ("last_month", utc(2026, 2, 1), utc(2026, 3, 1)),
        ("last_30_days", utc(2026, 2, 14), NOW),
        ("this_quarter", utc(2026, 1, 1), NOW),
        ("this_year", utc(2026, 1, 1), NOW),
    ],
)
def test_presets_in_utc(preset, start, end):
    r = timeframes.resolve(preset, "UTC", NOW)
    assert span(r) == (start, end)
    assert r.label == timeframes.PRESETS[preset]
    assert r.start.tzinfo is UTC and r.end.tzinfo is UTC


def test_now_defaults_to_the_clock():
    with time_machine.travel(NOW, tick=False):
        assert timeframes.resolve("this_week", "UTC") == timeframes.resolve("this_week", "UTC", NOW)


def test_week_start_is_a_parameter():
    # Sunday 15 March: a Sunday-start week begins today; a Monday-start one on the 9th.
    assert timeframes.resolve("this_week", "UTC", NOW, week_start="sunday").start == utc(2026, 3, 15)
    assert span(timeframes.resolve("last_week", "UTC", NOW, week_start=6)) == (utc(2026, 3, 8), utc(2026, 3, 15))
    assert timeframes.resolve("this_week", "UTC", NOW, week_start=0).start == utc(2026, 3, 9)
    with pytest.raises(ValueError, match="week start"):
        timeframes.resolve("this_week", "UTC", NOW, week_start="caturday")
    with pytest.raises(ValueError):
        timeframes.resolve("this_week", "UTC", NOW, week_start=7)


# ---------------------------------------------------------------- DST in New York


def test_yesterday_is_23_hours_after_spring_forward():
    now = local(NY, 2026, 3, 9, 10, 0)  # Monday; Sunday 8 March lost an hour
    r = timeframes.resolve("yesterday", NY, now)
    assert span(r) == (utc(2026, 3, 8, 5), utc(2026, 3, 9, 4))  # EST midnight to EDT midnight
    assert r.duration == timedelta(hours=23)
    assert r.first_day == r.last_day == date(2026, 3, 8)


def test_yesterday_is_25_hours_after_fall_back():
    now = local(NY, 2026, 11, 2, 10, 0)
    r = timeframes.resolve("yesterday", "America/New_York", now)
    assert span(r) == (utc(2026, 11, 1, 4), utc(2026, 11, 2, 5))
    assert r.duration == timedelta(hours=25)


def test_today_starts_at_local_midnight_not_utc_midnight():
    # 02:30 UTC on 15 March is still the 14th in New York.
    r = timeframes.resolve("today", NY, utc(2026, 3, 15, 2, 30))
    assert r.start == utc(2026, 3, 14, 4)  # EDT midnight
    assert r.end == utc(2026, 3, 15, 2, 30)


def test_last_week_across_dst_is_167_hours():
    now = local(NY, 2026, 3, 12, 9, 0)  # Thursday
    r = timeframes.resolve("last_week", NY, now)
    assert span(r) == (utc(2026, 3, 2, 5), utc(2026, 3, 9, 4))
    assert r.duration == timedelta(hours=7 * 24 - 1)


def test_this_month_in_new_york_at_the_turn_of_the_month():
    # 1 April 03:00 UTC is still 31 March 23:00 in New York.
    r = timeframes.resolve("this_month", NY, utc(2026, 4, 1, 3))
    assert r.start == utc(2026, 3, 1, 5)  # March began in EST
    last = timeframes.resolve("last_month", NY, utc(2026, 4, 1, 3))
    assert span(last) == (utc(2026, 2, 1, 5), utc(2026, 3, 1, 5))


# ---------------------------------------------------------------- half- and quarter-hour zones


def test_kolkata_quarter_and_month_turn_at_1830_utc():
    now = utc(2026, 3, 31, 20, 0)  # 1 April 01:30 in Kolkata
    assert timeframes.resolve("today", KOLKATA, now).start == utc(2026, 3, 31, 18, 30)
    assert timeframes.resolve("this_month", KOLKATA, now).start == utc(2026, 3, 31, 18, 30)
    assert timeframes.resolve("this_quarter", KOLKATA, now).start == utc(2026, 3, 31, 18, 30)
    assert span(timeframes.resolve("last_month", KOLKATA, now)) == (utc(2026, 2, 28, 18, 30), utc(2026, 3, 31, 18, 30))
    # The same instant is still March (Q1) in UTC.
    assert timeframes.resolve("this_quarter", "UTC", now).start == utc(2026, 1, 1)


def test_kathmandu_new_year_at_1815_utc():
    now = utc(2026, 12, 31, 18, 20)  # 1 January 2027 00:05 in Kathmandu
    r = timeframes.resolve("this_year", KATHMANDU, now)
    assert span(r) == (utc(2026, 12, 31, 18, 15), now)
    assert r.first_day == date(2027, 1, 1)
    assert timeframes.resolve("this_year", "UTC", now).start == utc(2026, 1, 1)
    yesterday = timeframes.resolve("yesterday", KATHMANDU, now)
    assert span(yesterday) == (utc(2026, 12, 30, 18, 15), utc(2026, 12, 31, 18, 15))


def test_a_midnight_skipped_by_dst_starts_the_day_at_0100():
    # Chile springs forward at midnight: 6 September 2026 begins at 01:00 local (04:00 UTC).
    r = timeframes.resolve("today", "America/Santiago", utc(2026, 9, 6, 15))
    assert r.start == utc(2026, 9, 6, 4)
    assert r.local_start.hour == 1


# ---------------------------------------------------------------- custom


def test_custom_includes_both_dates():
    r = timeframes.resolve("custom", KOLKATA, start_date=date(2026, 3, 1), end_date=date(2026, 3, 10))
    assert span(r) == (utc(2026, 2, 28, 18, 30), utc(2026, 3, 10, 18, 30))
    assert (r.first_day, r.last_day) == (date(2026, 3, 1), date(2026, 3, 10))
    assert r.label == "2026-03-01 to 2026-03-10"


def test_custom_errors():
    with pytest.raises(ValueError, match="before it starts"):
        timeframes.custom(date(2026, 3, 2), date(2026, 3, 1), "UTC")
    with pytest.raises(ValueError, match="from date and a to date"):
        timeframes.resolve("custom", "UTC")
    with pytest.raises(ValueError, match="Unknown time zone"):
        timeframes.resolve("today", "Mars/Olympus_Mons", NOW)
    with pytest.raises(ValueError, match="Unknown date range"):
        timeframes.resolve("fortnight", "UTC", NOW)
    with pytest.raises(ValueError, match="aware"):
        timeframes.resolve("today", "UTC", datetime(2026, 3, 15, 14))  # noqa: DTZ001 - the error under test


# ---------------------------------------------------------------- previous periods


@pytest.mark.parametrize(
    ("preset", "now", "start", "end"),
    [
        # Whole units step back one unit.
        ("yesterday", NOW, utc(2026, 3, 13), utc(2026, 3, 14)),
        ("last_week", NOW, utc(2026, 2, 23), utc(2026, 3, 2)),
        ("last_month", NOW, utc(2026, 1, 1), utc(2026, 2, 1)),  # February vs all of January
        ("last_month", utc(2026, 4, 10), utc(2026, 2, 1), utc(2026, 3, 1)),  # March (31 d) vs February (28 d)
        # To-date ranges: the same stretch of the previous unit.
        ("today", NOW, utc(2026, 3, 14), utc(2026, 3, 14, 14)),
        ("this_week", NOW, utc(2026, 3, 2), utc(2026, 3, 8, 14)),
        ("this_month", NOW, utc(2026, 2, 1), utc(2026, 2, 15, 14)),
        ("this_month", utc(2026, 3, 31, 14), utc(2026, 2, 1), utc(2026, 3, 1)),  # no 31 February: all of it
        ("this_quarter", utc(2026, 5, 31, 9), utc(2026, 1, 1), utc(2026, 3, 1)),  # 31 May -> end of February
        ("this_year", NOW, utc(2025, 1, 1), utc(2025, 3, 15, 14)),
        ("this_year", utc(2028, 2, 29, 12), utc(2027, 1, 1), utc(2027, 3, 1)),  # leap day -> end of 28 Feb
        # Rolling ranges step back by their number of days.
        ("last_7_days", NOW, utc(2026, 3, 2), utc(2026, 3, 8, 14)),
        ("last_30_days", NOW, utc(2026, 1, 15), utc(2026, 2, 13, 14)),
    ],
)
def test_previous_period(preset, now, start, end):
    current = timeframes.resolve(preset, "UTC", now)
    before = timeframes.previous(current)
    assert span(before) == (start, end)
    assert before.end <= current.start  # never overlaps


def test_previous_of_custom_is_the_same_number_of_days_before():
    current = timeframes.custom(date(2026, 3, 1), date(2026, 3, 10), NY)
    before = timeframes.previous(current)
    assert (before.first_day, before.last_day) == (date(2026, 2, 19), date(2026, 2, 28))
    assert before.end == current.start
    assert before.label == "2026-02-19 to 2026-02-28"


def test_previous_today_across_dst_keeps_the_wall_clock():
    # Monday 9 March 10:00 EDT vs Sunday 8 March 00:00 EST to 10:00 EDT (9 real hours).
    current = timeframes.resolve("today", NY, local(NY, 2026, 3, 9, 10))
    before = timeframes.previous(current)
    assert span(before) == (utc(2026, 3, 8, 5), utc(2026, 3, 8, 14))


def test_previous_last_month_in_kolkata():
    current = timeframes.resolve("last_month", KOLKATA, utc(2026, 4, 10))
    before = timeframes.previous(current)
    assert span(before) == (utc(2026, 1, 31, 18, 30), utc(2026, 2, 28, 18, 30))


# ---------------------------------------------------------------- buckets


def test_day_buckets_across_spring_forward():
    current = timeframes.custom(date(2026, 3, 7), date(2026, 3, 9), NY)
    days = timeframes.buckets(current, "day")
    assert [b.key for b in days] == [date(2026, 3, 7), date(2026, 3, 8), date(2026, 3, 9)]
    assert [b.end - b.start for b in days] == [timedelta(hours=24), timedelta(hours=23), timedelta(hours=24)]
    assert days[0].start == current.start and days[-1].end == current.end


def test_day_buckets_across_fall_back():
    days = timeframes.buckets(timeframes.custom(date(2026, 10, 31), date(2026, 11, 2), NY), "day")
    assert [b.end - b.start for b in days] == [timedelta(hours=24), timedelta(hours=25), timedelta(hours=24)]


def test_week_buckets_start_on_the_week_start_and_clip_to_the_range():
    current = timeframes.custom(date(2026, 3, 4), date(2026, 3, 17), NY)  # Wednesday to Tuesday
    mondays = timeframes.buckets(current, "week")
    assert [b.key for b in mondays] == [date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 16)]
    assert mondays[0].start == current.start  # clipped: the range starts on Wednesday
    assert mondays[1].start == utc(2026, 3, 9, 4)  # Monday after the change, EDT
    sundays = timeframes.buckets(current, "week", week_start="sunday")
    assert [b.key for b in sundays] == [date(2026, 3, 1), date(2026, 3, 8), date(2026, 3, 15)]
    assert sundays[1].end - sundays[1].start == timedelta(hours=7 * 24 - 1)


def test_month_buckets_in_kathmandu():
    current = timeframes.custom(date(2026, 1, 15), date(2026, 3, 2), KATHMANDU)
    months = timeframes.buckets(current, "month")
    assert [b.key for b in months] == [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
    assert months[1].start == utc(2026, 1, 31, 18, 15)
    assert months[2].end == current.end == utc(2026, 3, 2, 18, 15)


def test_buckets_of_a_to_date_range_stop_today():
    current = timeframes.resolve("this_month", "UTC", NOW)
    days = timeframes.buckets(current, "day")
    assert len(days) == 15 and days[-1].key == date(2026, 3, 15) and days[-1].end == NOW


def test_unknown_bucket():
    with pytest.raises(ValueError, match="Unknown bucket"):
        timeframes.buckets(timeframes.resolve("today", "UTC", NOW), "hour")


# ---------------------------------------------------------------- periods (goals)


def test_periods():
    assert span(timeframes.period("month", date(2026, 2, 10), "UTC")) == (utc(2026, 2, 1), utc(2026, 3, 1))
    assert span(timeframes.period("quarter", date(2026, 5, 10), KOLKATA)) == (
        utc(2026, 3, 31, 18, 30),
        utc(2026, 6, 30, 18, 30),
    )
    year = timeframes.period("year", date(2026, 7, 1), NY)
    assert span(year) == (utc(2026, 1, 1, 5), utc(2027, 1, 1, 5))
    assert timeframes.period("quarter", date(2026, 5, 10), "UTC").label == "Q2 2026"
    with pytest.raises(ValueError):
        timeframes.period("week", date(2026, 5, 10), "UTC")
