"""The one conversion between Metric rows and the metric definition format of product.md.

A *definition* is a plain JSON-able dict, exactly what export writes and import reads::

    {
      "name": "Deals won (amount)",
      "description": "Sum of won deal amounts by closing date",
      "connection": "Vtiger",                       # the connection's unique name
      "request": {
        "method": "GET",
        "endpoint": "query",
        "params": [["query", "SELECT ... ;"]],      # [[key, value], ...]
        "headers": [],                              # [[name, value], ...]  (custom connections)
        "body": null,                               # JSON body, POST only
        "pagination": {"type": "vtiger"}            # type + the options that type needs
      },
      "date": {"mode": "field", "format": "YYYY-MM-DD", "timezone": "UTC", "field": "closingdate"},
      "expression": "result.{\"date\": closingdate, \"value\": $number(amount)}",
      "aggregation": "sum",
      "number_format": "currency",
      "currency": "EUR",                            # ISO 4217, see builder.currencies
      "favourable_trend": "up",
      "sync": {"interval_minutes": 60, "window_days": 7, "history_days": 365}
    }

``currency`` and ``date.field`` are our additions to product.md. ``currency`` is an ISO 4217 code
of ``builder.currencies``, shown only when ``number_format`` is ``currency``, and optional on
import (settings.DEFAULT_CURRENCY when absent). ``date.field`` is the response field the analyst chose in the
wizard's date step (``Metric.date_field``). It is written only when set, and optional on import.
With ``date.mode == "field"``, ``format`` (a ``builder.dates`` format name or a custom pattern)
is required and ``timezone`` (for naive values) defaults to the connection's data time zone.
No credential is ever part of a definition: the connection is referred to by name only.

Public API
    ``from_metric(metric) -> dict``
        The definition of a saved metric (``connection`` is the connection's name, or None when
        the connection was deleted).
    ``validate(definition, *, connection_lookup=by_name, path="") -> (cleaned, errors)``
        Checks everything and collects every problem; never raises on bad input.
        ``errors`` is a list of ``(field_path, message)``: ``("request.method", "Vtiger
        connections allow GET only.")``; with ``path="metrics[2]"`` the paths read
        ``"metrics[2].request.method"``. A whole-definition problem uses the path itself (or
        ``""``). ``cleaned`` is the normalised definition with every optional key filled in by
        its default, *except* that ``cleaned["connection"]`` is the Connection object the lookup
        returned. It is only meaningful when ``errors`` is empty. Whether the name is free is not
        checked here (an import reports clashes; the wizard's name step checks its own).
        For Vtiger connections a ``query`` request's VTQL is checked too (``vtql.check_syntax``).
        ``connection_lookup(value) -> Connection | None`` resolves ``definition["connection"]``;
        the default, ``by_name``, matches the unique name. The wizard, whose drafts keep the
        connection's uuid, passes ``by_uuid``.
    ``apply_to_metric(metric, cleaned) -> metric``
        Copies a cleaned definition onto a Metric (not saved: call ``metric.save()``).
    ``unique_name(name, *, exclude_pk=None) -> str``
        ``name`` if no metric has it, else ``"name (copy)"``, ``"name (copy 2)"``, ... (fits the
        120-character limit).
    ``to_metric(cleaned, *, owner=None) -> Metric``
        A new, unsaved Metric from a cleaned definition.

A *calculated* metric (``Metric.kind`` "calculated") has no connection, request, date,
expression or sync; its definition names its inputs by the input metrics' names::

    {
      "name": "Win rate", "description": "", "kind": "calculated",
      "formula": "won / (won + lost) * 100",
      "inputs": [{"name": "won", "metric": "Deals won"}, {"name": "lost", "metric": "Deals lost"}],
      "number_format": "percent", "currency": "USD", "favourable_trend": "up"
    }

``validate`` checks it with ``validate_calculated`` (``input_lookup(name) -> Metric | None``
resolves an input; ``builder.portability`` also accepts the names of metrics of the same
document); ``cleaned["inputs"]`` is ``[(name, metric name)]`` and ``apply_calculated`` copies it
onto a Metric (the inputs are set with ``Metric.set_inputs`` once saved).

Constants: ``FORMAT`` (the export document's format tag), ``DATE_MODES``, ``SYNC_LIMITS``
(inclusive ranges), ``DEFAULTS``. The pagination types are ``builder.pagination.TYPES``.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
import uuid
from typing import Any

from django.conf import settings

from builder import currencies, dates, formulas, pagination, placeholders, timeframes, transform, validators, vtql
from builder.keyvalue import from_pairs
from builder.keyvalue import validate as validate_rows
from builder.models import Aggregation, DateMode, Kind, Metric, NumberFormat, Trend
from connections.client import FORBIDDEN_HEADERS, resolve_endpoint
from connections.errors import BadEndpoint
from connections.models import Connection

FORMAT = "metric-builder/metrics@1"

NAME_MAX_LENGTH = Metric._meta.get_field("name").max_length
ENDPOINT_MAX_LENGTH = Metric._meta.get_field("endpoint").max_length

DATE_MODES = transform.DATE_MODES
METHODS = ("GET", "POST")

# Inclusive ranges. interval_minutes' lower bound is the site-wide minimum, the setting
# SYNC_MIN_INTERVAL_MINUTES when the site has one, else 5.
SYNC_LIMITS = {
    "interval_minutes": (5, 7 * 24 * 60),
    "window_days": (0, 366),
    "history_days": (0, 3660),
}

DEFAULTS = {
    "description": "",
    "request": {"method": "GET", "params": [], "headers": [], "body": None, "pagination": {"type": "none"}},
    "aggregation": Aggregation.SUM.value,
    "number_format": NumberFormat.NUMBER.value,
    "favourable_trend": Trend.UP.value,
    "sync": {"interval_minutes": 60, "window_days": 7, "history_days": 365},
}

TOP_KEYS = (
    "name",
    "description",
    "connection",
    "request",
    "date",
    "expression",
    "aggregation",
    "number_format",
    "currency",
    "favourable_trend",
    "sync",
)
REQUIRED_TOP = ("name", "connection", "request", "date", "expression")
REQUEST_KEYS = ("method", "endpoint", "params", "headers", "body", "pagination")
REQUIRED_REQUEST = ("endpoint",)
DATE_KEYS = ("mode", "format", "timezone", "field")
SYNC_KEYS = tuple(SYNC_LIMITS)

Errors = list[tuple[str, str]]


# ---------------------------------------------------------------- connection lookups


def by_name(value: Any) -> Connection | None:
    """The connection with this unique name (surrounding spaces ignored), or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    return Connection.objects.filter(name=value.strip()).first()


def by_uuid(value: Any) -> Connection | None:
    """The connection with this uuid (as the wizard's drafts keep it), or None; a malformed uuid is None."""
    try:
        return Connection.objects.filter(uuid=uuid.UUID(str(value))).first()
    except ValueError:
        return None


# ---------------------------------------------------------------- metric -> definition


CALCULATED_KEYS = ("name", "description", "kind", "formula", "inputs", "number_format", "currency", "favourable_trend")
INPUT_KEYS = ("name", "metric")


def from_metric(metric: Metric) -> dict:
    """The definition of ``metric`` in the export format (no credentials, connection by name)."""
    if metric.is_calculated:
        return {
            "name": metric.name,
            "description": metric.description,
            "kind": Kind.CALCULATED.value,
            "formula": metric.formula,
            "inputs": [{"name": name, "metric": source.name} for name, source in metric.input_pairs()],
            "number_format": metric.number_format,
            "currency": metric.currency,
            "favourable_trend": metric.favourable_trend,
        }
    connection = metric.connection
    date: dict[str, Any] = {"mode": metric.date_mode}
    if metric.date_mode == DateMode.FIELD or metric.date_format:
        date["format"] = metric.date_format
    if metric.date_mode == DateMode.FIELD or metric.date_timezone:
        date["timezone"] = metric.date_timezone or (connection.data_timezone if connection else "UTC")
    if metric.date_field:
        date["field"] = metric.date_field
    return {
        "name": metric.name,
        "description": metric.description,
        "connection": connection.name if connection else None,
        "request": metric.request_spec,
        "date": date,
        "expression": metric.expression,
        "aggregation": metric.aggregation,
        "number_format": metric.number_format,
        "currency": metric.currency,
        "favourable_trend": metric.favourable_trend,
        "sync": {
            "interval_minutes": metric.interval_minutes,
            "window_days": metric.window_days,
            "history_days": metric.history_days,
        },
    }


# ---------------------------------------------------------------- validation


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _choices_text(values) -> str:
    return ", ".join(values)


class _Checker:
    def __init__(self, path: str):
        self.path = path
        self.errors: Errors = []

    def at(self, *keys: str | int) -> str:
        path = self.path
        for key in keys:
            path = _join(path, key)
        return path

    def error(self, keys: tuple, message: str) -> None:
        self.errors.append((self.at(*keys), message))

    def unknown_keys(self, value: dict, allowed: tuple, keys: tuple = ()) -> None:
        for key in value:
            if key not in allowed:
                hint = _close_match(key, allowed)
                self.error(
                    (*keys, str(key)),
                    f"Unknown key {key!r}{hint}; allowed here: {_choices_text(allowed)}.",
                )

    def required(self, value: dict, required: tuple, keys: tuple = ()) -> None:
        for key in required:
            if key not in value:
                self.error((*keys, key), "This key is required.")

    def obj(self, value: Any, keys: tuple) -> bool:
        if not isinstance(value, dict):
            self.error(keys, f"Expected an object, got {_kind(value)}.")
            return False
        return True

    def text(self, value: Any, keys: tuple, *, blank: bool = True, max_length: int | None = None) -> str | None:
        if not isinstance(value, str):
            self.error(keys, f"Expected text, got {_kind(value)}.")
            return None
        value = value.strip()
        if not blank and not value:
            self.error(keys, "This cannot be empty.")
            return None
        if max_length is not None and len(value) > max_length:
            self.error(keys, f"At most {max_length} characters (this has {len(value)}).")
            return None
        return value

    def choice(self, value: Any, keys: tuple, choices: tuple) -> str | None:
        if not isinstance(value, str) or value not in choices:
            self.error(keys, f"{_show(value)} is not one of: {_choices_text(choices)}.")
            return None
        return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:59] + "…"


def _close_match(key: Any, allowed: tuple) -> str:
    matches = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
    return f" (did you mean {matches[0]!r}?)" if matches else ""


def _pairs(check: _Checker, value: Any, keys: tuple, kind: str) -> list[list[str]] | None:
    """A list of [key, value] text pairs (params or headers)."""
    if not isinstance(value, list):
        check.error(keys, f'Expected a list of [key, value] pairs like [["query", "..."]], got {_kind(value)}.')
        return None
    pairs: list[list[str]] = []
    ok = True
    for index, pair in enumerate(value):
        if (
            not isinstance(pair, list | tuple)
            or len(pair) != 2
            or not all(isinstance(item, str | int | float) and not isinstance(item, bool) for item in pair)
        ):
            check.error((*keys, index), f"Expected a [key, value] pair of texts, got {_show(pair)}.")
            ok = False
            continue
        pairs.append([str(pair[0]).strip(), str(pair[1]).strip()])
    if not ok:
        return None
    for row_error in validate_rows(from_pairs(pairs), kind):
        check.error((*keys, row_error.index), row_error.message)
    for index, (_, text) in enumerate(pairs):
        for message in placeholders.validate(text):
            check.error((*keys, index), message)
    if kind == "headers":
        for index, (name, _) in enumerate(pairs):
            if name.lower() in FORBIDDEN_HEADERS or name.lower() == "authorization":
                check.error((*keys, index), f"The header {name} is set by the connection and cannot be changed.")
    return [pair for pair in pairs if pair[0] or pair[1]]


def _pagination(check: _Checker, value: Any, keys: tuple) -> dict | None:
    """Checked against builder.pagination: its types, the options each type takes, their values."""
    if not check.obj(value, keys):
        return None
    if "type" not in value:
        check.error((*keys, "type"), f"This key is required: one of {_choices_text(pagination.TYPES)}.")
        return None
    kind = check.choice(value["type"], (*keys, "type"), pagination.TYPES)
    if kind is None:
        return None
    allowed = tuple(pagination.OPTIONS.get(kind, {}))
    ok = True
    for key, option in value.items():
        if key == "type":
            continue
        if key not in allowed:
            takes = f"it takes {_choices_text(allowed)}" if allowed else "it takes no options"
            check.error((*keys, str(key)), f"Unknown key {key!r} for {kind} pagination: {takes}.")
            ok = False
        elif option is not None and not isinstance(option, str | int | bool):
            check.error((*keys, key), f"Expected text, a whole number or true/false, got {_kind(option)}.")
            ok = False
    if not ok:
        return None
    for message in pagination.validate(value):
        check.error(keys, message)
    return dict(value)


def _request(check: _Checker, value: Any, connection) -> dict | None:
    keys = ("request",)
    if not check.obj(value, keys):
        return None
    check.unknown_keys(value, REQUEST_KEYS, keys)
    check.required(value, REQUIRED_REQUEST, keys)
    merged = {**DEFAULTS["request"], **value}
    cleaned: dict[str, Any] = {}

    method = merged["method"].strip().upper() if isinstance(merged["method"], str) else merged["method"]
    method = check.choice(method, (*keys, "method"), METHODS)
    cleaned["method"] = method

    endpoint = None
    if "endpoint" in value:
        endpoint = check.text(value["endpoint"], (*keys, "endpoint"), blank=False, max_length=ENDPOINT_MAX_LENGTH)
        if endpoint is not None:
            for message in placeholders.validate(endpoint):
                check.error((*keys, "endpoint"), message)
            if connection is not None:
                try:
                    resolve_endpoint(connection.base_url, endpoint)
                except BadEndpoint as exc:
                    check.error((*keys, "endpoint"), str(exc))
    cleaned["endpoint"] = endpoint

    cleaned["params"] = _pairs(check, merged["params"], (*keys, "params"), "params")
    cleaned["headers"] = _pairs(check, merged["headers"], (*keys, "headers"), "headers")

    body = merged["body"]
    if body is not None:
        for message in placeholders.validate(body):
            check.error((*keys, "body"), message)
    cleaned["body"] = body

    cleaned["pagination"] = _pagination(check, merged["pagination"], (*keys, "pagination"))

    if connection is not None and method is not None:
        _method_rules(check, connection, cleaned)
    if connection is not None and connection.is_vtiger:
        _vtql_rules(check, cleaned)
    return cleaned


def _vtql_rules(check: _Checker, request: dict) -> None:
    """A Vtiger ``query`` request needs a query, and the obvious VTQL mistakes are caught early."""
    if request["endpoint"] != "query" or request["params"] is None:
        return
    queries = [(index, value) for index, (key, value) in enumerate(request["params"]) if key == "query"]
    if not queries:
        check.error(("request", "params"), 'The Vtiger query endpoint needs a "query" parameter holding VTQL.')
    for index, value in queries:
        for message in vtql.check_syntax(value):
            check.error(("request", "params", index), message)


def _method_rules(check: _Checker, connection, request: dict) -> None:
    keys = ("request",)
    method = request["method"]
    if connection.is_vtiger:
        if method != "GET":
            check.error((*keys, "method"), "Vtiger connections allow GET only: calls that change data are not allowed.")
        if request["body"] is not None:
            check.error((*keys, "body"), "Vtiger GET requests carry no body: use null.")
        if request["headers"]:
            check.error((*keys, "headers"), "Vtiger connections don't take extra headers; use query parameters.")
        return
    allowed = _allowed_methods(connection)
    if method not in allowed:
        check.error(
            (*keys, "method"),
            f"The connection {connection.name} allows {' and '.join(allowed)} only; ask an admin to allow {method}.",
        )
    if method == "GET" and request["body"] is not None:
        check.error((*keys, "body"), "A GET request carries no body: use null, or POST.")


def _allowed_methods(connection) -> tuple[str, ...]:
    try:
        return tuple(connection.integration_module.allowed_methods(connection))
    except LookupError:
        return ("GET",)


def _date(check: _Checker, value: Any, connection) -> dict | None:
    keys = ("date",)
    if not check.obj(value, keys):
        return None
    check.unknown_keys(value, DATE_KEYS, keys)
    check.required(value, ("mode",), keys)
    mode = check.choice(value.get("mode"), (*keys, "mode"), DATE_MODES) if "mode" in value else None
    cleaned: dict[str, Any] = {"mode": mode, "format": "", "timezone": "", "field": ""}

    if "format" in value and value["format"] not in (None, ""):
        fmt = check.text(value["format"], (*keys, "format"), max_length=60)
        if fmt is not None:
            if fmt not in dates.FORMATS:
                try:
                    fmt = placeholders.FORMAT_ALIASES.get(fmt, fmt)
                    placeholders.parse_pattern(fmt)
                except placeholders.PatternError as exc:
                    check.error(
                        (*keys, "format"),
                        f"Unknown date format {fmt!r}: {exc}; use iso, unix, unix_ms, YYYY-MM-DD, "
                        "YYYY-MM-DD HH:mm:ss or a pattern of YYYY MM DD HH mm ss.",
                    )
            cleaned["format"] = fmt
    elif mode == DateMode.FIELD:
        check.error((*keys, "format"), "Required when the date comes from a field: e.g. YYYY-MM-DD or iso.")

    if "timezone" in value and value["timezone"] not in (None, ""):
        zone = check.text(value["timezone"], (*keys, "timezone"), max_length=64)
        if zone is not None:
            try:
                timeframes.get_zone(zone)
            except ValueError:
                check.error((*keys, "timezone"), f"Unknown time zone {zone!r}: use a name like UTC or Europe/Berlin.")
            cleaned["timezone"] = zone
    elif mode == DateMode.FIELD:
        cleaned["timezone"] = connection.data_timezone if connection is not None else "UTC"

    if "field" in value and value["field"] not in (None, ""):
        field = check.text(value["field"], (*keys, "field"), max_length=200)
        cleaned["field"] = field or ""
    return cleaned


def _sync(check: _Checker, value: Any) -> dict | None:
    keys = ("sync",)
    if not check.obj(value, keys):
        return None
    check.unknown_keys(value, SYNC_KEYS, keys)
    cleaned = {}
    for key, (low, high) in SYNC_LIMITS.items():
        if key == "interval_minutes":
            low = max(1, int(getattr(settings, "SYNC_MIN_INTERVAL_MINUTES", low)))
        number = value.get(key, DEFAULTS["sync"][key])
        if isinstance(number, bool) or not isinstance(number, int):
            check.error((*keys, key), f"Expected a whole number, got {_show(number)}.")
            continue
        if not low <= number <= high:
            check.error((*keys, key), f"{number} is out of range: use {low} to {high}.")
            continue
        cleaned[key] = number
    if "window_days" in cleaned and "history_days" in cleaned and cleaned["history_days"] < cleaned["window_days"]:
        check.error((*keys, "history_days"), "The history cannot be shorter than the sync window (window_days).")
    return cleaned


def _name_and_description(check: _Checker, definition: dict) -> dict:
    """The name (None when missing or refused) and description of any kind of definition."""
    name = (
        check.text(definition["name"], ("name",), blank=False, max_length=NAME_MAX_LENGTH)
        if "name" in definition
        else None
    )
    if name and validators.forbidden_characters(name):
        check.error(("name",), validators.NAME_MESSAGE)
        name = None
    description = definition.get("description", DEFAULTS["description"])
    return {"name": name, "description": check.text("" if description is None else description, ("description",))}


def _metric_by_name(name: str) -> Metric | None:
    return Metric.objects.filter(name=name).first()


def is_calculated(definition: Any) -> bool:
    return isinstance(definition, dict) and definition.get("kind") == Kind.CALCULATED


def validate_calculated(definition: dict, *, input_lookup=_metric_by_name, path: str = "") -> tuple[dict, Errors]:
    """Check a calculated metric's definition (see the module docstring); ``(cleaned, errors)``.

    ``input_lookup(name)`` is truthy when a metric of that name can be an input (a Metric, or
    any object for a metric of the same document). Cycles through saved metrics are refused when
    the inputs are set (``Metric.set_inputs``); a new metric cannot be in one."""
    check = _Checker(path)
    check.unknown_keys(definition, CALCULATED_KEYS)
    check.required(definition, ("name", "formula", "inputs"))
    cleaned: dict[str, Any] = {"kind": Kind.CALCULATED.value}
    cleaned.update(_name_and_description(check, definition))

    inputs: list[tuple[str, str]] = []
    value = definition.get("inputs", [])
    if not isinstance(value, list):
        check.error(
            ("inputs",), f'Expected a list like [{{"name": "won", "metric": "Deals won"}}], got {_kind(value)}.'
        )
        value = []
    elif "inputs" in definition and not value:
        check.error(("inputs",), "A calculated metric needs at least one input.")
    elif len(value) > formulas.MAX_INPUTS:
        check.error(("inputs",), f"A calculated metric has at most {formulas.MAX_INPUTS} inputs.")
    missing = []
    named = []  # every valid input name, its metric found or not, for the formula's check
    for index, item in enumerate(value):
        keys = ("inputs", index)
        if not check.obj(item, keys):
            continue
        check.unknown_keys(item, INPUT_KEYS, keys)
        check.required(item, INPUT_KEYS, keys)
        name = check.text(item.get("name", ""), (*keys, "name"), blank=False) if "name" in item else None
        if name is not None:
            problem = formulas.check_name(name)
            if problem:
                check.error((*keys, "name"), problem)
                name = None
            elif name in [known for known, _ in inputs]:
                check.error((*keys, "name"), f"Two inputs are named “{name}”: give each its own name.")
                name = None
        if name is not None:
            named.append(name)
        source = check.text(item.get("metric", ""), (*keys, "metric"), blank=False) if "metric" in item else None
        if source is not None and not input_lookup(source):
            missing.append(source)
            check.error(
                (*keys, "metric"),
                f"No metric is named {source!r}: import it too (in the same file) or create it first.",
            )
            source = None
        if name is not None and source is not None:
            inputs.append((name, source))
    cleaned["inputs"] = inputs
    cleaned["missing_inputs"] = missing

    formula = check.text(definition["formula"], ("formula",), blank=False) if "formula" in definition else None
    if formula is not None:
        for problem in formulas.check(formula, named):
            check.error(("formula",), problem)
    cleaned["formula"] = formula

    for key, choices in (("number_format", tuple(NumberFormat.values)), ("favourable_trend", tuple(Trend.values))):
        cleaned[key] = check.choice(definition.get(key, DEFAULTS[key]), (key,), choices)
    cleaned["currency"] = check.choice(
        definition.get("currency", currencies.default_code()), ("currency",), tuple(currencies.CURRENCIES)
    )
    return cleaned, check.errors


def apply_calculated(metric: Metric, cleaned: dict) -> Metric:
    """Copy a cleaned calculated definition onto ``metric`` (not saved; its inputs are set after saving)."""
    metric.kind = Kind.CALCULATED
    metric.name = cleaned["name"]
    metric.description = cleaned["description"] or ""
    metric.formula = cleaned["formula"]
    metric.number_format = cleaned["number_format"]
    metric.currency = cleaned["currency"]
    metric.favourable_trend = cleaned["favourable_trend"]
    return metric


def validate(
    definition: Any, *, connection_lookup=by_name, path: str = "", input_lookup=_metric_by_name
) -> tuple[dict, Errors]:
    """Check a definition; ``(cleaned, [(field_path, message), ...])``. See the module docstring."""
    check = _Checker(path)
    if not isinstance(definition, dict):
        check.error((), f"Expected a metric definition (an object), got {_kind(definition)}.")
        return {}, check.errors
    if "kind" in definition and definition["kind"] != Kind.API:
        if definition["kind"] == Kind.CALCULATED:
            return validate_calculated(definition, input_lookup=input_lookup, path=path)
        check.choice(definition["kind"], ("kind",), tuple(Kind.values))
        return {}, check.errors
    check.unknown_keys(definition, (*TOP_KEYS, "kind"))
    check.required(definition, REQUIRED_TOP)
    cleaned: dict[str, Any] = {}

    cleaned.update(_name_and_description(check, definition))

    connection = None
    if "connection" in definition:
        value = definition["connection"]
        if value is None or (isinstance(value, str) and not value.strip()):
            check.error(("connection",), "Choose a connection.")
        elif not isinstance(value, str):
            check.error(("connection",), f"Expected the connection's name, got {_kind(value)}.")
        else:
            connection = connection_lookup(value)
            if connection is None:
                check.error(("connection",), f"No connection is named {value.strip()!r}; an admin can add it.")
    cleaned["connection"] = connection

    cleaned["request"] = _request(check, definition["request"], connection) if "request" in definition else None
    cleaned["date"] = _date(check, definition["date"], connection) if "date" in definition else None

    expression = None
    if "expression" in definition:
        expression = check.text(definition["expression"], ("expression",), blank=False)
        if expression is not None:
            try:
                transform.compile_expression(expression)
            except transform.ExpressionError as exc:
                check.error(("expression",), f"The JSONata expression does not compile: {exc}")
    cleaned["expression"] = expression

    for key, choices in (
        ("aggregation", tuple(Aggregation.values)),
        ("number_format", tuple(NumberFormat.values)),
        ("favourable_trend", tuple(Trend.values)),
    ):
        cleaned[key] = check.choice(definition.get(key, DEFAULTS[key]), (key,), choices)
    cleaned["currency"] = check.choice(
        definition.get("currency", currencies.default_code()), ("currency",), tuple(currencies.CURRENCIES)
    )

    cleaned["sync"] = _sync(check, definition.get("sync", DEFAULTS["sync"]))
    return cleaned, check.errors


# ---------------------------------------------------------------- definition -> metric


def apply_to_metric(metric: Metric, cleaned: dict) -> Metric:
    """Copy a cleaned definition (from ``validate`` with no errors) onto ``metric``; not saved."""
    request = cleaned["request"]
    date = cleaned["date"]
    sync = cleaned["sync"]
    metric.name = cleaned["name"]
    metric.description = cleaned["description"] or ""
    metric.connection = cleaned["connection"]
    metric.method = request["method"]
    metric.endpoint = request["endpoint"]
    metric.params = [list(pair) for pair in request["params"]]
    metric.headers = [list(pair) for pair in request["headers"]]
    metric.body = copy.deepcopy(request["body"])
    metric.pagination = copy.deepcopy(request["pagination"])
    metric.date_mode = date["mode"]
    metric.date_format = date["format"] or ""
    metric.date_timezone = date["timezone"] or ""
    metric.date_field = date["field"] or ""
    metric.expression = cleaned["expression"]
    metric.aggregation = cleaned["aggregation"]
    metric.number_format = cleaned["number_format"]
    metric.currency = cleaned["currency"]
    metric.favourable_trend = cleaned["favourable_trend"]
    metric.interval_minutes = sync["interval_minutes"]
    metric.window_days = sync["window_days"]
    metric.history_days = sync["history_days"]
    return metric


def to_metric(cleaned: dict, *, owner=None) -> Metric:
    """A new, unsaved Metric from a cleaned definition (a calculated one's inputs are set once it is saved)."""
    if cleaned.get("kind") == Kind.CALCULATED:
        return apply_calculated(Metric(owner=owner), cleaned)
    return apply_to_metric(Metric(owner=owner), cleaned)


COPY_RE = re.compile(r"^(?P<base>.*?) \(copy(?: (?P<n>\d+))?\)$")


def unique_name(name: str, *, exclude_pk: int | None = None, taken: set[str] | None = None) -> str:
    """``name`` if free, else ``"name (copy)"``, ``"name (copy 2)"``, ...

    Copying a copy does not stack suffixes: "X (copy)" gives "X (copy 2)". ``taken`` adds names
    to treat as used (an import that renames several metrics at once).
    """
    taken = set(taken or ())
    queryset = Metric.objects.all()
    if exclude_pk is not None:
        queryset = queryset.exclude(pk=exclude_pk)

    def free(candidate: str) -> bool:
        return candidate not in taken and not queryset.filter(name=candidate).exists()

    name = name.strip()
    if free(name):
        return name
    match = COPY_RE.match(name)
    base = match.group("base") if match else name
    number = 1
    while True:
        suffix = " (copy)" if number == 1 else f" (copy {number})"
        candidate = base[: NAME_MAX_LENGTH - len(suffix)].rstrip() + suffix
        if free(candidate):
            return candidate
        number += 1
