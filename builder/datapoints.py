"""The shape contract of a metric expression's result: the datapoints it stands for, or what is wrong.

An expression must return either
    a number (one value; a numeric string such as ``"25"`` from a Vtiger ``count(*)`` counts too), or
    an array of objects ``{"value": ..., "date": ..., "dimension": ...}``, where ``value`` is a
    number or a numeric string (Vtiger's ``"12.50000000"``), ``date`` is required when the metric
    takes its dates from the response (``date_mode == "field"``), and ``dimension`` is optional.
JSONata returns a lone object instead of a one-item array when a path matches one record, so a
single object is taken as an array of one; ``undefined`` (nothing matched) yields no datapoints.

``builder.transform`` is the way in (it re-exports everything here); this module exists apart so
that the expression box's worker (``builder.expression_box``), which imports nothing of Django's,
can check a result where it was computed and send back only what the live editor shows
(``summarise``) instead of the whole result.

Pure module: the standard library only.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

MAX_DATAPOINTS = 100_000

# The date modes, declared once (``builder.models.DateMode`` gives them their labels).
NO_DATE, DYNAMIC_DATE, FIELD_DATE = "none", "dynamic", "field"
DATE_MODES = (NO_DATE, DYNAMIC_DATE, FIELD_DATE)
ITEM_KEYS = ("value", "date", "dimension")

NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")

SHAPE_HELP = (
    'The expression must return a number, or an array of objects like {"value": 12.5, "date": "2026-06-30", '
    '"dimension": "Web Site"} ("date" is required when the date comes from a field of the response).'
)


class ShapeError(ValueError):
    """The expression ran, but its result is not a number or an array of datapoint objects."""


@dataclass(frozen=True)
class Datapoint:
    value: float
    date: str | int | float | None  # raw, as returned; read it with builder.dates.parse
    dimension: str | None


def to_number(value: Any) -> float | None:
    """A finite float from a JSON number or a numeric string (``"185000.00000000"``), else None."""
    # JSON numbers first, by exact type (bool is a subclass of int, so it is not one of these):
    # a sync's or a preview's thousands of items pay one type test each.
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is int:
        return float(value)
    if isinstance(value, bool):
        return None
    numeric_string = isinstance(value, str) and NUMBER_RE.fullmatch(value.strip()) is not None
    if not (numeric_string or isinstance(value, int | float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _short(value: Any, limit: int = 80) -> str:
    # The only non-JSON thing JSONata returns is a function, whose repr can itself fail.
    text = json.dumps(value, ensure_ascii=False, default=lambda _: "<function>")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _dimension(index: int, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):  # noqa: UP038 - a tuple tests faster than a union
        return str(int(value)) if float(value).is_integer() else str(value)
    raise ShapeError(f'Item {index}: "dimension" is {_short(value)}; it must be a string or a number.')


def _checked(index: int, item: Any, date_mode: str) -> tuple[float, Any, str | None]:
    """Item ``index`` as (value, date, dimension), or ShapeError saying what is wrong with it."""
    if not isinstance(item, dict):
        hint = ' Map each record to {"value": ...}, or add the numbers up with $sum(...).' if to_number(item) else ""
        raise ShapeError(f"Item {index} is {_short(item)}, not an object.{hint} {SHAPE_HELP}")
    if "value" not in item:
        raise ShapeError(f'Item {index} has no "value": {_short(item)}. {SHAPE_HELP}')
    # Only the three keys: "value" is there, so the item has no other key exactly when its
    # length is 1 plus the count of the other two (three lookups; cheaper than a set comparison).
    if len(item) != 1 + ("date" in item) + ("dimension" in item):
        unknown = [key for key in item if key not in ITEM_KEYS]
        names = ", ".join(json.dumps(key) for key in unknown[:3]) + (", …" if len(unknown) > 3 else "")
        raise ShapeError(f'Item {index} has {names}; an item may only have "value", "date" and "dimension".')
    value = to_number(item["value"])
    if value is None:
        raise ShapeError(f'Item {index}: "value" is {_short(item["value"])}, which is not a number.')
    date = item.get("date")
    if date is not None and (isinstance(date, bool) or not isinstance(date, (str, int, float))):  # noqa: UP038 - a tuple tests faster than a union
        raise ShapeError(f'Item {index}: "date" is {_short(date)}; it must be a string or a number.')
    if date_mode == FIELD_DATE and (date is None or date == ""):
        raise ShapeError(
            f'Item {index} has no "date": {_short(item)}. '
            "With the date taken from a field of the response, every item needs one."
        )
    return value, date, _dimension(index, item.get("dimension"))


def _items(result: Any, date_mode: str, max_items: int) -> list[Any] | float | None:
    """The items to check, the one number the result is, or None (no datapoints); ShapeError otherwise."""
    if date_mode not in DATE_MODES:
        raise ValueError(f"Unknown date mode {date_mode!r}: choose one of {', '.join(DATE_MODES)}.")
    if result is None:
        return None
    number = to_number(result)
    if number is not None:
        if date_mode == FIELD_DATE:
            raise ShapeError(
                f"The expression returned one number ({_short(result)}), but the date comes from a field "
                'of the response: return an array of objects like {"value": 12.5, "date": "2026-06-30"}.'
            )
        return number
    if isinstance(result, dict):
        items: list[Any] = [result]
    elif isinstance(result, list):
        items = result
    else:
        raise ShapeError(f"{SHAPE_HELP} It returned {_short(result)}.")
    if len(items) > max_items:
        raise ShapeError(f"The expression returned {len(items):,} items; the limit is {max_items:,}.")
    return items


def to_datapoints(result: Any, date_mode: str, max_items: int = MAX_DATAPOINTS) -> list[Datapoint]:
    """The datapoints an expression's result stands for, or ShapeError saying what is wrong.

    ``date_mode``: ``none`` (one current value), ``dynamic`` (stamped with the sync time) or
    ``field`` (each item's own ``date``). ``None`` (JSONata's undefined) gives no datapoints.
    """
    items = _items(result, date_mode, max_items)
    if items is None:
        return []
    if isinstance(items, float):
        return [Datapoint(value=items, date=None, dimension=None)]
    return [Datapoint(*_checked(index, item, date_mode)) for index, item in enumerate(items)]


def summarise(result: Any, date_mode: str, rows: int, max_items: int = MAX_DATAPOINTS) -> dict:
    """What the live editor shows of a result, checked by the shape contract: JSON-ready, small.

    ``head``: the result, or its first ``rows`` items when it is an array of more (``length``:
    the array's length, else None). Then either ``shape_error`` (``to_datapoints``'s message) or
    ``count`` and ``total`` of all the datapoints and ``points``: the first ``rows`` of them as
    ``[value, date, dimension]``. The same check as ``to_datapoints`` on every item, without
    building a ``Datapoint`` for items past ``rows``.
    """
    is_list = isinstance(result, list)
    out: dict[str, Any] = {
        "head": result[:rows] if is_list and len(result) > rows else result,
        "length": len(result) if is_list else None,
    }
    try:
        items = _items(result, date_mode, max_items)
        if items is None:
            points: list[Any] = []
            values: list[float] = []
        elif isinstance(items, float):
            points, values = [[items, None, None]], [items]
        else:
            points, values = [], []
            for index, item in enumerate(items):
                checked = _checked(index, item, date_mode)
                values.append(checked[0])
                if index < rows:
                    points.append(list(checked))
    except ShapeError as exc:
        out["shape_error"] = str(exc)
        return out
    out.update(points=points, count=len(values), total=sum(values))
    return out
