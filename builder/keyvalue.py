"""Key/Value rows: the query parameters and headers of the Prepare API Request step.

The form posts rows formset-style: ``params-TOTAL_FORMS`` and ``params-0-key``,
``params-0-value``, ``params-1-key``, ... The "+" button is named ``params-add``; a "−" button
is named ``params-remove`` with the row's index as its value. These functions read, change,
check and convert the rows, so the view only wires them to the request and a template.

Keys and values are stripped of surrounding spaces (a trailing space is a typo, and HTTP
libraries refuse header values that start with one). A row with neither key nor value is
empty and is dropped before saving. Query parameters may repeat a key (``tag=a&tag=b``);
headers may not.

Pure module: no Django, no models.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

MAX_ROWS = 50
KINDS = ("params", "headers")
# RFC 9110 token characters.
HEADER_NAME_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
ROW_FIELD_RE = re.compile(r"(\d+)-(?:key|value)")


@dataclass(frozen=True)
class Row:
    key: str = ""
    value: str = ""

    @property
    def is_empty(self) -> bool:
        return not self.key and not self.value


@dataclass(frozen=True)
class RowError:
    index: int  # 0-based; messages count rows from 1
    field: str  # "key" or "value"
    message: str


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):  # a plain dict of lists, as QueryDict.lists() gives
        value = value[-1] if value else ""
    return "" if value is None else str(value).strip()


def _row_count(data: Mapping[str, Any], prefix: str) -> int:
    total = _text(data.get(f"{prefix}-TOTAL_FORMS"))
    if total.isdigit():
        return int(total)
    indexes = [
        int(match.group(1))
        for name in data
        if name.startswith(f"{prefix}-") and (match := ROW_FIELD_RE.fullmatch(name[len(prefix) + 1 :]))
    ]
    return max(indexes) + 1 if indexes else 0


def parse_rows(data: Mapping[str, Any], prefix: str = "params") -> list[Row]:
    """The rows posted under ``prefix``, in order, at most MAX_ROWS.

    The count comes from ``{prefix}-TOTAL_FORMS``, or, without it, from the highest row index
    posted. Missing fields read as empty.
    """
    count = min(_row_count(data, prefix), MAX_ROWS)
    return [
        Row(key=_text(data.get(f"{prefix}-{i}-key")), value=_text(data.get(f"{prefix}-{i}-value")))
        for i in range(count)
    ]


def pressed(data: Mapping[str, Any], prefix: str = "params") -> tuple[str, int | None] | None:
    """Which row button was pressed: ``("add", None)``, ``("remove", index)``, or None."""
    if f"{prefix}-add" in data:
        return ("add", None)
    index = _text(data.get(f"{prefix}-remove"))
    if index.isdigit():
        return ("remove", int(index))
    return None


def add_row(rows: list[Row]) -> list[Row]:
    """The rows with an empty row at the end (unchanged at MAX_ROWS)."""
    return [*rows, Row()] if len(rows) < MAX_ROWS else list(rows)


def remove_row(rows: list[Row], index: int) -> list[Row]:
    """The rows without row ``index``; an index out of range (a stale page) changes nothing."""
    return [row for i, row in enumerate(rows) if i != index]


def drop_empty(rows: Iterable[Row]) -> list[Row]:
    return [row for row in rows if not row.is_empty]


def validate(rows: list[Row], kind: str = "params") -> list[RowError]:
    """What is wrong with the rows; empty rows are ignored. ``kind``: ``params`` or ``headers``."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}.")
    errors: list[RowError] = []
    if len(rows) > MAX_ROWS:
        errors.append(RowError(MAX_ROWS, "key", f"At most {MAX_ROWS} rows are allowed."))
    first_seen: dict[str, int] = {}
    for index, row in enumerate(rows):
        number = index + 1
        if row.is_empty:
            continue
        if not row.key:
            errors.append(RowError(index, "key", f"Row {number}: a value needs a key."))
            continue
        if kind != "headers":
            continue
        if not HEADER_NAME_RE.fullmatch(row.key):
            errors.append(
                RowError(
                    index,
                    "key",
                    f"Row {number}: {row.key!r} is not a valid header name "
                    "(letters, digits and - _ . only; no spaces or colons).",
                )
            )
        if any(char in row.value for char in "\r\n\0"):
            errors.append(RowError(index, "value", f"Row {number}: a header value cannot contain line breaks."))
        folded = row.key.lower()
        if folded in first_seen:
            errors.append(
                RowError(
                    index, "key", f"Row {number}: the header {row.key} is already set in row {first_seen[folded] + 1}."
                )
            )
        else:
            first_seen[folded] = index
    return errors


def to_pairs(rows: Iterable[Row]) -> list[tuple[str, str]]:
    """The non-empty rows as ``(key, value)`` pairs, in order (the stored request format)."""
    return [(row.key, row.value) for row in drop_empty(rows)]


def from_pairs(pairs: Iterable[tuple[str, str] | list[str]]) -> list[Row]:
    """Rows from stored pairs (``[["query", "SELECT ..."]]`` in a metric definition)."""
    return [Row(key=_text(key), value=_text(value)) for key, value in pairs]
