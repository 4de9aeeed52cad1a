"""Safe downloads: CSV cells a spreadsheet will not run, file names a header can carry.

A CSV opened in a spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a
formula (``=cmd|' /C calc'!A0``), and a tab or carriage return at the start can hide the same
trick; the text columns of a values CSV (the dimension) come from an API. ``csv_cell`` does what
OWASP's CSV-injection guidance says: such a cell gets a leading single quote, which the
spreadsheet shows as text. A genuine number (``-12.5``) is left as it is, so a numeric column
stays numeric; numbers that are numbers (floats, ints) are never touched.

``writer(out)`` is a ``csv.writer`` that does this to every cell it writes.
``is_utc(zone_name)``: the zone is UTC under one of its names, so a values CSV needs no second
(local) timestamp column beside ``timestamp_utc``.
``currency_code(metric)`` is the ISO 4217 code a download names (in the JSON and in the CSV's value
columns, ``value_EUR``) when the metric's number format is currency, else None;
``breakdown_header``, ``breakdown_rows`` and ``breakdown_json`` lay out a
:class:`dashboards.breakdowns.Breakdown` (one row per dimension: key, label, value, previous
value, change) for the CSV, ``manage.py metric_values --by-dimension --json`` and the JSON.
``attachment(name, extension)`` is the Content-Disposition of a download named after user text
(a metric name): made one line by ``builder.validators.single_line`` (a CR/LF in a header is a
500, a right-to-left override disguises the extension), path separators replaced, then Django's
``content_disposition_header`` quotes it, in RFC 5987 form for non-ASCII names.

Pure: no queries, no requests.
"""

from __future__ import annotations

import csv
import re

from django.utils.http import content_disposition_header

from builder.models import NumberFormat
from builder.validators import single_line

# What a spreadsheet may read as the start of a formula (the full-width forms included, which
# some spreadsheets fold to the ASCII ones).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
MAX_FILENAME_CHARS = 150


# The IANA names of UTC itself (and of GMT, which never moves from it).
UTC_NAMES = frozenset(
    {"UTC", "Etc/UTC", "UCT", "Etc/UCT", "Universal", "Etc/Universal", "Zulu", "Etc/Zulu"}
    | {"GMT", "Etc/GMT", "GMT0", "Etc/GMT0", "GMT+0", "Etc/GMT+0", "GMT-0", "Etc/GMT-0", "Greenwich", "Etc/Greenwich"}
)


def is_utc(zone_name: str) -> bool:
    return zone_name in UTC_NAMES


def csv_cell(value):
    """``value`` as a CSV cell no spreadsheet will run as a formula."""
    if value is None or isinstance(value, int | float):
        return value
    text = str(value)
    if text.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


class _SafeWriter:
    def __init__(self, out, **kwargs):
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, row):
        return self._writer.writerow([csv_cell(value) for value in row])

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)


def writer(out, **kwargs) -> _SafeWriter:
    """``csv.writer(out)`` whose every text cell goes through ``csv_cell``."""
    return _SafeWriter(out, **kwargs)


def filename(base: str, extension: str, fallback: str = "export") -> str:
    """A file name from user text: clean, no path separators, not too long."""
    name = single_line(base).replace("/", "-").replace("\\", "-").strip(" .") or fallback
    return f"{name[:MAX_FILENAME_CHARS]}.{extension}"


def attachment(base: str, extension: str, fallback: str = "export") -> str:
    """The Content-Disposition value for downloading ``base.extension``."""
    return content_disposition_header(True, filename(base, extension, fallback))


# ---------------------------------------------------------------- currencies and breakdowns


def currency_code(metric) -> str | None:
    """The metric's currency code when it reads as money, else None."""
    return metric.currency if metric.number_format == NumberFormat.CURRENCY else None


def value_column(name: str, currency: str | None) -> str:
    """A value column's header, carrying the currency: ``value_EUR``; ``value`` without one."""
    return f"{name}_{currency}" if currency else name


def breakdown_header(currency: str | None) -> list[str]:
    money = [value_column(name, currency) for name in ("value", "previous_value", "change")]
    return ["dimension", "label", *money, "change_percent", "share_percent"]


def breakdown_records(table) -> list[dict]:
    """One dict per line of a breakdown: the raw dimension (None for Other), its label, value,
    previous value, change, change in percent and share in percent (None where there is none)."""
    return [
        {
            "dimension": line.key,
            "label": line.label,
            "value": line.value,
            "previous_value": line.previous,
            "change": line.change,
            "change_percent": line.comparison.percent if line.comparison else None,
            "share_percent": line.share,
        }
        for line in table.lines
    ]


def breakdown_rows(table) -> list[list]:
    """The CSV rows of a breakdown, in the order of :func:`breakdown_header`."""
    return [list(record.values()) for record in breakdown_records(table)]


def breakdown_json(table) -> dict:
    """A breakdown for JSON: the metric's value, the previous period and one record per dimension."""
    previous = table.previous_range
    return {
        "aggregation": table.metric.aggregation,
        "value": table.value,
        "previous_value": table.previous_value,
        "previous_range": previous.as_dict() if previous else None,
        "dimensions": breakdown_records(table),
    }
