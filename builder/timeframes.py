"""Time, in one place: whose zone, local days, presets, windows, and the edge of a synced history.

Pure: no models, no requests, no Django. Everything else (the wizard's preview, syncs, the
dashboard's ranges, alerts, scorecards, exports) calls this module; nothing else decides a
zone or where a day begins.

Zones
-----
:func:`user_zone` is a user's profile time zone, else ``FALLBACK_ZONE`` (UTC): the one rule
for the wizard, the screen, alerts and scorecards. ``builder.models.Metric.zone`` is the zone a
metric's syncs cut their days in: its owner's zone, UTC for a metric without an owner.

Local days
----------
Days start at midnight in the zone they are read in, so a day is 23 or 25 hours long across
a DST change and Asia/Kolkata (+05:30) or Asia/Kathmandu (+05:45) days start at 18:30 or 18:15
UTC. :func:`start_of_day` is that first instant (a midnight skipped by DST becomes the first
real instant after it).

Two shapes of time span
-----------------------
* :class:`Range`: a half-open interval ``[start, end)`` of aware UTC instants read in a zone,
  what the dashboard reads (presets, previous period, chart buckets);
* :class:`Window`: an aware instant range ``[start, end]``, **both ends inclusive**, what a
  sync fetches and stores and what fills ``{{start}}``/``{{end}}`` (``builder.placeholders``).
  A whole-day window ends on the last microsecond of its last day.

:func:`preview_window` (the wizard's preview ranges) is :func:`resolve` of the same preset made
inclusive, so the wizard and the dashboard cannot disagree about a preset.

The presets
-----------
``today``, ``this_week``, ``this_month``, ``this_quarter`` and ``this_year`` are *to date*:
from the first local midnight of the unit up to ``now``. ``last_7_days`` and ``last_30_days``
are the 7 or 30 local calendar days ending today, today included up to ``now`` (the wizard's
preview ranges are the same code, :func:`preview_window`). ``yesterday``,
``last_week`` and ``last_month`` are whole calendar units. ``custom`` is whole local days,
from and to dates both included. Weeks start on Monday unless ``week_start`` says otherwise
(0 = Monday ... 6 = Sunday, as ``date.weekday()``).

The previous period (:func:`previous`)
--------------------------------------
The range moved back by one of its own units, in local wall-clock time:

* calendar presets step back one calendar unit: Yesterday -> the day before, Last week ->
  the week before, Last month -> the month before (a whole month, whatever its length:
  March is compared with all of February), This quarter -> the previous quarter, This year
  -> the previous year;
* rolling presets and custom ranges step back by their number of days: Last 30 days -> the
  30 days before them; a custom 10 days -> the 10 days just before;
* a to-date range is compared with the same stretch of the previous unit: This month on
  15 March at 14:00 -> 1 February 00:00 to 15 February 14:00; Today at 09:30 -> yesterday
  00:00 to 09:30. When that date does not exist in the previous unit it is clamped to the
  end of that month: This month on 31 March -> all of February; This year on 29 February
  2028 -> 1 January to the end of 28 February 2027. The previous period never overlaps the
  current one.

Chart buckets (:func:`buckets`) are local days, weeks (from ``week_start``) or calendar months.

Supported dates
---------------
Custom ranges and periods run from ``MIN_DATE`` to ``MAX_DATE``: Python's datetimes end at the
years 1 and 9999, and a day there in a zone far from UTC, its previous period or its first
chart week would fall outside them (OverflowError). A date outside is an :class:`OutOfRange`
(a ValueError) whose message, ``SUPPORTED_TEXT``, says the range.

Whole local days for every viewer
---------------------------------
A metric's syncs cut their windows in the metric's zone, but anyone may read the history in
any zone from UTC-12 to UTC+14 (half-hour and 45-minute zones fall inside that span). A
local date D begins earliest at UTC+14 (D 00:00 +14:00 = D-1 10:00 UTC) and ends latest at
UTC-12 (D+1 00:00 -12:00 = D+1 12:00 UTC). So the **oldest edge** of a synced history of
instants starts at :func:`earliest_start`, the first instant of its first date anywhere on
Earth: at most 14 h before that date's UTC midnight (and never after the metric's own local
midnight). Then the first date is whole for every viewer: each zone's day D starts at or
after that edge. The newest edge of a rolling window is "now", after which there is nothing
to fetch, so today is as complete as it can be everywhere; an explicit last date
(``sync_metric --to``) ends at :func:`latest_end`, that date's last instant anywhere (12 h
after the next UTC midnight), or now if that is sooner. Only the outer edges move: windows
stay adjacent to each other (each ends one microsecond before the next begins), and a sync
stores, and replaces, exactly the window it fetched (``syncs.storage``), so a widened edge
never deletes what it did not fetch.

Calendar dates (``closingdate``) are the same date for every viewer and are stored and
replaced by their dates (:func:`calendar_span`), so their windows are not widened.

Calendar dates
--------------
A calendar date is stored as midnight UTC of that date (:func:`floating`), whatever the zone.
A date counts in a range or a window when its local day starts inside it: :func:`calendar_range`
turns a viewer's range into the same local dates read in UTC (2026-10-01 00:00 New York to
2026-11-01 00:00 New York is ``[2026-10-01T00:00Z, 2026-11-01T00:00Z)``), and
:func:`calendar_span` gives the stored instants a sync window of local dates replaces.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

FALLBACK_ZONE = "UTC"  # a user without a profile, a metric without an owner

# One microsecond: the gap between an inclusive window end and the next window's start.
RESOLUTION = timedelta(microseconds=1)

# The easternmost and westernmost offsets a viewer may pick (Pacific/Kiritimati, Etc/GMT+12).
EASTERNMOST = timezone(timedelta(hours=14), "UTC+14")
WESTERNMOST = timezone(timedelta(hours=-12), "UTC-12")

PREVIEW_PRESETS = {
    "today": "Today",
    "yesterday": "Yesterday",
    "last_7_days": "Last 7 days",
    "last_30_days": "Last 30 days",
    "this_week": "This week",
    "last_week": "Last week",
    "this_month": "This month",
    "last_month": "Last month",
}

PRESETS = {
    "today": "Today",
    "yesterday": "Yesterday",
    "this_week": "This week",
    "last_week": "Last week",
    "last_7_days": "Last 7 days",
    "this_month": "This month",
    "last_month": "Last month",
    "last_30_days": "Last 30 days",
    "this_quarter": "This quarter",
    "this_year": "This year",
    "custom": "Custom",
}

BUCKETS = ("day", "week", "month")
MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(2999, 12, 31)
SUPPORTED_TEXT = f"Dates from {MIN_DATE.isoformat()} to {MAX_DATE.isoformat()} are supported."


class OutOfRange(ValueError):
    """A date outside ``MIN_DATE`` .. ``MAX_DATE``."""


def check_supported(*days: date | None) -> None:
    """OutOfRange for any of ``days`` outside the supported dates; None is ignored."""
    for day in days:
        if day is not None and not MIN_DATE <= day <= MAX_DATE:
            raise OutOfRange(f"{day.isoformat()} is out of range. {SUPPORTED_TEXT}")


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class Range:
    """A half-open interval ``[start, end)`` of aware UTC instants, read in the zone ``tz``.

    ``unit`` and ``step`` say what one period of this range is (``("day", 30)`` for Last 30
    days, ``("month", 3)`` for a quarter), which :func:`previous` steps back by; ``to_date``
    ranges end at "now" rather than at the end of their unit.
    """

    start: datetime
    end: datetime
    label: str
    tz: tzinfo
    preset: str = "custom"
    unit: str = "day"
    step: int = 1
    to_date: bool = False
    week_start: int = 0

    def __post_init__(self):
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("A range's start and end must be time-zone-aware.")
        if self.end < self.start:
            raise ValueError("A range cannot end before it starts.")

    @property
    def zone_name(self) -> str:
        return zone_name(self.tz)

    @property
    def local_start(self) -> datetime:
        return self.start.astimezone(self.tz)

    @property
    def local_end(self) -> datetime:
        return self.end.astimezone(self.tz)

    @property
    def first_day(self) -> date:
        return self.local_start.date()

    @property
    def last_day(self) -> date:
        """The last local date the range touches (its end is exclusive)."""
        if self.end == self.start:
            return self.first_day
        return (self.end - timedelta(microseconds=1)).astimezone(self.tz).date()

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def contains(self, instant: datetime) -> bool:
        return self.start <= instant < self.end

    def as_dict(self) -> dict:
        return {
            "preset": self.preset,
            "label": self.label,
            "tz": self.zone_name,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
        }


# ---------------------------------------------------------------- helpers


def get_zone(tz: str | tzinfo) -> tzinfo:
    """A tzinfo from a zone name (``"Asia/Kolkata"``) or a tzinfo; an unknown name is a ValueError."""
    if isinstance(tz, tzinfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(f"Unknown time zone {tz!r}.") from exc


def user_zone(user: Any) -> str:
    """A user's time zone: the profile's, else ``FALLBACK_ZONE`` (no user, no profile, anonymous)."""
    profile = getattr(user, "profile", None) if user is not None else None
    return getattr(profile, "time_zone", None) or FALLBACK_ZONE


def zone_name(tz: tzinfo) -> str:
    return getattr(tz, "key", None) or str(tz)


def localize(wall: datetime, tz: tzinfo) -> datetime:
    """The instant (UTC) of a local wall-clock time; a time skipped by DST moves forward, an
    ambiguous one takes its first occurrence."""
    # fold=0 picks the offset in force before a transition; the round trip through UTC turns
    # a non-existent wall time into the first real instant after the gap.
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)


def start_of_day(day: date, tz: str | tzinfo) -> datetime:
    """The first instant of a local calendar day, in that zone (a midnight skipped by DST becomes 01:00)."""
    return _start_of_day(day, get_zone(tz))


@lru_cache(maxsize=16384)
def _start_of_day(day: date, zone: tzinfo) -> datetime:
    # Cached: a screen asks for the same few hundred days for every metric on it.
    return localize(datetime.combine(day, time.min), zone).astimezone(zone)


@lru_cache(maxsize=16384)
def _utc_start_of_day(day: date, zone: tzinfo) -> datetime:
    return _start_of_day(day, zone).astimezone(UTC)


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months, the day of month clamped (31 March - 1 month = 28/29 February)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _shift(day: date, unit: str, amount: int) -> date:
    return add_months(day, amount) if unit == "month" else day + timedelta(days=amount)


def _week_start(value: int | str) -> int:
    if isinstance(value, str):
        try:
            return WEEKDAYS.index(value.lower())
        except ValueError:
            raise ValueError(f"Unknown week start {value!r}: choose one of {', '.join(WEEKDAYS)}.") from None
    if value not in range(7):
        raise ValueError("week_start is 0 (Monday) to 6 (Sunday).")
    return value


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be time-zone-aware.")
    return now.astimezone(UTC)


def week_start_of(day: date, week_start: int = 0) -> date:
    """The first day of the week holding ``day``."""
    return day - timedelta(days=(day.weekday() - week_start) % 7)


def quarter_start_of(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _build(preset, zone, first, stop, *, unit, step, week_start, now=None, label=None) -> Range:
    """``first`` and ``stop`` are local dates (``stop`` exclusive); with ``now`` the range ends at now."""
    start = _utc_start_of_day(first, zone)
    end = now if now is not None else _utc_start_of_day(stop, zone)
    return Range(
        start=start,
        end=max(end, start),
        label=label or PRESETS[preset],
        tz=zone,
        preset=preset,
        unit=unit,
        step=step,
        to_date=now is not None,
        week_start=week_start,
    )


# ---------------------------------------------------------------- presets


def resolve(
    preset: str,
    tz: str | tzinfo,
    now: datetime | None = None,
    *,
    week_start: int | str = 0,
    start_date: date | None = None,
    end_date: date | None = None,
) -> Range:
    """The :class:`Range` of a preset (a key of ``PRESETS``) in the zone ``tz`` at ``now``.

    ``custom`` needs ``start_date`` and ``end_date`` (local dates, both included).
    """
    zone = get_zone(tz)
    week_start = _week_start(week_start)
    if preset == "custom":
        if start_date is None or end_date is None:
            raise ValueError("A custom range needs a from date and a to date.")
        return custom(start_date, end_date, zone, week_start=week_start)
    now = _now(now)
    today = now.astimezone(zone).date()
    monday = week_start_of(today, week_start)
    month = today.replace(day=1)
    common = {"week_start": week_start}
    if preset == "today":
        return _build(preset, zone, today, None, unit="day", step=1, now=now, **common)
    if preset == "yesterday":
        return _build(preset, zone, today - timedelta(days=1), today, unit="day", step=1, **common)
    if preset == "this_week":
        return _build(preset, zone, monday, None, unit="day", step=7, now=now, **common)
    if preset == "last_week":
        return _build(preset, zone, monday - timedelta(days=7), monday, unit="day", step=7, **common)
    if preset == "last_7_days":
        return _build(preset, zone, today - timedelta(days=6), None, unit="day", step=7, now=now, **common)
    if preset == "last_30_days":
        return _build(preset, zone, today - timedelta(days=29), None, unit="day", step=30, now=now, **common)
    if preset == "this_month":
        return _build(preset, zone, month, None, unit="month", step=1, now=now, **common)
    if preset == "last_month":
        return _build(preset, zone, add_months(month, -1), month, unit="month", step=1, **common)
    if preset == "this_quarter":
        return _build(preset, zone, quarter_start_of(today), None, unit="month", step=3, now=now, **common)
    if preset == "this_year":
        return _build(preset, zone, date(today.year, 1, 1), None, unit="month", step=12, now=now, **common)
    raise ValueError(f"Unknown date range {preset!r}: choose one of {', '.join(PRESETS)}.")


def custom(first: date, last: date, tz: str | tzinfo, *, week_start: int | str = 0, label: str | None = None) -> Range:
    """Whole local days from ``first`` to ``last``, both included."""
    check_supported(first, last)
    if last < first:
        raise ValueError(f"The range ends ({last.isoformat()}) before it starts ({first.isoformat()}).")
    zone = get_zone(tz)
    days = (last - first).days + 1
    label = label or f"{first.isoformat()} to {last.isoformat()}"
    return _build(
        "custom",
        zone,
        first,
        last + timedelta(days=1),
        unit="day",
        step=days,
        week_start=_week_start(week_start),
        label=label,
    )


def period(kind: str, anchor: date, tz: str | tzinfo) -> Range:
    """The whole calendar ``month``, ``quarter`` or ``year`` holding ``anchor`` (for goals)."""
    check_supported(anchor)
    zone = get_zone(tz)
    if kind == "month":
        first, step = anchor.replace(day=1), 1
        label = first.strftime("%B %Y")
    elif kind == "quarter":
        first, step = quarter_start_of(anchor), 3
        label = f"Q{(first.month - 1) // 3 + 1} {first.year}"
    elif kind == "year":
        first, step = date(anchor.year, 1, 1), 12
        label = str(anchor.year)
    else:
        raise ValueError(f"Unknown period {kind!r}: choose month, quarter or year (or a custom range).")
    return _build("custom", zone, first, add_months(first, step), unit="month", step=step, week_start=0, label=label)


def previous(current: Range) -> Range:
    """The previous period of the same length; the rule is in this module's docstring."""
    zone = current.tz
    first = current.first_day
    prev_first = _shift(first, current.unit, -current.step)
    prev_start = _utc_start_of_day(prev_first, zone)
    unit_end = current.start  # the previous period never reaches into the current one
    if current.to_date:
        local_end = current.end.astimezone(zone)
        end_day = local_end.date()
        prev_end_day = _shift(end_day, current.unit, -current.step)
        if current.unit == "month" and prev_end_day.day != end_day.day:
            # The date does not exist in that month (31 March -> February): up to its end.
            end = min(_utc_start_of_day(prev_end_day + timedelta(days=1), zone), unit_end)
        else:
            end = min(localize(datetime.combine(prev_end_day, local_end.time()), zone), unit_end)
    else:
        # Whole units: the previous one ends where the current one starts.
        end = unit_end
    result = replace(current, start=prev_start, end=max(end, prev_start), preset="previous", label="")
    return replace(result, label=f"{result.first_day.isoformat()} to {result.last_day.isoformat()}")


# ---------------------------------------------------------------- chart buckets


@dataclass(frozen=True)
class Bucket:
    """One chart bucket: ``key`` is its first local date; ``start``/``end`` its instants clipped to the range."""

    key: date
    start: datetime
    end: datetime

    @property
    def label_start(self) -> date:
        return self.key


def bucket_key(day: date, by: str, week_start: int = 0) -> date:
    """The first local date of the ``by`` bucket holding the local date ``day``."""
    if by == "day":
        return day
    if by == "week":
        return week_start_of(day, week_start)
    if by == "month":
        return day.replace(day=1)
    raise ValueError(f"Unknown bucket {by!r}: choose one of {', '.join(BUCKETS)}.")


def bucket_keys(current: Range, by: str, week_start: int | str | None = None) -> list[date]:
    """The first local dates of the ``by`` buckets covering ``current``, in order."""
    week_start = current.week_start if week_start is None else _week_start(week_start)
    if current.end <= current.start:
        return []
    key = bucket_key(current.first_day, by, week_start)
    last = current.last_day
    keys = []
    while key <= last:
        keys.append(key)
        key = add_months(key, 1) if by == "month" else key + timedelta(days=1 if by == "day" else 7)
    return keys


def buckets(current: Range, by: str, week_start: int | str | None = None) -> list[Bucket]:
    """The day, week or month buckets covering ``current``, in order, each clipped to the range.

    A bucket's ``key`` is its calendar start, which for the first week or month can fall
    before the range: Last 30 days by month starts with the month the range starts in.
    An empty range has no buckets.
    """
    keys = bucket_keys(current, by, week_start)
    zone = current.tz
    bounds = [_utc_start_of_day(key, zone) for key in keys[1:]]
    starts = [current.start, *bounds]
    ends = [*bounds, current.end]
    return [Bucket(key=key, start=start, end=end) for key, start, end in zip(keys, starts, ends, strict=True)]


# ---------------------------------------------------------------- windows (inclusive, for syncs and placeholders)


@dataclass(frozen=True)
class Window:
    """An aware instant range ``[start, end]`` (both inclusive) and the zone it was cut in.

    ``tz`` may be given as a zone name; it is stored as a tzinfo. Compare and measure windows
    through ``contains`` and ``length``, which work in UTC.
    """

    start: datetime
    end: datetime
    tz: tzinfo

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("A window needs time-zone-aware start and end.")
        if self.end.astimezone(UTC) < self.start.astimezone(UTC):
            raise ValueError(
                f"A window cannot end ({self.end.isoformat()}) before it starts ({self.start.isoformat()})."
            )
        object.__setattr__(self, "tz", get_zone(self.tz))

    @property
    def length(self) -> timedelta:
        """The span covered, counting the inclusive end: a whole local day is 24 h (23 or 25 across DST)."""
        # In UTC: subtracting two datetimes that share a tzinfo ignores a DST change between them.
        return self.end.astimezone(UTC) - self.start.astimezone(UTC) + RESOLUTION

    def contains(self, moment: datetime) -> bool:
        return self.start.astimezone(UTC) <= moment.astimezone(UTC) <= self.end.astimezone(UTC)


def days_window(first: date, last: date, tz: str | tzinfo, now: datetime | None = None) -> Window:
    """Whole local days ``first`` to ``last`` in ``tz``: from the start of ``first`` to the end of
    ``last`` (its last microsecond), or to ``now`` when given."""
    zone = get_zone(tz)
    start = start_of_day(first, zone)
    if now is not None:
        return Window(start=start, end=now, tz=zone)
    end = (_utc_start_of_day(last + timedelta(days=1), zone) - RESOLUTION).astimezone(zone)
    return Window(start=start, end=end, tz=zone)


def earliest_start(day: date, tz: str | tzinfo) -> datetime:
    """The first instant of ``day`` in any zone a viewer may pick, never after its start in ``tz``.

    Written as UTC+14 wall time (``day`` 00:00+14:00), so its ``.date()`` is still ``day``.
    See "Whole local days for every viewer" above.
    """
    edge = datetime.combine(day, time.min, EASTERNMOST)
    own = start_of_day(day, tz)
    return edge if edge <= own else own


def latest_end(day: date, tz: str | tzinfo) -> datetime:
    """The last instant (microsecond) of ``day`` in any zone a viewer may pick, never before its end in ``tz``."""
    zone = get_zone(tz)
    edge = datetime.combine(day + timedelta(days=1), time.min, WESTERNMOST) - RESOLUTION
    own = (_utc_start_of_day(day + timedelta(days=1), zone) - RESOLUTION).astimezone(zone)
    return edge if edge >= own else own


def _aware_now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be time-zone-aware.")
    return now


def preview_window(preset: str, tz: str | tzinfo, now: datetime | None = None) -> Window:
    """The window of a preview preset (``PREVIEW_PRESETS``): :func:`resolve` of the same preset.

    ``last_7_days`` is the 7 calendar days ending today (today included, up to now); ``this_*``
    presets end now; ``yesterday``, ``last_week`` and ``last_month`` end on their last microsecond.
    Weeks start on Monday.
    """
    if preset not in PREVIEW_PRESETS:
        raise ValueError(f"Unknown preview range {preset!r}: choose one of {', '.join(PREVIEW_PRESETS)}.")
    zone = get_zone(tz)
    now = _aware_now(now)
    current = resolve(preset, zone, now)
    start = current.start.astimezone(zone)
    if current.to_date:
        return Window(start=start, end=now, tz=zone)
    return Window(start=start, end=(current.end - RESOLUTION).astimezone(zone), tz=zone)


def sync_window(now: datetime, window_days: int, tz: str | tzinfo) -> Window:
    """The rolling window of one sync: the ``window_days`` whole days before today, and today up to now.

    Starting at a local midnight keeps date-only values (``closingdate``) whole: the records a
    ``{{start:YYYY-MM-DD}}`` filter fetches are exactly the ones inside the window.
    ``window_days=0`` means today only.
    """
    if window_days < 0:
        raise ValueError("window_days cannot be negative.")
    zone = get_zone(tz)
    now = _aware_now(now)
    today = now.astimezone(zone).date()
    return days_window(today - timedelta(days=window_days), today, zone, now)


# ---------------------------------------------------------------- calendar dates


def floating(day: date) -> datetime:
    """How a calendar date is stored: midnight UTC of that date."""
    return datetime.combine(day, time.min, UTC)


def first_date_from(instant: datetime, tz: str | tzinfo) -> date:
    """The first local date (in ``tz``) whose day starts at or after ``instant``."""
    zone = get_zone(tz)
    day = instant.astimezone(zone).date()
    if _utc_start_of_day(day, zone) < instant:
        day = date.fromordinal(day.toordinal() + 1)
    return day


def calendar_range(current: Range) -> Range:
    """``current`` for calendar dates: the local dates whose day starts inside it, as a UTC range.

    The same dates for every viewer: This month in New York or in Tokyo is
    ``[first of the month 00:00Z, first of the next 00:00Z)``; a to-date range includes today.
    """
    if current.tz is UTC:
        return current
    start = floating(first_date_from(current.start, current.tz))
    end = floating(first_date_from(current.end, current.tz))
    return replace(current, start=start, end=end, tz=UTC)


def calendar_span(window: Window) -> tuple[datetime, datetime]:
    """``[low, high)``: the stored instants (midnight UTC of each date) of the local dates whose day
    starts inside ``window`` (both ends included, in the window's zone)."""
    first = first_date_from(window.start, window.tz)
    last = window.end.astimezone(window.tz).date()  # its day starts at or before the end
    return floating(first), floating(max(last + timedelta(days=1), first))
