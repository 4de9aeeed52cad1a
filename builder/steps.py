"""What each wizard step stores on a draft and derives from it, without request objects.

The views in ``builder.views.wizard`` read the request and choose the response; everything
about the draft itself lives here: the request step's rows and the VTQL helper, the
placeholder preview, the date candidates, the live JSONata evaluation, the checks before
Save and Save itself. The functions that change a draft save it themselves, once per call
(``open_*`` when a step is opened, ``store_*`` when it is posted, ``apply_cleaned_request``,
``save_metric``), so a view never has to remember to.
"""

from __future__ import annotations

import collections
import json
import threading
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.core.exceptions import ValidationError

from builder import (
    currencies,
    dates,
    definitions,
    expression_box,
    fetching,
    keyvalue,
    pagination,
    placeholders,
    preview,
    timeframes,
    transform,
    vtql,
)
from builder.forms import CUSTOM_FORMAT, RequestForm
from builder.models import ClosedDraft, DateMode, Draft, Metric
from builder.signals import metric_saved
from builder.wizard_drafts import WIZARD_KEY, breakdown_field, clean_definition, close_draft
from connections import ratelimit, safejson
from connections.client import Client
from connections.errors import ConnectionProblem
from connections.models import Connection

DATAPOINT_ROWS = 100


def connection_by_uuid(uuid_text) -> Connection | None:
    if not uuid_text:
        return None
    try:
        return Connection.objects.filter(uuid=uuid_text).first()
    except (ValueError, TypeError, ValidationError):  # a malformed uuid posted by hand
        return None


def wizard_state(draft: Draft) -> dict:
    return draft.definition.setdefault(WIZARD_KEY, {})


def rows_of(definition: dict, kind: str) -> list[keyvalue.Row]:
    return keyvalue.from_pairs((definition.get("request") or {}).get(kind) or [])


def request_initial(draft: Draft) -> dict:
    definition = draft.definition
    req = definition.get("request") or {}
    state = definition.get(WIZARD_KEY, {})
    body = req.get("body")
    body_text = state.get("body_text")
    if body_text is None:
        body_text = "" if body is None else json.dumps(body, indent=2)
    spec = dict(req.get("pagination") or {"type": "none"})
    kind = spec.pop("type", "none")
    return {
        "connection": definition.get("connection", ""),
        "endpoint": req.get("endpoint", ""),
        "method": req.get("method", "GET"),
        "body": body_text,
        "pagination": kind,
        "pagination_options": json.dumps(spec) if spec else "",
        "preview_range": draft.preview_range,
    }


def _keep_posted_request(draft: Draft, data, rows, header_rows, connection: Connection | None) -> None:
    """Keep what was posted on the draft, valid or not."""
    definition = draft.definition
    req = definition.setdefault("request", {})
    state = wizard_state(draft)
    if connection is not None:
        definition["connection"] = str(connection.uuid)
    req["endpoint"] = (data.get("endpoint") or "").strip()
    req["method"] = (data.get("method") or "GET").upper()
    req["params"] = [[row.key, row.value] for row in rows]
    req["headers"] = [[row.key, row.value] for row in header_rows]
    body_text = data.get("body") or ""
    state["body_text"] = body_text
    try:
        req["body"] = safejson.loads(body_text) if body_text.strip() else None
    except ValueError:
        req["body"] = None
    kind = data.get("pagination") or "none"
    try:
        options = safejson.loads(data.get("pagination_options") or "{}")
    except ValueError:
        options = {}
    req["pagination"] = {"type": kind, **(options if isinstance(options, dict) else {})}
    if data.get("preview_range") in timeframes.PREVIEW_PRESETS:
        draft.preview_range = data["preview_range"]
    vtql_state = state.setdefault("vtql", {})
    for name in ("module", "date_field"):
        if f"vtql_{name}" in data:
            vtql_state[name] = data.get(f"vtql_{name}", "")
    if "vtql_module" in data:  # the helper's form was posted: unticked boxes and options send nothing
        vtql_state["fields_selected"] = data.getlist("vtql_fields")
        vtql_state["conditions"] = [value for value in data.getlist("vtql_condition") if value]


def _keep_error(state: dict, error: str | None) -> None:
    if error:
        state["error"] = error


def _modules_due(draft: Draft, connection: Connection | None) -> bool:
    """The VTQL helper is shown (a Vtiger ``query`` request) and has no module list for this connection yet."""
    return (
        connection is not None
        and connection.is_vtiger
        and (draft.definition.get("request") or {}).get("endpoint") == "query"
        and wizard_state(draft).get("vtql", {}).get("modules_for") != str(connection.uuid)
    )


def open_request_step(draft: Draft, connection: Connection | None) -> None:
    """The helper's module list loads by itself the first time it is shown; the draft is saved when it did."""
    if not _modules_due(draft, connection):
        return
    state = wizard_state(draft).setdefault("vtql", {})
    state.pop("error", None)
    _keep_error(state, vtql_load(draft, connection, "modules"))
    draft.save()


def store_request(
    draft: Draft, data, rows: list[keyvalue.Row], header_rows: list[keyvalue.Row], connection: Connection | None
) -> list[keyvalue.Row]:
    """Keep what was posted on the draft, valid or not, carry out the VTQL helper's button, and save.

    ``data["action"]`` names the helper's button: ``vtql-modules`` and ``vtql-fields`` load from
    Vtiger, ``vtql-write`` writes the query into the ``query`` row. The module list loads by itself
    the first time the helper is shown. Returns the parameter rows as the helper left them.
    """
    _keep_posted_request(draft, data, rows, header_rows, connection)
    action = data.get("action", "")
    state = wizard_state(draft).setdefault("vtql", {})
    state.pop("error", None)
    if connection is not None and action in ("vtql-modules", "vtql-fields"):
        _keep_error(state, vtql_load(draft, connection, "modules" if action == "vtql-modules" else "fields"))
    elif action == "vtql-write":
        rows, error = vtql_write(draft, rows)
        draft.definition["request"]["params"] = [[row.key, row.value] for row in rows]
        _keep_error(state, error)
    if _modules_due(draft, connection):
        _keep_error(state, vtql_load(draft, connection, "modules"))
    draft.save()
    return rows


def apply_cleaned_request(draft: Draft, form: RequestForm) -> None:
    """The valid step's cleaned values replace what was typed (Next, Send request); saved."""
    cleaned = form.cleaned_data
    req = draft.definition["request"]
    req["endpoint"] = cleaned["endpoint"]
    req["method"] = cleaned["method"]
    req["params"] = [list(pair) for pair in keyvalue.to_pairs(form.rows)]
    req["headers"] = [list(pair) for pair in keyvalue.to_pairs(form.header_rows)] if form.takes_headers else []
    req["body"] = cleaned["body"] if cleaned["method"] == "POST" else None
    req["pagination"] = {"type": cleaned["pagination"], **cleaned["pagination_options"]}
    draft.save()


def vtql_load(draft: Draft, connection: Connection, what: str) -> str | None:
    """Fetch listtypes or describe for the VTQL helper and keep them on the draft (not saved: its callers
    save once for the whole post); an error message or None."""
    state = wizard_state(draft).setdefault("vtql", {})
    limiter = ratelimit.for_connection(connection)
    try:
        with Client(connection) as client:
            if what == "modules":
                response = fetching.budgeted_request(client, limiter, "GET", "listtypes")
                state["modules"] = [[m.name, m.label] for m in vtql.modules_from_listtypes(response.data)]
                state["modules_for"] = str(connection.uuid)
            else:
                module = state.get("module") or ""
                if not module:
                    return "Choose a module first."
                response = fetching.budgeted_request(
                    client, limiter, "GET", "describe", params=[("elementType", module)]
                )
                fields = vtql.fields_from_describe(response.data)
                state["fields"] = [
                    {
                        "name": f.name,
                        "label": f.label,
                        "type": f.type,
                        "is_date": f.is_date,
                        "picklist": [[c.value, c.label] for c in f.picklist_values],
                    }
                    for f in fields
                ]
                state["fields_for"] = module
                state.setdefault("fields_selected", [])
    except ratelimit.BudgetWait as wait:
        return preview.budget_message(connection, wait.seconds)
    except ConnectionProblem as problem:
        return problem.message
    except ValueError as exc:
        return str(exc)
    return None


def vtql_write(draft: Draft, rows: list[keyvalue.Row]) -> tuple[list[keyvalue.Row], str | None]:
    """Write the helper's query into the ``query`` row; (rows, error message or None)."""
    state = wizard_state(draft).get("vtql", {})
    module = state.get("module") or ""
    fields = {f["name"]: f for f in state.get("fields") or []}
    if not module or state.get("fields_for") != module:
        return rows, "Choose a module and load its fields first."
    selected = [name for name in state.get("fields_selected") or [] if name in fields]
    date_field = state.get("date_field") or ""
    # Values picked for one field are alternatives (IN); conditions on different fields all hold (AND).
    picked = {}
    for condition in state.get("conditions") or []:
        name, _, value = condition.partition("=")
        if name in fields:
            picked.setdefault(name, []).append(value)
    conditions = [(name, "IN", vals) if len(vals) > 1 else (name, "=", vals[0]) for name, vals in picked.items()]
    date_kind = "date"
    if date_field:
        if date_field not in fields or not fields[date_field]["is_date"]:
            return rows, f"{date_field} is not a date field of {module}."
        date_kind = fields[date_field]["type"] if fields[date_field]["type"] in vtql.DATE_FORMATS else "date"
    try:
        query = vtql.build_query(module, selected, date_field or None, date_kind, conditions)
    except ValueError as exc:
        return rows, str(exc)
    out, placed = [], False
    for row in rows:
        if row.key == "query" and not placed:
            out.append(keyvalue.Row("query", query))
            placed = True
        elif row.key != "query":
            out.append(row)
    if not placed:
        out.insert(0, keyvalue.Row("query", query))
    draft.definition["request"]["pagination"] = {"type": "vtiger"}
    return out, None


def vtql_context(draft: Draft, connection: Connection | None) -> dict | None:
    req = draft.definition.get("request") or {}
    if connection is None or not connection.is_vtiger or (req.get("endpoint") or "").strip() != "query":
        return None
    state = wizard_state(draft).get("vtql", {})
    fields = state.get("fields") if state.get("fields_for") == state.get("module") else None
    return {
        "modules": state.get("modules") if state.get("modules_for") == str(connection.uuid) else None,
        "module": state.get("module", ""),
        "fields": fields or [],
        "date_fields": [f for f in fields or [] if f["is_date"]],
        "picklists": [f for f in fields or [] if f["picklist"]],
        "selected": set(state.get("fields_selected") or []),
        "date_field": state.get("date_field", ""),
        "conditions": set(state.get("conditions") or []),
        "error": state.get("error"),
    }


def vtql_hints(draft: Draft, connection: Connection | None) -> list[str]:
    """Obvious mistakes in the query parameter of a Vtiger ``query`` call (a hint: Vtiger has the last word)."""
    req = draft.definition.get("request") or {}
    if connection is None or not connection.is_vtiger or (req.get("endpoint") or "").strip() != "query":
        return []
    query = next((value for key, value in req.get("params") or [] if key == "query"), "")
    if not query.strip():
        return []
    state = wizard_state(draft).get("vtql", {})
    modules = [name for name, _ in state.get("modules") or []] or None
    return vtql.check_syntax(query, modules)


def placeholder_preview(draft: Draft, connection: Connection | None, tz: str) -> dict:
    """The preview range and the request as the placeholders render it (or the first error)."""
    zone = connection.data_timezone if connection else "UTC"
    window = timeframes.preview_window(draft.preview_range, tz)
    req = draft.definition.get("request") or {}
    used = placeholders.find(req)
    out: dict[str, Any] = {
        "start": dates.display(window.start, tz),
        "end": dates.display(window.end, tz),
        "zone": str(zone),
        "used": bool(used),
        "rendered": [],
    }
    if not used:
        return out
    try:
        endpoint, params, headers, body = fetching.rendered_request(req, window, zone)
    except placeholders.PlaceholderError as exc:
        out["error"] = exc.message
        return out
    rendered = [("Endpoint", endpoint)] + [(f"{k}", v) for k, v in params] + [(f"Header {k}", v) for k, v in headers]
    if body is not None:
        rendered.append(("Body", json.dumps(body)))
    out["rendered"] = [(label, value) for label, value in rendered if value]
    return out


def date_candidates(draft: Draft, naive_tz: str, tz: str) -> list[dict]:
    if draft.response is None:
        return []
    out = []
    for candidate in dates.detect(draft.response, naive_tz=naive_tz):
        out.append(
            {
                "path": candidate.path,
                "format": candidate.format,
                "format_label": dates.FORMAT_LABELS.get(candidate.format, candidate.format),
                "raw": candidate.sample,
                "utc": dates.display(candidate.parsed, UTC),
                "local": dates.display(candidate.parsed, tz),
            }
        )
    return out


def date_initial(draft: Draft) -> dict:
    spec = draft.definition.get("date") or {}
    fmt = spec.get("format") or ""
    custom = bool(fmt) and fmt not in dates.FORMATS
    return {
        "mode": spec.get("mode") or DateMode.NONE,
        "field": spec.get("field") or "",
        "format": CUSTOM_FORMAT if custom else fmt,
        "custom_format": fmt if custom else "",
        "timezone": spec.get("timezone") or "UTC",
    }


def naive_zone(draft: Draft, connection: Connection | None) -> str:
    """The zone dates without an offset are read in: the step's choice, else the connection's."""
    return (draft.definition.get("date") or {}).get("timezone") or (connection.data_timezone if connection else "UTC")


def default_date_field(draft: Draft, candidates: list[dict]) -> dict | None:
    """The candidate to date values by when the analyst has not chosen yet, or None.

    The date field the VTQL helper filtered on, when the response has it; else the response's
    only date field.
    """
    chosen = (wizard_state(draft).get("vtql") or {}).get("date_field") or ""
    query = next(
        (value for key, value in (draft.definition.get("request") or {}).get("params") or [] if key == "query"), ""
    )
    if chosen and chosen in (query or ""):
        match = next((c for c in candidates if c["path"] == chosen), None)
        if match is not None:
            return match
    return candidates[0] if len(candidates) == 1 else None


def _date_by_default(draft: Draft, candidates: list[dict]) -> bool:
    """Until the analyst answers the Date field step, date by ``default_date_field``; True if the draft changed.

    Stored on the draft, so the step shows the field's parsed preview and the JSONata step's
    suggestion uses the field even after Next → Next.
    """
    state = wizard_state(draft)
    spec = draft.definition.setdefault("date", {})
    defaulted = state.get("date_default")
    mode = spec.get("mode") or DateMode.NONE
    if draft.metric_id is not None:  # editing a saved metric: its dating was chosen when it was built
        return False
    if state.get("date_answered") or not (mode == DateMode.NONE or (defaulted and spec.get("field") == defaulted)):
        return False
    default = default_date_field(draft, candidates)
    before = (mode, spec.get("field"), spec.get("format"))
    if default is not None:
        spec.update({"mode": DateMode.FIELD, "field": default["path"], "format": default["format"]})
        state["date_default"] = default["path"]
    elif defaulted:  # steps 1 changed: the field we chose is no longer the one
        spec.update({"mode": DateMode.NONE, "field": "", "format": ""})
        state.pop("date_default", None)
    return (spec.get("mode"), spec.get("field"), spec.get("format")) != before


def open_date_step(draft: Draft, candidates: list[dict]) -> None:
    """The step proposes the helper's date filter, or the only date field (``_date_by_default``); saved if it did."""
    if _date_by_default(draft, candidates):
        draft.save()


def store_date(draft: Draft, data, cleaned: dict | None = None) -> None:
    """Keep the posted step on the draft, valid or not, and save.

    ``cleaned``: the DateForm's cleaned data when the step is valid; its time zone and resolved
    format replace what was typed, and a mode without a field forgets the field.
    """
    wizard_state(draft)["date_answered"] = True
    spec = draft.definition.setdefault("date", {})
    spec["mode"] = data.get("mode") or spec.get("mode") or DateMode.NONE
    spec["field"] = (data.get("field") or "").strip()
    fmt = data.get("format") or ""
    spec["format"] = (data.get("custom_format") or "").strip() if fmt == CUSTOM_FORMAT else fmt
    spec["timezone"] = (data.get("timezone") or "").strip() or spec.get("timezone") or "UTC"
    if cleaned is not None:
        spec["timezone"] = cleaned["timezone"]
        if cleaned["mode"] == DateMode.FIELD:
            spec["format"] = cleaned["resolved_format"]
        else:
            spec["field"] = ""
    draft.save()


def field_preview(draft: Draft, spec: dict, tz: str) -> dict:
    """The first values of the chosen field read in the chosen format: raw, UTC, the analyst's zone."""
    _, records = dates.find_records(draft.response)
    rows = []
    for record in records[:5]:
        value = pagination.get_path(record, spec["field"]) if isinstance(record, dict) else None
        try:
            shown = dates.preview(value, spec["format"], spec.get("timezone") or "UTC", tz)
            rows.append({"raw": shown.raw, "utc": shown.utc, "local": shown.local})
        except (dates.DateParseError, ValueError) as exc:
            rows.append({"raw": "" if value is None else str(value), "error": str(exc)})
    return {"field": spec["field"], "rows": rows}


def suggestion(draft: Draft) -> str:
    spec = draft.definition.get("date") or {}
    connection = connection_by_uuid(draft.definition.get("connection"))
    if draft.response is not None:
        records_path, records = dates.find_records(draft.response)
    else:
        records_path, records = ("result" if connection is not None and connection.is_vtiger else None), []
    date_field = spec.get("field") if spec.get("mode") == DateMode.FIELD else None
    dimension = breakdown_field(draft) or None
    if dimension and (dimension == date_field or (records and not _has_field(records, dimension))):
        dimension = None  # steps 1-2 changed: the field is no longer in the response, or is the date
    numeric = [name for name in transform.numeric_fields(records) if name not in (date_field, dimension)]
    value_field = numeric[0] if numeric else None
    for value, date, aggregate in ((value_field, date_field, None), (None, None, "count")):
        for by in (dimension, None) if dimension else (None,):
            try:
                return transform.suggest_expression(records_path, value, date, aggregate, by)
            except ValueError:
                continue
    return transform.suggest_expression(records_path, None, None, "count")


def _has_field(records: list, name: str, sample_size: int = 500) -> bool:
    return any(isinstance(record, dict) and name in record for record in records[:sample_size])


def breakdown_choices(draft: Draft) -> list[tuple[str, str]]:
    """The "Break down by" options of the JSONata step: (field, label), from the stored response.

    ``transform.text_fields`` of the response's records; on Vtiger, the picklists and labels of the
    fields the VTQL helper loaded for the queried module ("Lead Source (leadsource)"). The current
    choice stays listed even when the response no longer has it.
    """
    records = dates.find_records(draft.response)[1] if draft.response is not None else []
    vtql_state = wizard_state(draft).get("vtql") or {}
    described = {}
    if vtql_state.get("fields_for") and vtql_state.get("fields_for") == vtql_state.get("module"):
        described = {f["name"]: f for f in vtql_state.get("fields") or [] if isinstance(f, dict) and f.get("name")}
    picklists = [name for name, f in described.items() if f.get("picklist")]
    names = transform.text_fields(records, picklists=picklists)
    chosen = breakdown_field(draft)
    if chosen and chosen not in names:
        names.append(chosen)

    def label(name):
        shown = str((described.get(name) or {}).get("label") or "").strip()
        return f"{shown} ({name})" if shown and shown != name else name

    return [(name, label(name)) for name in names]


def result_text(result: Any, limit: int = 20_000, length: int | None = None) -> str:
    """The result as indented JSON, its first items only: indenting makes json use its slow encoder.

    ``length``: the length of the array ``result`` is the head of (``transform.Summary``), if it is one.
    """
    shown, more = result, 0
    if isinstance(result, list):
        length = len(result) if length is None else length
        if length > DATAPOINT_ROWS:
            shown, more = list(result[:DATAPOINT_ROWS]), length - DATAPOINT_ROWS
    text = json.dumps(shown, ensure_ascii=False, indent=2, default=lambda _: "<function>")
    if len(text) > limit:
        text = text[:limit] + "\n…"
    return text + (f"\n… and {more:,} more items" if more else "")


# The stored responses the live editor evaluates against, parsed, by (draft, Send): the last few.
KEPT_RESPONSES = expression_box.KEPT_INPUTS
_responses: collections.OrderedDict[tuple, Any] = collections.OrderedDict()
_responses_lock = threading.Lock()


def stored_response(draft: Draft) -> Any:
    """The draft's stored response, parsed: read from the database once per Send in this process.

    The live editor evaluates on each pause in typing; reading and decoding a 5,000-record
    response each time (tens of milliseconds) would cost more than the evaluation's overhead may.
    Only a Send writes the response, and with it the meta's ``sent_at``, so a draft, its
    ``sent_at`` and the response's size name one response. A draft whose meta has no ``sent_at``
    is read as it is. The response is kept packed for the box too (``keep_packed``), so the box's
    worker, which holds it by digest, is neither sent it nor its digest computed again. Views
    that only evaluate load the draft without the response (``defer("response")``): it is read
    here, and only when this process does not hold it.
    """
    meta = draft.response_meta or {}
    if meta.get("sent_at") is None:
        return draft.response
    key = (str(draft.uuid), meta["sent_at"], meta.get("size_bytes"))
    with _responses_lock:
        if key in _responses:
            _responses.move_to_end(key)
            return _responses[key]
    data = draft.response
    if data is not None:
        expression_box.keep_packed(data)
        with _responses_lock:
            _responses[key] = data
            while len(_responses) > KEPT_RESPONSES:
                _responses.popitem(last=False)
    return data


def evaluation(draft: Draft, expression: str, tz: str) -> dict:
    """Evaluate against the stored response (never upstream): result, datapoints, or the error."""
    out: dict[str, Any] = {"expression": expression}
    response = stored_response(draft)
    if response is None:
        out["error"] = {
            "code": "NO_RESPONSE",
            "message": "There is no response to evaluate yet: go back to step 1 and press Send request.",
        }
        return out
    spec = draft.definition.get("date") or {}
    mode = spec.get("mode") or DateMode.NONE
    size = (draft.response_meta or {}).get("size_bytes")
    try:
        # The response already passed the client's size cap; its size on the wire stands in for
        # measuring it again (a 5 MB response costs ~30 ms to serialise just to be measured).
        # Checked by the shape contract in the box: only the rows shown come back.
        summary = transform.evaluate_summary(
            expression,
            response,
            mode,
            DATAPOINT_ROWS,
            max_input_bytes=max(transform.DEFAULT_MAX_INPUT_BYTES, preview.preview_max_bytes()),
            input_bytes=size if isinstance(size, int) and size > 0 else None,
        )
    except transform.ExpressionError as exc:
        out["error"] = {"code": exc.code, "message": exc.message, "position": exc.position, "fix": exc.fix}
        return out
    out["result"] = result_text(summary.head, length=summary.length)
    if summary.shape_error is not None:
        out["error"] = {"code": "SHAPE", "message": summary.shape_error, "position": None}
        return out
    rows = []
    for point in summary.points:
        row = {"value": point.value, "dimension": point.dimension, "date": "", "raw_date": point.date}
        if mode == DateMode.FIELD and point.date is not None:
            try:
                fmt = spec.get("format") or dates.ISO
                row["date"] = dates.preview(point.date, fmt, spec.get("timezone") or "UTC", tz).local
            except (dates.DateParseError, ValueError) as exc:
                row["date_error"] = str(exc)
        elif mode == DateMode.DYNAMIC:
            row["date"] = "the time of each sync"
        rows.append(row)
    out["datapoints"] = rows
    out["count"] = summary.count
    out["total"] = summary.total
    out["more"] = max(0, summary.count - DATAPOINT_ROWS)
    return out


def open_expression_step(draft: Draft, connection: Connection | None, tz: str) -> str:
    """What opening the JSONata step changes, saved; the expression to show.

    Straight here from step 1, the date field is the one the Date step would have proposed (until
    it is answered). The suggestion is regenerated while the analyst has not changed the generated
    text (steps 1-2 may have changed); an editor the analyst emptied stays empty.
    """
    state = wizard_state(draft)
    _date_by_default(draft, date_candidates(draft, naive_zone(draft, connection), tz))
    expression = draft.definition.get("expression") or ""
    suggested = suggestion(draft)
    emptied = state.get("typed") and not expression
    if (not expression.strip() and not emptied) or expression == state.get("suggested"):
        expression = suggested
        draft.definition["expression"] = expression
    state["suggested"] = suggested
    draft.save()
    return expression


def store_expression(draft: Draft, expression: str) -> None:
    """The JSONata step's form was posted (Next, Back, Evaluate without JavaScript): keep its expression."""
    draft.definition["expression"] = expression
    draft.save()


def store_typed_expression(draft: Draft, expression: str) -> None:
    """The live editor's expression, as the analyst types: only the definition is written, so that
    evaluating as one types costs one small UPDATE and never rewrites the stored response."""
    draft.definition["expression"] = expression
    wizard_state(draft)["typed"] = True
    draft.save(update_fields=["definition", "updated_at"])


def name_initial(draft: Draft) -> dict:
    definition = draft.definition
    return {key: definition.get(key, "") for key in ("name", "description", "aggregation", "number_format")} | {
        "currency": definition.get("currency") or currencies.default_code(),
        "favourable_trend": definition.get("favourable_trend") or "up",
    }


def store_name(draft: Draft, data) -> None:
    """Keep the Save step's fields and its "Add to the Metrics screen" box on the draft, and save.

    The form sends a hidden "0" before the checkbox's "1", so ticked reads "1", unticked "0";
    absent keeps the default (on).
    """
    for key in ("name", "description", "aggregation", "number_format", "currency", "favourable_trend"):
        if key in data:
            draft.definition[key] = data.get(key, "").strip() if key == "name" else data.get(key, "")
    screen = data.getlist("add_to_screen")
    if screen:
        wizard_state(draft)["add_to_screen"] = screen[-1] == "1"
    draft.save()


def adds_to_screen(draft: Draft) -> bool:
    """Whether Save puts the metric on the Metrics screen: new metrics only, unless the box was unticked."""
    return draft.metric_id is None and wizard_state(draft).get("add_to_screen", True)


def definition_errors(draft: Draft) -> tuple[dict, list[tuple[str, str]]]:
    definition = clean_definition(draft.definition)
    request_spec = definition.get("request") or {}
    # Empty Key/Value rows are kept in the draft while editing; they are not part of a metric.
    for kind in ("params", "headers"):
        request_spec[kind] = [pair for pair in request_spec.get(kind) or [] if pair[0] or pair[1]]
    spec = definition.get("date") or {}
    if not spec.get("field"):
        spec.pop("field", None)
    return definitions.validate(definition, connection_lookup=definitions.by_uuid)


@dataclass(frozen=True)
class Saved:
    metric: Metric
    created: bool  # a new metric, not an edit of the one the draft opened
    on_screen: bool  # put on the Metrics screen (``adds_to_screen``)


def save_metric(draft: Draft, user) -> tuple[Saved | None, list[tuple[str, str]]]:
    """Save the draft as its metric (new, or the one it edits), tell the apps that listen, and close
    the draft; ``(saved, [])``, or ``(None, problems)`` when the definition is not valid.

    Called inside the transaction that locked the draft row, so a second Save of the same draft
    waits, then finds it closed.
    """
    cleaned, problems = definition_errors(draft)
    if problems:
        return None, problems
    metric = draft.metric
    created = metric is None
    on_screen = adds_to_screen(draft)
    if created:
        metric = definitions.to_metric(cleaned, owner=user)
    else:
        definitions.apply_to_metric(metric, cleaned)
    metric.save()
    metric_saved.send(sender=Draft, metric=metric, created=created, user=user, add_to_screen=on_screen)
    close_draft(draft, ClosedDraft.Outcome.SAVED, metric)
    return Saved(metric, created, on_screen), []
