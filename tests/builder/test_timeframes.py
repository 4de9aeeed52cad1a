"""builder.timeframes, property-based: random instants and zones, DST days included.

* the wizard's preview window and the dashboard's range of the same preset agree;
* the previous period never overlaps the current one and has the right length (day presets:
  the same number of local days; calendar presets: one calendar unit back);
* formatting a moment with a pattern then parsing it back (builder.dates) gives the moment;
* the widened history edges hold every zone's day: no local day D in UTC-12..UTC+14 starts
  before ``earliest_start(D)`` or ends after ``latest_end(D)``.

Expected values are built from ``zoneinfo`` and date arithmetic here, not from the module.
"""

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from builder import dates, placeholders, timeframes

ZONES = [
    "UTC",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "America/St_Johns",
    "Australia/Lord_Howe",
    "America/New_York",
    "Europe/London",
    "America/Santiago",
    "Pacific/Kiritimati",
    "Etc/GMT+12",
]
# DST days: the instants a zone changes its offset (2026), where days last 23, 23.5, 24.5 or 25 h.
DST_MOMENTS = [
    datetime(2026, 3, 8, 7, tzinfo=UTC),  # New York springs forward
    datetime(2026, 11, 1, 6, tzinfo=UTC),  # New York falls back
    datetime(2026, 3, 8, 5, 30, tzinfo=UTC),  # St John's springs forward
    datetime(2026, 4, 4, 14, 45, tzinfo=UTC),  # Chatham falls back
    datetime(2026, 9, 26, 14, 45, tzinfo=UTC),  # Chatham springs forward
    datetime(2026, 4, 4, 15, tzinfo=UTC),  # Lord Howe falls back half an hour
    datetime(2026, 10, 3, 16, tzinfo=UTC),  # Lord Howe springs forward half an hour
    datetime(2026, 9, 6, 4, tzinfo=UTC),  # Santiago skips midnight
    datetime(2026, 3, 29, 1, tzinfo=UTC),  # London
]
zones = st.sampled_from(ZONES)
# Any instant of 2000-2040, or one within two days of a DST change.
instants = st.one_of(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 12, 31), timezones=st.just(UTC)),
    st.builds(
        lambda moment, minutes: moment + timedelta(minutes=minutes),
        st.sampled_from(DST_MOMENTS),
        st.integers(min_value=-2 * 24 * 60, max_value=2 * 24 * 60),
    ),
)
quick = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

RESOLUTION = timedelta(microseconds=1)


def local_midnight(day, zone_name):
    """The first instant of a local day, from zoneinfo alone: the first minute whose local date is ``day``."""
    zone = ZoneInfo(zone_name)
    guess = datetime.combine(day, time.min, zone).astimezone(UTC) - timedelta(hours=2)
    while guess.astimezone(zone).date() < day:
        guess += timedelta(minutes=15)
    while (guess - timedelta(minutes=15)).astimezone(zone).date() == day:
        guess -= timedelta(minutes=15)
    return guess


def months_back(day, months):
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


# ---------------------------------------------------------------- the wizard and the dashboard agree


@quick
@given(preset=st.sampled_from(list(timeframes.PREVIEW_PRESETS)), zone=zones, now=instants)
def test_the_preview_window_is_the_dashboard_range_of_the_same_preset(preset, zone, now):
    window = timeframes.preview_window(preset, zone, now)
    current = timeframes.resolve(preset, zone, now)
    assert window.start == current.start
    if current.to_date:
        assert window.end == current.end == now
    else:
        # In UTC: the wall time one microsecond after a day's last one may be a skipped
        # midnight (Santiago), and such a time never compares equal across zones (PEP 495).
        assert window.end.astimezone(UTC) + RESOLUTION == current.end
    # Both begin at a local midnight in the viewer's zone.
    assert window.start == local_midnight(window.start.astimezone(ZoneInfo(zone)).date(), zone)
    assert window.tz == ZoneInfo(zone) == current.tz


# ---------------------------------------------------------------- the previous period

DAY_PRESETS = ["today", "yesterday", "this_week", "last_week", "last_7_days", "last_30_days"]
CALENDAR_PRESETS = {"this_month": 1, "last_month": 1, "this_quarter": 3, "this_year": 12}


@quick
@given(preset=st.sampled_from(DAY_PRESETS + list(CALENDAR_PRESETS)), zone=zones, now=instants)
def test_the_previous_period_never_overlaps_and_has_the_right_length(preset, zone, now):
    current = timeframes.resolve(preset, zone, now)
    before = timeframes.previous(current)
    assert before.start <= before.end <= current.start, "no overlap, and not backwards"
    if preset in CALENDAR_PRESETS:
        months = CALENDAR_PRESETS[preset]
        assert before.first_day == months_back(current.first_day, months), "one calendar unit back"
        if not current.to_date:
            assert before.end == current.start, "a whole unit: the previous one ends where this one starts"
    else:
        days = {"today": 1, "yesterday": 1, "this_week": 7, "last_week": 7, "last_7_days": 7, "last_30_days": 30}
        assert before.first_day == current.first_day - timedelta(days=days[preset])
        if not current.to_date:
            assert before.end == current.start
            assert (before.last_day - before.first_day).days + 1 == days[preset]
    assert before.start == local_midnight(before.first_day, zone)
    if current.to_date and preset in DAY_PRESETS:
        # The same stretch, as many days back: as long as this one, give or take a DST change.
        assert abs((before.end - before.start) - (current.end - current.start)) <= timedelta(hours=1)


@quick
@given(
    first=st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 1)),
    length=st.integers(min_value=1, max_value=400),
    zone=zones,
)
def test_a_custom_range_steps_back_by_its_number_of_days(first, length, zone):
    current = timeframes.custom(first, first + timedelta(days=length - 1), zone)
    before = timeframes.previous(current)
    assert before.end == current.start
    assert before.first_day == first - timedelta(days=length)
    assert before.last_day == first - timedelta(days=1)
    assert current.start == local_midnight(first, zone)


# ---------------------------------------------------------------- formatting then parsing

PATTERNS = ["YYYY-MM-DD HH:mm:ss", "YYYY-MM-DDTHH:mm:ss", "DD/MM/YYYY HH:mm", "YYYY-MM-DD", "DD/MM/YYYY", "YYYY-MM"]


@quick
@given(
    moment=st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2999, 12, 30), timezones=st.just(UTC)),
    fmt=st.sampled_from(PATTERNS + ["iso", "unix", "unix_ms"]),
    zone=zones,
)
@example(moment=datetime(2026, 3, 8, 7, 30, tzinfo=UTC), fmt="YYYY-MM-DD HH:mm:ss", zone="America/New_York")
def test_formatting_then_parsing_a_date_round_trips(moment, fmt, zone):
    """A value written in ``zone`` and read as written in ``zone`` is the moment again, to the
    precision of the format; a date-only format gives that calendar date as midnight UTC."""
    text = placeholders.format_instant(moment, fmt, ZoneInfo(zone))
    parsed = dates.parse(text, fmt, zone)
    local = moment.astimezone(ZoneInfo(zone))
    if fmt == "unix_ms":
        assert parsed == moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    elif fmt in ("iso", "unix"):
        assert parsed == moment.replace(microsecond=0)
    elif not dates.has_time_of_day(fmt):
        day = local.date() if "DD" in fmt else local.date().replace(day=1)
        assert parsed == datetime.combine(day, time.min, UTC)
    else:
        precision = timedelta(minutes=1) if "ss" not in fmt else timedelta(seconds=1)
        wall = local.replace(tzinfo=None)
        wall -= (wall - datetime.min) % precision
        # The same wall-clock time read back in the zone; an hour repeated by DST reads as one of its two instants.
        zone_info = ZoneInfo(zone)
        assert parsed in {wall.replace(tzinfo=zone_info, fold=0), wall.replace(tzinfo=zone_info, fold=1)}
        assert parsed.tzinfo is not None


# ---------------------------------------------------------------- the widened edges of a history

OFFSETS = sorted({timedelta(minutes=15 * q) for q in range(-12 * 4, 14 * 4 + 1)})


@quick
@given(
    day=st.dates(min_value=date(1990, 1, 1), max_value=date(2990, 12, 31)),
    owner=zones,
    offset=st.sampled_from(OFFSETS),
)
def test_the_widened_edges_hold_the_day_in_every_zone(day, owner, offset):
    start, end = timeframes.earliest_start(day, owner), timeframes.latest_end(day, owner)
    viewer = timezone(offset)
    assert start <= datetime.combine(day, time.min, viewer), "the viewer's day starts inside"
    assert datetime.combine(day + timedelta(days=1), time.min, viewer) - RESOLUTION <= end, "and ends inside"
    # Never narrower than the owner's own day, and at most 14 h wider before / 12 h after UTC's day.
    assert start <= local_midnight(day, owner) and end >= local_midnight(day + timedelta(days=1), owner) - RESOLUTION
    assert start == min(datetime.combine(day, time.min, UTC) - timedelta(hours=14), local_midnight(day, owner))
    assert start.date() == day, "written as UTC+14 wall time, it is still that date"


def test_the_widened_edges_in_words():
    # 1 August starts at 10:00 UTC on 31 July at UTC+14 and ends at 12:00 UTC on 2 August at UTC-12.
    assert timeframes.earliest_start(date(2026, 8, 1), "UTC").astimezone(UTC) == datetime(2026, 7, 31, 10, tzinfo=UTC)
    end = timeframes.latest_end(date(2026, 8, 1), "UTC") + RESOLUTION
    assert end.astimezone(UTC) == datetime(2026, 8, 2, 12, tzinfo=UTC)


# ---------------------------------------------------------------- one rule for whose zone


class _Profile:
    def __init__(self, time_zone):
        self.time_zone = time_zone


class _User:
    def __init__(self, time_zone=None):
        if time_zone is not None:
            self.profile = _Profile(time_zone)


@pytest.mark.parametrize(
    ("user", "zone"),
    [
        (_User("Asia/Kathmandu"), "Asia/Kathmandu"),
        (_User(""), "UTC"),  # an empty profile zone
        (_User(), "UTC"),  # no profile
        (None, "UTC"),  # no user
    ],
)
def test_whose_zone(user, zone):
    assert timeframes.user_zone(user) == zone
