"""Date fields in API responses: find the records, propose date fields, parse their values.

Formats (the names stored in a metric's ``date.format``)
    ``iso``                  ISO 8601: ``2026-06-30``, ``2026-06-30T14:05:09``, with ``Z`` or an offset,
                             fractions of a second allowed, ``T`` or a space between date and time
    ``YYYY-MM-DD HH:mm:ss``  Vtiger's ``createdtime``/``modifiedtime`` (``YYYY-MM-DD HH:MM:SS`` is accepted too)
    ``YYYY-MM-DD``           Vtiger's date fields (``closingdate``, ``invoicedate``)
    ``unix``, ``unix_ms``    epoch seconds or milliseconds, as JSON numbers or digit strings
    a custom pattern         the tokens of ``builder.placeholders`` (``DD/MM/YYYY``, ``YYYY-MM``)

Values without an offset are read in ``naive_tz``: the zone the API writes its data in
(Vtiger: UTC). Every parsed value is returned as an aware datetime in UTC.

Instants and calendar dates
    A format with a time of day (``iso``, the epochs, ``YYYY-MM-DD HH:mm:ss``, any pattern with
    ``HH``, ``mm`` or ``ss``) gives **instants**: moments, shown in each viewer's zone. A format
    without one (``YYYY-MM-DD``, ``DD/MM/YYYY``, ``YYYY-MM``) gives **calendar dates**: a deal
    closing on 2026-10-15 closes on that date for every viewer. A calendar date is returned as
    midnight UTC of that date ("floating"), whatever ``naive_tz``; ``date_kind`` tells a
    metric's readers (``dashboards.queries``) to read it as a date, not as that instant.

Pure module: no Django, no models.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any

from builder.placeholders import EPOCH, PatternError, format_instant, parse_pattern
from builder.timeframes import get_zone

ISO = "iso"
DATETIME = "YYYY-MM-DD HH:mm:ss"
DATE = "YYYY-MM-DD"
UNIX = "unix"
UNIX_MS = "unix_ms"
FORMATS = (ISO, DATETIME, DATE, UNIX, UNIX_MS)
FORMAT_LABELS = {
    ISO: "ISO 8601",
    DATETIME: "YYYY-MM-DD HH:MM:SS",
    DATE: "YYYY-MM-DD",
    UNIX: "Epoch seconds",
    UNIX_MS: "Epoch milliseconds",
}

INSTANT = "instant"
CALENDAR = "calendar"
TIME_TOKENS = frozenset({"HH", "mm", "ss"})

# Where a response usually keeps its records, in the order they are tried.
RECORD_KEYS = ("result", "data", "items", "records")
SEARCH_DEPTH = 4

# Epoch values are only taken for dates between 2000-01-01 and 2100-01-01 (UTC).
EPOCH_MIN = 946_684_800
EPOCH_MAX = 4_102_444_800

ISO_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}"
    r"(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?)?"
)
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
DATETIME_RE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
EPOCH_STRING_RE = re.compile(r"\d{9,13}")
NUMBER_STRING_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
# The digits of each token of a custom pattern (MM the month, mm the minutes).
PATTERN_DIGITS = {
    "YYYY": r"\d{4}",
    "MM": r"\d{1,2}",
    "DD": r"\d{1,2}",
    "HH": r"\d{1,2}",
    "mm": r"\d{1,2}",
    "ss": r"\d{1,2}",
}

DATE_NAME_RE = re.compile(r"date|time|day|created|modified|updated|deleted|timestamp|expir|(?:^|_)(?:at|on|ts)$", re.I)
CAMEL_DATE_NAME_RE = re.compile(r"[a-z](?:At|On|Ts)$")
# Numbers under these names are not epochs, whatever their size.
NOT_EPOCH_NAME_RE = re.compile(
    r"phone|mobile|fax|zip|postal|code|(?:^|_)id$|[a-z]Id$|_no$|number|count|qty|quantity|amount|price|total|revenue",
    re.I,
)

# Shown in error messages as an example of the expected format.
EXAMPLE_INSTANT = datetime(2026, 6, 30, 14, 5, 9, tzinfo=UTC)


class DateParseError(ValueError):
    """A value that cannot be read in the expected format; the message shows both."""


@dataclass(frozen=True)
class DateCandidate:
    path: str  # field name, dotted for nested objects: "closingdate", "attributes.created_at"
    format: str  # one of FORMATS
    sample: Any  # the first raw value seen
    parsed: datetime  # that value, parsed, in UTC
    confidence: float  # 0..1
    matched: int  # sampled values in this format
    checked: int  # sampled records


@dataclass(frozen=True)
class DatePreview:
    raw: str
    utc: str
    local: str


# ---------------------------------------------------------------- parsing


def example(fmt: str) -> str:
    """How a value in ``fmt`` looks: ``example("YYYY-MM-DD") == "2026-06-30"``."""
    if fmt == ISO:
        return "2026-06-30T14:05:09Z"
    return format_instant(EXAMPLE_INSTANT, fmt, UTC)


def _fail(value: Any, fmt: str, reason: str = "") -> DateParseError:
    label = FORMAT_LABELS.get(fmt, fmt)
    detail = f" ({reason})" if reason else ""
    return DateParseError(f"Cannot read {value!r} as {label}, like {example(fmt)}{detail}.")


def _localise(naive: datetime, naive_tz: tzinfo) -> datetime:
    return naive.replace(tzinfo=naive_tz).astimezone(UTC)


def _parse_iso(value: Any, naive_tz: tzinfo) -> datetime:
    if not isinstance(value, str) or not ISO_RE.fullmatch(value.strip()):
        raise _fail(value, ISO)
    text = value.strip().upper()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise _fail(value, ISO, str(exc)) from exc
    return moment.astimezone(UTC) if moment.tzinfo else _localise(moment, naive_tz)


def _parse_epoch(value: Any, fmt: str) -> datetime:
    if isinstance(value, bool):
        raise _fail(value, fmt)
    if isinstance(value, str) and NUMBER_STRING_RE.fullmatch(value.strip()):
        number: float | int = float(value) if "." in value else int(value)
    elif isinstance(value, int | float) and math.isfinite(value):
        number = value
    else:
        raise _fail(value, fmt)
    unit = timedelta(seconds=1) if fmt == UNIX else timedelta(milliseconds=1)
    try:
        return EPOCH + unit * number
    except OverflowError as exc:
        raise _fail(value, fmt, "out of range") from exc


# The fields of ``datetime(year, month, day, hour, minute, second)`` and what each is when the
# pattern leaves it out (the year never is: a pattern without it is refused).
DATETIME_FIELDS = ("YYYY", "MM", "DD", "HH", "mm", "ss")
FIELD_DEFAULTS = (0, 1, 1, 0, 0, 0)


@lru_cache(maxsize=64)
def _pattern_reader(fmt: str) -> tuple[re.Pattern[str], tuple[int, ...]]:
    """A custom pattern's regex, and for each of its groups in order the ``DATETIME_FIELDS`` index it fills.

    Once per format (a sync reads every value of a page in one format): both are immutable, so the
    cached pair is shared safely.
    """
    try:
        parts = parse_pattern(fmt)
    except PatternError as exc:
        raise DateParseError(f"The date format {fmt!r} cannot be used: {exc}.") from exc
    if "YYYY" not in parts:
        raise DateParseError(f"The date format {fmt!r} cannot be used: it needs the year, YYYY.")
    regex = re.compile(
        "".join(f"({PATTERN_DIGITS[part]})" if part in PATTERN_DIGITS else re.escape(part) for part in parts)
    )
    return regex, tuple(DATETIME_FIELDS.index(part) for part in parts if part in PATTERN_DIGITS)


def _parse_pattern(value: Any, fmt: str, naive_tz: tzinfo) -> datetime:
    regex, slots = _pattern_reader(fmt)
    match = regex.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise _fail(value, fmt)
    fields = list(FIELD_DEFAULTS)
    for slot, number in zip(slots, match.groups(), strict=True):
        fields[slot] = int(number)
    try:
        naive = datetime(*fields)
    except ValueError as exc:
        raise _fail(value, fmt, str(exc)) from exc
    return _localise(naive, naive_tz)


@lru_cache(maxsize=64)  # parse() asks for every value it reads
def has_time_of_day(fmt: str | None) -> bool:
    """Whether values in ``fmt`` carry a time of day (instants) or are calendar dates.

    An empty format is ``iso``; a custom pattern has a time of day when it has ``HH``, ``mm`` or
    ``ss``; a pattern that cannot be parsed counts as having one (it cannot be used anyway).
    """
    if not fmt or fmt in (ISO, UNIX, UNIX_MS):
        return True
    try:
        parts = parse_pattern(fmt)
    except PatternError:
        return True
    return bool(TIME_TOKENS.intersection(parts))


def date_kind(fmt: str | None) -> str:
    """``"instant"`` or ``"calendar"``: how values in ``fmt`` are read (see the module docstring)."""
    return INSTANT if has_time_of_day(fmt) else CALENDAR


def parse(value: Any, fmt: str, naive_tz: str | tzinfo = "UTC") -> datetime:
    """Read one raw value in ``fmt``; an aware datetime in UTC, or DateParseError.

    Values without an offset are read in ``naive_tz`` (Vtiger: UTC); a calendar date (a format
    without a time of day) is midnight UTC of its date whatever ``naive_tz``.
    """
    zone = get_zone(naive_tz)
    custom = fmt not in (ISO, UNIX, UNIX_MS)
    if custom:
        _pattern_reader(fmt)  # an unusable format is reported before any value
        if not has_time_of_day(fmt):
            zone = UTC
    if value is None or (isinstance(value, str) and not value.strip()):
        raise DateParseError(f"The date is empty; expected {FORMAT_LABELS.get(fmt, fmt)}, like {example(fmt)}.")
    if fmt == ISO:
        return _parse_iso(value, zone)
    if not custom:
        return _parse_epoch(value, fmt)
    return _parse_pattern(value, fmt, zone)


def display(moment: datetime, tz: str | tzinfo) -> str:
    """``2026-06-29 20:00:00 EDT``: an instant as seen in a zone, for previews."""
    local = moment.astimezone(get_zone(tz))
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}"


def preview(value: Any, fmt: str, naive_tz: str | tzinfo, tz: str | tzinfo) -> DatePreview:
    """The raw value, and its parsed instant in UTC and in the analyst's zone.

    A calendar date is the same date in both: ``2026-10-15 (calendar date)``.
    """
    moment = parse(value, fmt, naive_tz)
    if not has_time_of_day(fmt):
        shown = f"{moment:%Y-%m-%d} (calendar date)"
        return DatePreview(raw=str(value), utc=shown, local=shown)
    return DatePreview(raw=str(value), utc=display(moment, UTC), local=display(moment, tz))


# ---------------------------------------------------------------- finding records


def _is_object_list(value: Any) -> bool:
    if not isinstance(value, list) or not value:
        return False
    head = value[:20]
    return sum(isinstance(item, dict) for item in head) * 2 > len(head)


def find_records(data: Any) -> tuple[str | None, list[Any]]:
    """The main array of a response and its dotted path (``""`` for the response itself).

    Tried in order: the response itself, ``result``, ``data``, ``items``, ``records``, then the
    largest array of objects anywhere in nested objects (Vtiger ``sync``: ``result.updated``).
    ``(None, [])`` when the response holds no array.
    """
    if isinstance(data, list):
        return "", data
    if not isinstance(data, dict):
        return None, []
    for key in RECORD_KEYS:
        if isinstance(data.get(key), list):
            return key, data[key]
    best: tuple[str, list[Any]] | None = None
    level: list[tuple[str, dict[str, Any]]] = [("", data)]
    for _ in range(SEARCH_DEPTH):
        deeper: list[tuple[str, dict[str, Any]]] = []
        for prefix, node in level:
            for key, value in node.items():
                path = f"{prefix}.{key}" if prefix else str(key)
                if _is_object_list(value) and (best is None or len(value) > len(best[1])):
                    best = (path, value)
                elif isinstance(value, dict):
                    deeper.append((path, value))
        level = deeper
    return best if best is not None else (None, [])


# ---------------------------------------------------------------- detecting date fields


def detect_format(value: Any) -> str | None:
    """The date format a single raw value is in, or None. Epochs only between 2000 and 2100."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _epoch_format(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if EPOCH_STRING_RE.fullmatch(text):
        return _epoch_format(int(text))
    fmt = DATE if DATE_RE.fullmatch(text) else DATETIME if DATETIME_RE.fullmatch(text) else ISO
    try:
        parse(text, fmt)
    except DateParseError:
        return None
    return fmt


def _epoch_format(number: float) -> str | None:
    if not math.isfinite(number):
        return None
    if EPOCH_MIN <= number < EPOCH_MAX:
        return UNIX
    if EPOCH_MIN * 1000 <= number < EPOCH_MAX * 1000:
        return UNIX_MS
    return None


def _leaves(record: dict[str, Any], prefix: str = "", depth: int = 0) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for key, value in record.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            if depth < 2:
                found.extend(_leaves(value, path, depth + 1))
        elif not isinstance(value, list):
            found.append((path, value))
    return found


def _looks_like_date_name(path: str) -> bool:
    name = path.rsplit(".", 1)[-1]
    return bool(DATE_NAME_RE.search(name) or CAMEL_DATE_NAME_RE.search(name))


def _base_confidence(fmt: str, sample: Any, path: str) -> float | None:
    named = _looks_like_date_name(path)
    if fmt in (UNIX, UNIX_MS):
        if NOT_EPOCH_NAME_RE.search(path.rsplit(".", 1)[-1]):
            return None
        base = 0.6 if isinstance(sample, int | float) else 0.45
        return base + (0.3 if named else 0.0)
    has_offset = fmt == ISO and bool(re.search(r"(?:[Zz]|[+-]\d{2}:?\d{2})$", str(sample).strip()))
    base = {ISO: 0.9, DATETIME: 0.9, DATE: 0.85}[fmt] + (0.05 if has_offset else 0.0)
    return base + (0.05 if named else 0.0)


def detect(data: Any, sample_size: int = 20, naive_tz: str | tzinfo = "UTC") -> list[DateCandidate]:
    """Candidate date fields of a response's records, most likely first.

    Looks at the first ``sample_size`` records of the main array (``find_records``). A field is
    a candidate when at least 80% of its non-empty sampled values share a date format; string
    formats that disagree (dates and datetimes mixed) fall back to ``iso``, which reads both.
    """
    _, records = find_records(data)
    sample = [record for record in records[:sample_size] if isinstance(record, dict)]
    values: dict[str, list[Any]] = {}
    for record in sample:
        for path, value in _leaves(record):
            values.setdefault(path, []).append(value)

    candidates: list[tuple[float, int, DateCandidate]] = []
    for order, (path, raw_values) in enumerate(values.items()):
        present = [value for value in raw_values if value is not None and value != ""]
        if not present:
            continue
        formats = [detect_format(value) for value in present]
        counts = Counter(fmt for fmt in formats if fmt is not None)
        if not counts:
            continue
        fmt, matched = counts.most_common(1)[0]
        mixed_strings = len(counts) > 1 and set(counts) <= {ISO, DATETIME, DATE}
        if mixed_strings:
            fmt, matched = ISO, sum(counts.values())
        if matched * 5 < len(present) * 4:
            continue
        first = next(
            value for value, found in zip(present, formats, strict=True) if found == fmt or (mixed_strings and found)
        )
        base = _base_confidence(fmt, first, path)
        if base is None:
            continue
        coverage = len(present) / len(sample)
        confidence = round(min(base, 1.0) * (matched / len(present)) * (0.7 + 0.3 * coverage), 3)
        candidate = DateCandidate(
            path=path,
            format=fmt,
            sample=first,
            parsed=parse(first, fmt, naive_tz),
            confidence=confidence,
            matched=matched,
            checked=len(sample),
        )
        candidates.append((-confidence, order, candidate))
    return [candidate for *_, candidate in sorted(candidates, key=lambda item: item[:2])]
