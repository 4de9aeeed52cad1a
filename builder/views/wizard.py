"""The Metric Builder wizard: one URL per step on a persisted draft.

Every step is a plain HTML form (the Django test client drives it without JavaScript); htmx
makes parts live by posting the same form and swapping a fragment (template partials). Each
POST first stores what was entered on the draft, valid or not, so nothing typed is ever lost
and Back keeps everything.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.roles import member_required
from builder import dates, definitions, keyvalue, pagination, placeholders, preview, transform, vtql
from builder.forms import CUSTOM_FORMAT, DateForm, ExpressionForm, NameForm, RequestForm
from builder.models import DateMode, Draft
from builder.wizard_drafts import WIZARD_KEY, clean_definition, new_draft
from connections.client import Client
from connections.errors import ConnectionProblem
from connections.models import Connection

STEPS = (
    ("request", "Prepare API Request"),
    ("date", "Date field"),
    ("expression", "JSONata"),
    ("name", "Name your metric"),
)
VTIGER_INTEGRATIONS = (Connection.Integration.VTIGER, Connection.Integration.VTIGER_SELFHOSTED)
DATAPOINT_ROWS = 100


# ---------------------------------------------------------------- helpers


def _draft(request, uuid) -> Draft:
    """The current user's draft, or 404 (another user's draft does not exist for you)."""
    return get_object_or_404(Draft.objects.select_related("metric"), uuid=uuid, owner=request.user)


def _connection(uuid_text) -> Connection | None:
    if not uuid_text:
        return None
    try:
        return Connection.objects.filter(uuid=uuid_text).first()
    except (ValueError, TypeError, ValidationError):  # a malformed uuid posted by hand
        return None


def _wizard_state(draft: Draft) -> dict:
    return draft.definition.setdefault(WIZARD_KEY, {})


def _user_tz(request) -> str:
    profile = getattr(request.user, "profile", None)
    return getattr(profile, "time_zone", None) or "UTC"


def _is_vtiger(connection: Connection | None) -> bool:
    return connection is not None and connection.integration in VTIGER_INTEGRATIONS


def _done(request, url):
    """After a successful plain POST: redirect; htmx follows with a full page load."""
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return HttpResponseRedirect(url)


def _step_url(name, draft):
    return reverse(f"builder:{name}", args=[draft.uuid])


def _response_context(request, draft: Draft) -> dict:
    meta = draft.response_meta or {}
    has_response = bool(meta)
    tree = preview.json_tree(draft.response) if draft.response is not None else ""
    return {"meta": meta, "has_response": has_response, "tree": tree, "error": meta.get("error")}


def _base_context(request, draft: Draft, step: str) -> dict:
    definition = draft.definition or {}
    connection = _connection(definition.get("connection"))
    return {
        "draft": draft,
        "definition": definition,
        "connection": connection,
        "integration": connection.integration_module if connection else None,
        "steps": [(name, label, _step_url(name, draft)) for name, label in STEPS],
        "step": step,
        "user_tz": _user_tz(request),
        **_response_context(request, draft),
    }


# ---------------------------------------------------------------- start


@member_required
@require_http_methods(["GET", "POST"])
def start(request):
    connections = list(Connection.objects.order_by("name"))
    if request.method == "POST":
        connection = _connection(request.POST.get("connection"))
        if connection is None:
            drafts = Draft.objects.filter(owner=request.user).order_by("-updated_at")
            return render(
                request,
                "builder/wizard/start.html",
                {"connections": connections, "drafts": drafts, "error": "Choose a connection to start from."},
                status=400,
            )
        draft = new_draft(request.user, connection)
        return HttpResponseRedirect(_step_url("request", draft))
    drafts = Draft.objects.filter(owner=request.user).select_related("metric").order_by("-updated_at")[:20]
    return render(request, "builder/wizard/start.html", {"connections": connections, "drafts": drafts})


# ---------------------------------------------------------------- step 1: Prepare API Request


def _rows_of(definition: dict, kind: str) -> list[keyvalue.Row]:
    return keyvalue.from_pairs((definition.get("request") or {}).get(kind) or [])


def _request_initial(draft: Draft) -> dict:
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


def _store_request(draft: Draft, data, rows, header_rows, connection: Connection | None) -> None:
    """Keep what was posted on the draft, valid or not."""
    definition = draft.definition
    req = definition.setdefault("request", {})
    state = _wizard_state(draft)
    if connection is not None:
        definition["connection"] = str(connection.uuid)
    req["endpoint"] = (data.get("endpoint") or "").strip()
    req["method"] = (data.get("method") or "GET").upper()
    req["params"] = [[row.key, row.value] for row in rows]
    req["headers"] = [[row.key, row.value] for row in header_rows]
    body_text = data.get("body") or ""
    state["body_text"] = body_text
    try:
        req["body"] = json.loads(body_text) if body_text.strip() else None
    except ValueError:
        req["body"] = None
    kind = data.get("pagination") or "none"
    try:
        options = json.loads(data.get("pagination_options") or "{}")
    except ValueError:
        options = {}
    req["pagination"] = {"type": kind, **(options if isinstance(options, dict) else {})}
    if data.get("preview_range") in placeholders.PREVIEW_PRESETS:
        draft.preview_range = data["preview_range"]
    vtql_state = state.setdefault("vtql", {})
    for name in ("module", "date_field", "condition"):
        if f"vtql_{name}" in data:
            vtql_state[name] = data.get(f"vtql_{name}", "")
    if "vtql_module" in data:
        vtql_state["fields_selected"] = data.getlist("vtql_fields")


def _apply_cleaned_request(draft: Draft, form: RequestForm) -> None:
    cleaned = form.cleaned_data
    req = draft.definition["request"]
    req["endpoint"] = cleaned["endpoint"]
    req["method"] = cleaned["method"]
    req["params"] = [list(pair) for pair in keyvalue.to_pairs(form.rows)]
    req["headers"] = [list(pair) for pair in keyvalue.to_pairs(form.header_rows)] if form.takes_headers else []
    req["body"] = cleaned["body"] if cleaned["method"] == "POST" else None
    req["pagination"] = {"type": cleaned["pagination"], **cleaned["pagination_options"]}


def _vtql_load(draft: Draft, connection: Connection, what: str) -> str | None:
    """Fetch listtypes or describe for the VTQL helper and keep them on the draft; an error message or None."""
    state = _wizard_state(draft).setdefault("vtql", {})
    try:
        with Client(connection) as client:
            if what == "modules":
                response = client.request("GET", "listtypes")
                state["modules"] = [[m.name, m.label] for m in vtql.modules_from_listtypes(response.data)]
                state["modules_for"] = str(connection.uuid)
            else:
                module = state.get("module") or ""
                if not module:
                    return "Choose a module first."
                response = client.request("GET", "describe", params=[("elementType", module)])
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
    except ConnectionProblem as problem:
        return problem.message
    except ValueError as exc:
        return str(exc)
    return None


def _vtql_write(draft: Draft, rows: list[keyvalue.Row]) -> tuple[list[keyvalue.Row], str | None]:
    """Write the helper's query into the ``query`` row; (rows, error message or None)."""
    state = _wizard_state(draft).get("vtql", {})
    module = state.get("module") or ""
    fields = {f["name"]: f for f in state.get("fields") or []}
    if not module or state.get("fields_for") != module:
        return rows, "Choose a module and load its fields first."
    selected = [name for name in state.get("fields_selected") or [] if name in fields]
    date_field = state.get("date_field") or ""
    conditions = []
    condition = state.get("condition") or ""
    if condition:
        name, _, value = condition.partition("=")
        if name in fields:
            conditions.append((name, "=", value))
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


def _vtql_context(draft: Draft, connection: Connection | None) -> dict | None:
    req = draft.definition.get("request") or {}
    if not _is_vtiger(connection) or (req.get("endpoint") or "").strip() != "query":
        return None
    state = _wizard_state(draft).get("vtql", {})
    fields = state.get("fields") if state.get("fields_for") == state.get("module") else None
    return {
        "modules": state.get("modules") if state.get("modules_for") == str(connection.uuid) else None,
        "module": state.get("module", ""),
        "fields": fields or [],
        "date_fields": [f for f in fields or [] if f["is_date"]],
        "picklists": [f for f in fields or [] if f["picklist"]],
        "selected": set(state.get("fields_selected") or []),
        "date_field": state.get("date_field", ""),
        "condition": state.get("condition", ""),
        "error": state.get("error"),
    }


def _vtql_hints(draft: Draft, connection: Connection | None) -> list[str]:
    """Obvious mistakes in the query parameter of a Vtiger ``query`` call (a hint: Vtiger has the last word)."""
    req = draft.definition.get("request") or {}
    if not _is_vtiger(connection) or (req.get("endpoint") or "").strip() != "query":
        return []
    query = next((value for key, value in req.get("params") or [] if key == "query"), "")
    if not query.strip():
        return []
    state = _wizard_state(draft).get("vtql", {})
    modules = [name for name, _ in state.get("modules") or []] or None
    return vtql.check_syntax(query, modules)


def _placeholder_preview(draft: Draft, connection: Connection | None, tz: str) -> dict:
    """The preview range and the request as the placeholders render it (or the first error)."""
    zone = connection.data_timezone if connection else "UTC"
    window = placeholders.preview_window(draft.preview_range, tz)
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
        endpoint, params, headers, body = preview.rendered_request(req, window, zone)
    except placeholders.PlaceholderError as exc:
        out["error"] = exc.message
        return out
    rendered = [("Endpoint", endpoint)] + [(f"{k}", v) for k, v in params] + [(f"Header {k}", v) for k, v in headers]
    if body is not None:
        rendered.append(("Body", json.dumps(body)))
    out["rendered"] = [(label, value) for label, value in rendered if value]
    return out


def _render_request(request, draft: Draft, form: RequestForm, status=200, fragment=None):
    connection = form.conn
    context = _base_context(request, draft, "request")
    context.update(
        {
            "form": form,
            "connection": connection,
            "integration": connection.integration_module if connection else None,
            "rows": list(enumerate(form.rows)),
            "header_rows": list(enumerate(form.header_rows)),
            "row_errors": {e.index: e.message for e in form.row_errors},
            "header_errors": {e.index: e.message for e in form.header_errors},
            "is_vtiger": _is_vtiger(connection),
            "vtql": _vtql_context(draft, connection),
            "vtql_hints": _vtql_hints(draft, connection),
            "placeholder_preview": _placeholder_preview(draft, connection, _user_tz(request)),
            "docs_url": (connection.option("docs_url") or connection.integration_module.docs_url) if connection else "",
        }
    )
    template = "builder/wizard/request.html"
    if fragment:
        template = f"{template}#{fragment}"
    elif request.htmx:
        template = f"{template}#wizard"
    return render(request, template, context, status=status)


def _read_request_post(request, draft: Draft) -> tuple[RequestForm, str | None]:
    """Store the posted step on the draft and apply its row and helper buttons; (form, fragment)."""
    data = request.POST
    connection = _connection(data.get("connection")) or _connection(draft.definition.get("connection"))
    rows = keyvalue.parse_rows(data, "params")
    header_rows = keyvalue.parse_rows(data, "headers")
    fragment = None
    for kind in keyvalue.KINDS:
        button = keyvalue.pressed(data, kind)
        if button is None:
            continue
        current = rows if kind == "params" else header_rows
        changed = keyvalue.add_row(current) if button[0] == "add" else keyvalue.remove_row(current, button[1])
        if kind == "params":
            rows = changed
        else:
            header_rows = changed
        fragment = f"{kind}_rows"
    _store_request(draft, data, rows, header_rows, connection)
    action = data.get("action", "")
    state = _wizard_state(draft).setdefault("vtql", {})
    state.pop("error", None)
    if connection is not None and action in ("vtql-modules", "vtql-fields"):
        error = _vtql_load(draft, connection, "modules" if action == "vtql-modules" else "fields")
        if error:
            state["error"] = error
    elif action == "vtql-write":
        rows, error = _vtql_write(draft, rows)
        draft.definition["request"]["params"] = [[row.key, row.value] for row in rows]
        if error:
            state["error"] = error
    # The helper's module list loads by itself the first time it is shown.
    if (
        _is_vtiger(connection)
        and draft.definition["request"].get("endpoint") == "query"
        and state.get("modules_for") != str(connection.uuid)
    ):
        error = _vtql_load(draft, connection, "modules")
        if error:
            state["error"] = error
    draft.save()
    form = RequestForm(data, connection=connection, rows=rows, header_rows=header_rows)
    if fragment is None and (action.startswith("vtql-") or action == "refresh"):
        form = _unbound_request_form(draft, connection, rows, header_rows)
    return form, fragment


def _unbound_request_form(draft, connection, rows=None, header_rows=None) -> RequestForm:
    definition = draft.definition
    return RequestForm(
        initial=_request_initial(draft),
        connection=connection,
        rows=rows if rows is not None else _rows_of(definition, "params"),
        header_rows=header_rows if header_rows is not None else _rows_of(definition, "headers"),
    )


@member_required
@require_http_methods(["GET", "POST"])
def request_step(request, draft):
    draft = _draft(request, draft)
    if request.method == "GET":
        connection = _connection(draft.definition.get("connection"))
        if _is_vtiger(connection) and (draft.definition.get("request") or {}).get("endpoint") == "query":
            state = _wizard_state(draft).setdefault("vtql", {})
            if state.get("modules_for") != str(connection.uuid):
                state.pop("error", None)
                error = _vtql_load(draft, connection, "modules")
                if error:
                    state["error"] = error
                draft.save()
        form = _unbound_request_form(draft, connection)
        if not form.rows:
            form.rows = [keyvalue.Row()]
        return _render_request(request, draft, form)
    form, fragment = _read_request_post(request, draft)
    if fragment is not None:
        return _render_request(request, draft, form, fragment=fragment if request.htmx else None)
    action = request.POST.get("action", "")
    if action == "next":
        if form.is_valid():
            _apply_cleaned_request(draft, form)
            draft.save()
            return _done(request, _step_url("date", draft))
        return _render_request(request, draft, form, status=422 if not request.htmx else 200)
    return _render_request(request, draft, form)


@member_required
@require_POST
def send(request, draft):
    draft = _draft(request, draft)
    form, _ = _read_request_post(request, draft)
    if not form.is_valid():
        return _render_request(request, draft, form, status=200 if request.htmx else 422)
    _apply_cleaned_request(draft, form)
    draft.save()
    preview.send_for_draft(draft, form.conn, _user_tz(request))
    if request.htmx:
        return _render_request(request, draft, _unbound_request_form(draft, form.conn))
    return HttpResponseRedirect(_step_url("request", draft) + "#response")


# ---------------------------------------------------------------- step 2: date field


def _date_candidates(draft: Draft, naive_tz: str, tz: str) -> list[dict]:
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


def _date_initial(draft: Draft) -> dict:
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


def _store_date(draft: Draft, data) -> None:
    spec = draft.definition.setdefault("date", {})
    spec["mode"] = data.get("mode") or spec.get("mode") or DateMode.NONE
    spec["field"] = (data.get("field") or "").strip()
    fmt = data.get("format") or ""
    spec["format"] = (data.get("custom_format") or "").strip() if fmt == CUSTOM_FORMAT else fmt
    spec["timezone"] = (data.get("timezone") or "").strip() or spec.get("timezone") or "UTC"


@member_required
@require_http_methods(["GET", "POST"])
def date_step(request, draft):
    draft = _draft(request, draft)
    context = _base_context(request, draft, "date")
    connection = context["connection"]
    tz = _user_tz(request)
    naive_tz = (draft.definition.get("date") or {}).get("timezone") or (
        connection.data_timezone if connection else "UTC"
    )
    candidates = _date_candidates(draft, naive_tz, tz)
    status = 200
    if request.method == "POST":
        _store_date(draft, request.POST)
        draft.save()
        action = request.POST.get("action", "")
        if action == "back":
            return _done(request, _step_url("request", draft))
        form = DateForm(request.POST)
        if form.is_valid():
            spec = draft.definition["date"]
            spec["timezone"] = form.cleaned_data["timezone"]
            if form.cleaned_data["mode"] == DateMode.FIELD:
                spec["format"] = form.cleaned_data["resolved_format"]
            else:
                spec["field"] = ""
            draft.save()
            if action == "next":
                return _done(request, _step_url("expression", draft))
        elif not request.htmx:  # htmx swaps 2xx answers only; the errors are in the page either way
            status = 422
    else:
        initial = _date_initial(draft)
        if not initial["field"] and candidates:
            initial["field"] = candidates[0]["path"]
        if not initial["format"] and candidates:
            chosen = next((c for c in candidates if c["path"] == initial["field"]), candidates[0])
            initial["format"] = chosen["format"]
        form = DateForm(initial=initial)
    spec = draft.definition.get("date") or {}
    field_preview = None
    if spec.get("mode") == DateMode.FIELD and spec.get("field") and spec.get("format") and draft.response is not None:
        field_preview = _field_preview(draft, spec, tz)
    context.update(
        {
            "form": form,
            "candidates": candidates,
            "field_preview": field_preview,
            "formats": [(fmt, dates.FORMAT_LABELS[fmt], dates.example(fmt)) for fmt in dates.FORMATS],
        }
    )
    return render(request, "builder/wizard/date.html", context, status=status)


def _field_preview(draft: Draft, spec: dict, tz: str) -> dict:
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


# ---------------------------------------------------------------- step 3: JSONata


def _suggestion(draft: Draft) -> str:
    spec = draft.definition.get("date") or {}
    connection = _connection(draft.definition.get("connection"))
    if draft.response is not None:
        records_path, records = dates.find_records(draft.response)
    else:
        records_path, records = ("result" if _is_vtiger(connection) else None), []
    date_field = spec.get("field") if spec.get("mode") == DateMode.FIELD else None
    numeric = [name for name in transform.numeric_fields(records) if name != date_field]
    value_field = numeric[0] if numeric else None
    try:
        return transform.suggest_expression(records_path, value_field, date_field)
    except ValueError:
        return transform.suggest_expression(records_path, None, None, "count")


def _result_text(result: Any, limit: int = 20_000) -> str:
    """The result as indented JSON, its first items only: indenting makes json use its slow encoder."""
    shown, more = result, 0
    if isinstance(result, list) and len(result) > DATAPOINT_ROWS:
        shown, more = list(result[:DATAPOINT_ROWS]), len(result) - DATAPOINT_ROWS
    text = json.dumps(shown, ensure_ascii=False, indent=2, default=lambda _: "<function>")
    if len(text) > limit:
        text = text[:limit] + "\n…"
    return text + (f"\n… and {more:,} more items" if more else "")


def evaluation(draft: Draft, expression: str, tz: str) -> dict:
    """Evaluate against the stored response (never upstream): result, datapoints, or the error."""
    out: dict[str, Any] = {"expression": expression}
    if draft.response is None:
        out["error"] = {
            "code": "NO_RESPONSE",
            "message": "There is no response to evaluate yet: go back to step 1 and press Send request.",
        }
        return out
    spec = draft.definition.get("date") or {}
    mode = spec.get("mode") or "none"
    size = (draft.response_meta or {}).get("size_bytes")
    try:
        # The response already passed the client's size cap; its size on the wire stands in for
        # measuring it again (a 5 MB response costs ~30 ms to serialise just to be measured).
        result = transform.evaluate(
            expression,
            draft.response,
            max_input_bytes=max(transform.DEFAULT_MAX_INPUT_BYTES, preview.preview_max_bytes()),
            input_bytes=size if isinstance(size, int) and size > 0 else None,
        )
    except transform.ExpressionError as exc:
        out["error"] = {"code": exc.code, "message": exc.message, "position": exc.position}
        return out
    out["result"] = _result_text(result)
    try:
        points = transform.to_datapoints(result, mode)
    except transform.ShapeError as exc:
        out["error"] = {"code": "SHAPE", "message": str(exc), "position": None}
        return out
    rows = []
    for point in points[:DATAPOINT_ROWS]:
        row = {"value": point.value, "dimension": point.dimension, "date": "", "raw_date": point.date}
        if mode == DateMode.FIELD and point.date is not None:
            try:
                moment = dates.parse(point.date, spec.get("format") or dates.ISO, spec.get("timezone") or "UTC")
                row["date"] = dates.display(moment, tz)
            except (dates.DateParseError, ValueError) as exc:
                row["date_error"] = str(exc)
        elif mode == DateMode.DYNAMIC:
            row["date"] = "the time of each sync"
        rows.append(row)
    out["datapoints"] = rows
    out["count"] = len(points)
    out["total"] = sum(point.value for point in points)
    out["more"] = max(0, len(points) - DATAPOINT_ROWS)
    return out


@member_required
@require_http_methods(["GET", "POST"])
def expression_step(request, draft):
    draft = _draft(request, draft)
    state = _wizard_state(draft)
    status = 200
    if request.method == "POST":
        expression = request.POST.get("expression", "")
        draft.definition["expression"] = expression
        draft.save()
        action = request.POST.get("action", "")
        if action == "back":
            return _done(request, _step_url("date", draft))
        form = ExpressionForm(request.POST)
        result = evaluation(draft, expression, _user_tz(request)) if form.is_valid() else None
        if action == "next" and result is not None:
            blocking = result.get("error") and result["error"]["code"] != "NO_RESPONSE"
            if not blocking:
                return _done(request, _step_url("name", draft))
            status = 422
        elif result is None:
            status = 422
    else:
        expression = draft.definition.get("expression") or ""
        suggestion = _suggestion(draft)
        # Regenerate while the analyst has not changed the generated text (steps 1-2 may have changed).
        if not expression.strip() or expression == state.get("suggested"):
            expression = suggestion
            draft.definition["expression"] = expression
        state["suggested"] = suggestion
        draft.save()
        form = ExpressionForm(initial={"expression": expression})
        result = evaluation(draft, expression, _user_tz(request)) if expression.strip() else None
    context = _base_context(request, draft, "expression")
    context.update({"form": form, "evaluation": result, "suggested": state.get("suggested")})
    return render(request, "builder/wizard/expression.html", context, status=status)


@member_required
@require_POST
def evaluate(request, draft):
    draft = _draft(request, draft)
    expression = request.POST.get("expression", "")
    draft.definition["expression"] = expression
    draft.save(update_fields=["definition", "updated_at"])
    result = evaluation(draft, expression, _user_tz(request)) if expression.strip() else None
    context = {"evaluation": result, "draft": draft}
    return render(request, "builder/wizard/expression.html#evaluation", context)


# ---------------------------------------------------------------- step 4: name, and save


def _name_initial(draft: Draft) -> dict:
    definition = draft.definition
    return {key: definition.get(key, "") for key in ("name", "description", "aggregation", "number_format")} | {
        "favourable_trend": definition.get("favourable_trend") or "up"
    }


def _store_name(draft: Draft, data) -> None:
    for key in ("name", "description", "aggregation", "number_format", "favourable_trend"):
        if key in data:
            draft.definition[key] = data.get(key, "").strip() if key == "name" else data.get(key, "")


@member_required
@require_http_methods(["GET", "POST"])
def name_step(request, draft):
    draft = _draft(request, draft)
    status = 200
    if request.method == "POST":
        _store_name(draft, request.POST)
        draft.save()
        if request.POST.get("action") == "back":
            return _done(request, _step_url("expression", draft))
        form = NameForm(request.POST, metric=draft.metric)
        if form.is_valid():
            return _done(request, _step_url("name", draft))
        status = 422
    else:
        form = NameForm(initial=_name_initial(draft), metric=draft.metric)
    context = _base_context(request, draft, "name")
    context.update({"form": form})
    return render(request, "builder/wizard/name.html", context, status=status)


def _definition_errors(draft: Draft) -> tuple[dict, list[tuple[str, str]]]:
    definition = clean_definition(draft.definition)
    request_spec = definition.get("request") or {}
    # Empty Key/Value rows are kept in the draft while editing; they are not part of a metric.
    for kind in ("params", "headers"):
        request_spec[kind] = [pair for pair in request_spec.get(kind) or [] if pair[0] or pair[1]]
    spec = definition.get("date") or {}
    if not spec.get("field"):
        spec.pop("field", None)
    return definitions.validate(definition, connection_lookup=definitions.by_uuid)


STEP_OF_FIELD = {"request": "request", "connection": "request", "date": "date", "expression": "expression"}


@member_required
@require_POST
def save(request, draft):
    draft = _draft(request, draft)
    _store_name(draft, request.POST)
    draft.save()
    form = NameForm(request.POST, metric=draft.metric)
    problems: list[tuple[str, str]] = []
    if form.is_valid():
        cleaned, problems = _definition_errors(draft)
        if not problems:
            with transaction.atomic():
                metric = draft.metric
                if metric is None:
                    metric = definitions.to_metric(cleaned, owner=request.user)
                else:
                    definitions.apply_to_metric(metric, cleaned)
                metric.save()
                draft.delete()
            return _done(request, reverse("builder:metric", args=[metric.uuid]))
    context = _base_context(request, draft, "name")
    context.update(
        {
            "form": form,
            "problems": [
                (path or "definition", message, _step_url(STEP_OF_FIELD.get(path.split(".")[0], "name"), draft))
                for path, message in problems
            ],
        }
    )
    return render(request, "builder/wizard/name.html", context, status=422)
