"""Date ranges for reading metrics: the presets of product.md in the viewer's time zone.

Pure: no models, no requests, no Django. Everything is a half-open interval of aware instants
``[start, end)`` in UTC, with days starting at midnight in the viewer's zone, so a day is
23 or 25 hours long across a DST change and Asia/Kolkata (+05:30) or Asia/Kathmandu (+05:45)
days start at 18:30 or 18:15 UTC.

The presets
-----------
``today``, ``this_week``, ``this_month``, ``this_quarter`` and ``this_year`` are *to date*:
from the first local midnight of the unit up to ``now``. ``last_7_days`` and ``last_30_days``
are the 7 or 30 local calendar days ending today, today included up to ``now`` (the same
meaning as the wizard's preview ranges in ``builder.placeholders``). ``yesterday``,
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
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
        return getattr(self.tz, "key", None) or str(self.tz)

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


def localize(wall: datetime, tz: tzinfo) -> datetime:
    """The instant (UTC) of a local wall-clock time; a time skipped by DST moves forward, an
    ambiguous one takes its first occurrence."""
    # fold=0 picks the offset in force before a transition; the round trip through UTC turns
    # a non-existent wall time into the first real instant after the gap.
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)


def start_of_day(day: date, tz: str | tzinfo) -> datetime:
    """The first instant (UTC) of a local calendar day."""
    return _start_of_day(day, get_zone(tz))


@lru_cache(maxsize=16384)
def _start_of_day(day: date, zone: tzinfo) -> datetime:
    # Cached: a screen asks for the same few hundred days for every metric on it.
    return localize(datetime.combine(day, time.min), zone)


def local_midnight(day: date, tz: str | tzinfo) -> datetime:
    """The first instant of a local calendar day, as an aware datetime in that zone."""
    zone = get_zone(tz)
    return _start_of_day(day, zone).astimezone(zone)


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
    start = start_of_day(first, zone)
    end = now if now is not None else start_of_day(stop, zone)
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
    prev_start = start_of_day(prev_first, zone)
    unit_end = current.start  # the previous period never reaches into the current one
    if current.to_date:
        local_end = current.end.astimezone(zone)
        end_day = local_end.date()
        prev_end_day = _shift(end_day, current.unit, -current.step)
        if current.unit == "month" and prev_end_day.day != end_day.day:
            # The date does not exist in that month (31 March -> February): up to its end.
            end = min(start_of_day(prev_end_day + timedelta(days=1), zone), unit_end)
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
    bounds = [start_of_day(key, zone) for key in keys[1:]]
    starts = [current.start, *bounds]
    ends = [*bounds, current.end]
    return [Bucket(key=key, start=start, end=end) for key, start, end in zip(keys, starts, ends, strict=True)]
