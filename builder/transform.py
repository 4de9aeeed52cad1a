"""JSONata with bounds, and the shape contract of a metric expression.

An expression turns an API response into datapoints. It must return either
    a number (one value; a numeric string such as ``"25"`` from a Vtiger ``count(*)`` counts too), or
    an array of objects ``{"value": ..., "date": ..., "dimension": ...}``, where ``value`` is a
    number or a numeric string (Vtiger's ``"12.50000000"``), ``date`` is required when the metric
    takes its dates from the response (``date_mode == "field"``), and ``dimension`` is optional.
JSONata returns a lone object instead of a one-item array when a path matches one record, so a
single object is taken as an array of one; ``undefined`` (nothing matched) yields no datapoints.

Evaluation is bounded, and runs in a box (``builder.expression_box``): a worker process with a
memory limit, killed and replaced when it overruns the time limit, because jsonata-python's own
bounds (a time limit and a recursion depth, checked on each evaluation step) cannot interrupt one
long step (a regular expression backtracking in C, ``$split`` of a huge string, a huge range).
Those bounds still run inside the worker, as a first line, and the input's size is checked here
before it is sent. Results come back as JSON: arrays are lists, a function is ``"<function>"``.
The evaluation itself, without the box, and ``ExpressionError`` live in ``builder.jsonata_eval``,
which the box's worker runs and both this module and the box import; the shape contract
(``to_datapoints``, ``ShapeError``, ``Datapoint``, ``to_number``) lives in ``builder.datapoints``
and is re-exported here, so that the worker can check a result where it computed it
(``evaluate_summary``, for the live editor: only what it shows comes back).

Pure module: no Django, no models.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

import jsonata

from builder import explain, expression_box, jsonata_eval
from builder.datapoints import (  # noqa: F401 - the shape contract, part of this module's interface
    DATE_MODES,
    DYNAMIC_DATE,
    FIELD_DATE,
    ITEM_KEYS,
    MAX_DATAPOINTS,
    NO_DATE,
    NUMBER_RE,
    SHAPE_HELP,
    Datapoint,
    ShapeError,
    to_datapoints,
    to_number,
)
from builder.expression_box import ExpressionBox
from builder.jsonata_eval import DEFAULT_MAX_DEPTH, DEFAULT_TIMEOUT_MS, ExpressionError

DEFAULT_MAX_INPUT_BYTES = 5_000_000  # in-request evaluation; syncs pass their own limit
MAX_EXPRESSION_LENGTH = 10_000
AGGREGATES = {"sum": "$sum", "average": "$average", "min": "$min", "max": "$max", "count": "$count"}

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
JSONATA_WORDS = frozenset({"and", "or", "in", "true", "false", "null", "function"})


def _explained(exc: ExpressionError, text: str, data: Any = None) -> ExpressionError:
    if exc.explained:
        return exc
    plain = explain.explain(exc.code, exc.message, exc.position, text, data)
    out = ExpressionError(exc.code, plain.message, exc.position, fix=plain.fix, explained=True)
    out.raw_message = exc.message
    return out


# ---------------------------------------------------------------- compiling and evaluating


def compile_expression(text: str) -> jsonata.Jsonata:
    """Parse an expression once (cached by its text); ExpressionError, in plain words, on a syntax error."""
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError("TOO_LONG", f"The expression is longer than {MAX_EXPRESSION_LENGTH:,} characters.")
    try:
        return jsonata_eval.parse(text)
    except ExpressionError as exc:
        raise _explained(exc, text) from exc


def input_size(data: Any) -> int:
    """The size of ``data`` as compact JSON, in bytes."""
    return len(json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str).encode())


def evaluate(
    expression: str | jsonata.Jsonata,
    data: Any,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_input_bytes: int | None = DEFAULT_MAX_INPUT_BYTES,
    input_bytes: int | None = None,
    box: ExpressionBox | None = None,
) -> Any:
    """Evaluate an expression (text, or what ``compile_expression`` returned) against ``data``, in the box.

    Every failure is an ExpressionError: syntax (``S0...``, found here before anything is sent),
    runtime (``T...``, ``D...``), too long a run (``D1012``: jsonata's own timeout or the box's
    kill, both "The expression took too long (over 500 ms) and was stopped."), too deep a
    recursion (``D1011``), too much memory (``MEMORY_LIMIT``), errors that jsonata-python raises
    as plain Python exceptions (``$number("abc")`` -> ``ValueError``), an input over
    ``max_input_bytes`` (``INPUT_TOO_LARGE``; ``None`` lifts the limit) or nested too deeply to
    send (``INPUT_TOO_DEEP``), and the box's own (``BUSY`` when no worker frees up in time,
    ``EVALUATOR_STOPPED``, ``BOX_FAILED``). ``input_bytes`` is the input's size when the caller
    already knows it (the response's length), saving a measurement. ``$now()`` and ``$millis()``
    read this process's clock at the call. ``box``: another box than the default (tests, benchmarks).
    """
    return _in_box(expression, data, timeout_ms, max_depth, max_input_bytes, input_bytes, box)


@dataclass(frozen=True)
class Summary:
    """What the live editor shows of a result (``evaluate_summary``), checked by the shape contract.

    ``head``: the result, or its first ``rows`` items when it is an array of more; ``length``: the
    array's length (None when the result is not an array). ``shape_error``: ``to_datapoints``'s
    message when the result breaks the shape contract; otherwise ``points`` (the first ``rows``
    datapoints), ``count`` and ``total`` (of all the datapoints).
    """

    head: Any
    length: int | None
    points: list[Datapoint]
    count: int
    total: float
    shape_error: str | None = None


def evaluate_summary(
    expression: str | jsonata.Jsonata,
    data: Any,
    date_mode: str,
    rows: int,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_input_bytes: int | None = DEFAULT_MAX_INPUT_BYTES,
    input_bytes: int | None = None,
    box: ExpressionBox | None = None,
) -> Summary:
    """``evaluate`` and ``to_datapoints`` in one, for a result shown rather than stored (the live editor).

    The box's worker checks the result where it computed it and answers only its first ``rows``
    items and datapoints with the count and total (``builder.datapoints.summarise``): the same
    check and the same messages as ``to_datapoints``, without sending thousands of items back.
    ExpressionError as ``evaluate``; a shape error is the ``Summary``'s ``shape_error``.
    """
    if date_mode not in DATE_MODES:
        raise ValueError(f"Unknown date mode {date_mode!r}: choose one of {', '.join(DATE_MODES)}.")
    reply = _in_box(expression, data, timeout_ms, max_depth, max_input_bytes, input_bytes, box, (date_mode, rows))
    return Summary(
        head=reply["head"],
        length=reply["length"],
        points=[Datapoint(value, date, dimension) for value, date, dimension in reply.get("points", ())],
        count=reply.get("count", 0),
        total=reply.get("total", 0),
        shape_error=reply.get("shape_error"),
    )


def _in_box(
    expression: str | jsonata.Jsonata,
    data: Any,
    timeout_ms: int,
    max_depth: int,
    max_input_bytes: int | None,
    input_bytes: int | None,
    box: ExpressionBox | None,
    summary: tuple[str, int] | None = None,
) -> Any:
    if isinstance(expression, str):
        text = expression
        compile_expression(text)  # syntax errors without a round trip
    else:
        text = getattr(expression, "source_text", None)
        if text is None:
            raise TypeError("evaluate() takes an expression's text or what compile_expression() returned.")
    if max_input_bytes is not None:
        try:
            size = input_bytes if input_bytes is not None else input_size(data)
        except RecursionError:
            size = 0  # pack() below says so in words
        if size > max_input_bytes:
            raise ExpressionError(
                "INPUT_TOO_LARGE",
                f"The response is too large to evaluate here ({size:,} bytes; the limit is {max_input_bytes:,}). "
                "Narrow the request (fewer fields, a shorter date range) and send it again.",
            )
    payload, payload_format = expression_box.pack(data)
    try:
        return (box or expression_box.default_box()).evaluate(
            text,
            payload,
            payload_format=payload_format,
            timeout_ms=timeout_ms,
            max_depth=max_depth,
            now_ms=round(time.time() * 1000),
            summary=summary,
        )
    except ExpressionError as exc:  # in plain words, with the data at hand to name a field holding text
        raise _explained(exc, text, data) from exc


# ---------------------------------------------------------------- helping the analyst start


def _path(field: str) -> str:
    """A JSONata path for a dotted field name, with backticks where a name needs them."""
    segments = field.split(".")
    for segment in segments:
        if not segment or "`" in segment:
            raise ValueError(f"{field!r} cannot be written as a JSONata path.")
    return ".".join(s if NAME_RE.fullmatch(s) and s not in JSONATA_WORDS else f"`{s}`" for s in segments)


def suggest_expression(
    records_path: str | None,
    value_field: str | None = None,
    date_field: str | None = None,
    aggregate: str | None = None,
    dimension_field: str | None = None,
) -> str:
    """A starting expression from the records' path (``dates.find_records``) and the chosen fields.

    With a date field, one item per record: ``result.{"date": closingdate, "value": $number(amount)}``
    (``"value": 1`` counts records). Broken down by a dimension, one item per record as well, for
    every date mode (``"dimension": leadsource`` added; without a date field the items carry no
    date): the metric's aggregation then combines the records of each dimension, so an average
    or a breakdown's "Other" is computed from the records, not from sums made here. Otherwise one
    number: ``$count(result)`` without a value field, else ``$sum(result.$number(amount))``, or
    the ``aggregate`` named (sum, average, min, max, count). ``""`` or None as the path: ``$``.
    """
    records = _path(records_path) if records_path else "$"
    value = f"$number({_path(value_field)})" if value_field else "1"
    if date_field or dimension_field:
        parts = []
        if date_field:
            parts.append(f'"date": {_path(date_field)}')
        parts.append(f'"value": {value}')
        if dimension_field:
            parts.append(f'"dimension": {_path(dimension_field)}')
        return f"{records}.{{{', '.join(parts)}}}"
    aggregate = aggregate or ("sum" if value_field else "count")
    if aggregate not in AGGREGATES:
        raise ValueError(f"Unknown aggregate {aggregate!r}: choose one of {', '.join(AGGREGATES)}.")
    if aggregate == "count":
        return f"$count({records})"
    if not value_field:
        raise ValueError(f"{aggregate} needs a value field.")
    return f"{AGGREGATES[aggregate]}({records}.{value})"


def numeric_fields(records: list[Any], sample_size: int = 50) -> list[str]:
    """Top-level fields whose sampled values are all numbers or numeric strings, best first.

    Fields with decimals (amounts, ``"185000.00000000"``) come first, then other numbers, then
    fields holding only 0 and 1 (Vtiger's booleans, ``"0"``/``"1"``). Empty values are skipped.
    """
    seen: dict[str, list[Any]] = {}
    for record in records[:sample_size]:
        if isinstance(record, dict):
            for key, value in record.items():
                if value is not None and value != "":
                    seen.setdefault(key, []).append(value)
    ranked: list[tuple[int, int, str]] = []
    for order, (key, values) in enumerate(seen.items()):
        numbers = [to_number(value) for value in values]
        if any(number is None for number in numbers):
            continue
        if all(number in (0.0, 1.0) for number in numbers):
            rank = 2
        elif any("." in str(value) for value in values):
            rank = 0
        else:
            rank = 1
        ranked.append((rank, order, key))
    return [key for _, _, key in sorted(ranked)]


REFERENCE_RE = re.compile(r"[0-9]{1,9}x[0-9]{1,18}")  # a Vtiger reference: <module prefix>x<record id>
_DATE_LIKE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
MAX_DIMENSION_VALUES = 30


def text_fields(
    records: list[Any], sample_size: int = 500, picklists: tuple[str, ...] | list[str] | frozenset[str] = ()
) -> list[str]:
    """Top-level fields to break a metric down by, in the records' order: text first, then references.

    Text: most sampled values (four in five) are strings that are neither numbers nor dates, with
    at least two and few distinct values (at most two thirds of the values, and
    ``MAX_DIMENSION_VALUES``): Vtiger's ``leadsource``, ``sales_stage``. ``picklists``: fields known
    to hold a few set values (Vtiger's describe says so: ``industry``), offered whenever the
    records have them, however varied the sample. References: every value is a Vtiger id such as
    ``19x5`` (``assigned_user_id``, ``account_id``), the record's own ``id`` excepted; they read as
    names where the breakdown is shown. Empty values are skipped.
    """
    picklists = frozenset(picklists)
    seen: dict[str, list[Any]] = {}
    for record in records[:sample_size]:
        if isinstance(record, dict):
            for key, value in record.items():
                if value is not None and value != "":
                    seen.setdefault(key, []).append(value)
    text, references = [], []
    for key, values in seen.items():
        if not all(isinstance(value, str) for value in values):
            continue
        if key in picklists:
            text.append(key)
            continue
        if all(REFERENCE_RE.fullmatch(value) for value in values):
            if key != "id":
                references.append(key)
            continue
        wordy = [
            v for v in values if to_number(v) is None and not _DATE_LIKE_RE.match(v) and not REFERENCE_RE.fullmatch(v)
        ]
        distinct = len(set(values))
        if len(wordy) * 5 >= len(values) * 4 and 2 <= distinct <= min(MAX_DIMENSION_VALUES, len(values) * 2 // 3):
            text.append(key)
    return text + references
