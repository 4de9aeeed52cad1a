"""Dynamic date placeholders: ``{{start}}``, ``{{end}}``, ``{{start:FORMAT}}``, ``{{end:FORMAT}}``.

A request (endpoint, query parameters, headers, JSON body) may hold placeholders that a sync
fills with its window and the Send-request preview fills with a preview range.

Formats
    ``iso``      ISO 8601 with the offset, to the second: ``2026-03-08T00:00:00-05:00``
    ``unix``     epoch seconds: ``1772946000``
    ``unix_ms``  epoch milliseconds: ``1772946000000``
    a pattern    made of ``YYYY MM DD HH mm ss`` (``MM`` month, ``mm`` minutes) and the literal
                 separators ``-`` ``/`` ``:`` ``.`` space ``T``: ``YYYY-MM-DD``, ``DD/MM/YYYY``,
                 ``YYYY-MM-DDTHH:mm:ss``. The spelling ``YYYY-MM-DD HH:MM:SS`` used in the product
                 text is accepted as a name for ``YYYY-MM-DD HH:mm:ss``.

Default format: a bare ``{{start}}`` renders as ``YYYY-MM-DD HH:mm:ss``. That is the format of
Vtiger's datetime columns (``createdtime``, ``modifiedtime``), VTQL compares literals as text
against the database values, and MySQL still compares a ``date`` column correctly against it
(``closingdate >= '2026-03-01 00:00:00'``), so the default is right for every Vtiger date field.

The window
    A :class:`builder.timeframes.Window` is an aware instant range, **both ends inclusive**. Whole-day windows end
    on the last microsecond of their last day (``23:59:59.999999`` local), which renders as
    ``23:59:59`` in second-precision formats, so ``field <= '{{end:YYYY-MM-DD}}'`` is right.
    Day boundaries are local midnights in the window's zone (the metric's zone), so a day
    across a DST change lasts 23 or 25 hours.

Rendering zone
    The window's zone decides where its days begin; the *rendering* zone decides how its
    instants are written. They differ for APIs that store naive times in another zone:
    Vtiger compares literals against database values in UTC, so the caller renders a Vtiger
    request with ``render(text, window, zone=UTC)``. Use the same zone ``builder.dates.parse``
    uses for naive values of that connection, so that the filter and the stamps agree.
    Without ``zone`` the window's own zone is used.

Pure module: no Django, no models.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any

from builder.timeframes import Window, get_zone

NAMES = ("start", "end")
NAMED_FORMATS = ("iso", "unix", "unix_ms")
DEFAULT_FORMAT = "YYYY-MM-DD HH:mm:ss"
PATTERN_TOKENS = ("YYYY", "MM", "DD", "HH", "mm", "ss")
PATTERN_SEPARATORS = frozenset("-/:. T")
# The product text spells Vtiger's datetime format this way; it cannot mean month twice.
FORMAT_ALIASES = {"YYYY-MM-DD HH:MM:SS": "YYYY-MM-DD HH:mm:ss"}

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

PLACEHOLDER_RE = re.compile(r"\{\{([^{}]*)\}\}")

FORMATS_HELP = "use iso, unix, unix_ms, or a pattern of YYYY MM DD HH mm ss joined by - / : . space or T"


class PatternError(ValueError):
    """A date pattern that cannot be used; the message names the bad part."""


class PlaceholderError(ValueError):
    """An unknown placeholder or format. ``token`` is the placeholder as written."""

    def __init__(self, message: str, token: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.token = token


@dataclass(frozen=True)
class Placeholder:
    raw: str  # as written, braces included: "{{start:YYYY-MM-DD}}"
    name: str  # "start" or "end"
    fmt: str | None  # None when no format was written; normalised (aliases resolved)


# ---------------------------------------------------------------- patterns (shared with dates.py)


@lru_cache(maxsize=256)
def parse_pattern(fmt: str) -> tuple[str, ...]:
    """Split a pattern into tokens and literal separators: ``"YYYY-MM"`` -> ``("YYYY", "-", "MM")``.

    Raises PatternError (a short lower-case clause, for embedding in a sentence) naming the part
    that is neither a token nor a separator, or a token written twice (``YYYY-MM-DD HH:MM``
    writes the month twice: minutes are ``mm``).
    """
    fmt = FORMAT_ALIASES.get(fmt, fmt)
    if not fmt:
        raise PatternError("the format is empty")
    parts: list[str] = []
    i = 0
    while i < len(fmt):
        token = next((t for t in PATTERN_TOKENS if fmt.startswith(t, i)), None)
        if token is not None:
            if token in parts:
                hint = " (MM is the month, mm the minutes)" if token in ("MM", "mm") else ""
                raise PatternError(f"{token} appears twice{hint}")
            parts.append(token)
            i += len(token)
        elif fmt[i] in PATTERN_SEPARATORS:
            parts.append(fmt[i])
            i += 1
        else:
            end = i
            while end < len(fmt) and fmt[end] not in PATTERN_SEPARATORS:
                end += 1
            bad = fmt[i:end]
            hint = " (the year is YYYY, the day DD)" if bad[:1] in ("y", "d") else ""
            raise PatternError(f"{bad!r} is not a date part{hint}")
    return tuple(parts)


def format_pattern(moment: datetime, fmt: str) -> str:
    """Write ``moment`` (its own wall-clock fields) with a pattern."""
    values = {
        "YYYY": f"{moment.year:04d}",
        "MM": f"{moment.month:02d}",
        "DD": f"{moment.day:02d}",
        "HH": f"{moment.hour:02d}",
        "mm": f"{moment.minute:02d}",
        "ss": f"{moment.second:02d}",
    }
    return "".join(values.get(part, part) for part in parse_pattern(fmt))


def format_instant(moment: datetime, fmt: str, zone: tzinfo) -> str:
    """Write an aware instant in a format (named or pattern), as seen in ``zone``."""
    if fmt == "unix":
        return str((moment - EPOCH) // timedelta(seconds=1))
    if fmt == "unix_ms":
        return str((moment - EPOCH) // timedelta(milliseconds=1))
    local = moment.astimezone(zone)
    if fmt == "iso":
        return local.replace(microsecond=0).isoformat()
    return format_pattern(local, fmt)


# ---------------------------------------------------------------- finding and checking


def _scan(text: str) -> Iterator[Placeholder | PlaceholderError]:
    """Every placeholder in ``text``, or the error that makes it unusable, in order."""
    for match in PLACEHOLDER_RE.finditer(text):
        yield _read(match.group(0), match.group(1))
    leftover = PLACEHOLDER_RE.sub("", text)
    if "{{" in leftover:
        at = leftover.index("{{")
        close = leftover.find("}", at, at + 40)
        snippet = leftover[at : close + 1] if close != -1 else leftover[at : at + 24].strip()
        yield PlaceholderError(
            f"Unclosed placeholder {snippet}: write it as {{{{start}}}} or {{{{end:FORMAT}}}}.", snippet
        )


def _read(raw: str, inner: str) -> Placeholder | PlaceholderError:
    name, sep, fmt = inner.partition(":")
    name = name.strip()
    if name not in NAMES:
        return PlaceholderError(f"Unknown placeholder {raw}: only {{{{start}}}} and {{{{end}}}} exist.", raw)
    if not sep:
        return Placeholder(raw=raw, name=name, fmt=None)
    fmt = fmt.strip()
    if fmt in NAMED_FORMATS:
        return Placeholder(raw=raw, name=name, fmt=fmt)
    try:
        parse_pattern(fmt)
    except PatternError as exc:
        detail = "" if str(exc) == f"{fmt!r} is not a date part" else f"{exc}; "
        return PlaceholderError(f"Unknown date format {fmt!r} in {raw}: {detail}{FORMATS_HELP}.", raw)
    return Placeholder(raw=raw, name=name, fmt=FORMAT_ALIASES.get(fmt, fmt))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def find(value: Any) -> list[Placeholder]:
    """The placeholders used in a string, or in the strings of a nested list/dict; bad ones skipped."""
    return [item for text in _strings(value) for item in _scan(text) if isinstance(item, Placeholder)]


def validate(value: Any) -> list[str]:
    """Plain error messages for unknown placeholders and formats (empty when all is well)."""
    return [item.message for text in _strings(value) for item in _scan(text) if isinstance(item, PlaceholderError)]


# ---------------------------------------------------------------- rendering


def render(text: str, window: Window, zone: str | tzinfo | None = None) -> str:
    """Fill the placeholders of one string; raises PlaceholderError on the first bad one.

    ``zone``: the zone to write instants in (default: the window's). See the module docstring.
    """
    rendering_zone = get_zone(zone) if zone is not None else window.tz
    for item in _scan(text):
        if isinstance(item, PlaceholderError):
            raise item

    def fill(match: re.Match[str]) -> str:
        item = _read(match.group(0), match.group(1))
        if isinstance(item, PlaceholderError):  # not reached: the scan above raised already
            raise item
        moment = window.start if item.name == "start" else window.end
        return format_instant(moment, item.fmt or DEFAULT_FORMAT, rendering_zone)

    return PLACEHOLDER_RE.sub(fill, text)


def render_json(value: Any, window: Window, zone: str | tzinfo | None = None) -> Any:
    """Fill placeholders in every string of a JSON value (dict keys are left alone).

    A string that is exactly one ``unix`` or ``unix_ms`` placeholder becomes a JSON number,
    since a JSON body cannot hold a bare placeholder: ``{"since": "{{start:unix}}"}`` is sent as
    ``{"since": 1772946000}``. Any other string stays a string.
    """
    if isinstance(value, str):
        rendered = render(value, window, zone)
        whole = PLACEHOLDER_RE.fullmatch(value)
        if whole is not None:
            item = _read(whole.group(0), whole.group(1))
            if isinstance(item, Placeholder) and item.fmt in ("unix", "unix_ms"):
                return int(rendered)
        return rendered
    if isinstance(value, dict):
        return {key: render_json(item, window, zone) for key, item in value.items()}
    if isinstance(value, list):
        return [render_json(item, window, zone) for item in value]
    if isinstance(value, tuple):
        return tuple(render_json(item, window, zone) for item in value)
    return value
