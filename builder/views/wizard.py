"""The Metric Builder wizard: one URL per step on a persisted draft.

Every step is a plain HTML form (the Django test client drives it without JavaScript); htmx
makes parts live by posting the same form and swapping a fragment (template partials). Each
POST first stores what was entered on the draft, valid or not, so nothing typed is ever lost
and Back keeps everything. The views read the request and choose the response; what a step
changes on the draft, and saving it, is ``builder.steps``.
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.roles import member_required
from builder import dates, keyvalue, preview, steps, timeframes, wizard_drafts
from builder.forms import DateForm, ExpressionForm, NameForm, RequestForm
from builder.models import ClosedDraft, DateMode, Draft
from builder.wizard_drafts import close_draft, new_draft
from connections.models import Connection

STEPS = (
    ("request", "Prepare API Request"),
    ("date", "Date field"),
    ("expression", "JSONata"),
    ("name", "Name your metric"),
)


# ---------------------------------------------------------------- helpers


class DraftClosed(Exception):
    """The draft was saved or discarded: its views answer with a redirect (see ``_closed_drafts_lead_on``)."""

    def __init__(self, closed: ClosedDraft):
        super().__init__(str(closed.uuid))
        self.closed = closed


def _draft(request, uuid, lock=False, without_response=False) -> Draft:
    """The current user's draft; DraftClosed once saved or discarded; else 404 (another user's draft
    does not exist for you). ``lock``: the row locked for this transaction (a second Save waits).
    ``without_response``: the stored response is left in the database until read (``steps.stored_response``)."""
    drafts = Draft.objects.select_for_update() if lock else Draft.objects.select_related("metric")
    if without_response:
        drafts = drafts.defer("response")
    draft = drafts.filter(uuid=uuid, owner=request.user).first()
    if draft is None:
        closed = ClosedDraft.objects.select_related("metric").filter(uuid=uuid, owner=request.user).first()
        if closed is not None:
            raise DraftClosed(closed)
        get_object_or_404(Draft, uuid=uuid, owner=request.user)  # the 404 itself
    return draft


def _closed_drafts_lead_on(view):
    """A saved or discarded draft's URLs lead to its metric (or the Builder) with a message, never
    a 404, and a second Save of it cannot make a second metric. Step pages are not kept by the
    browser (``no-store``), so Back after Save asks again and is sent on."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            response = view(request, *args, **kwargs)
        except DraftClosed as exc:
            return _closed_response(request, exc.closed)
        if request.method == "GET":
            response["Cache-Control"] = "no-store"
        return response

    return wrapper


def _closed_response(request, closed: ClosedDraft):
    metric = closed.metric
    if closed.outcome == ClosedDraft.Outcome.SAVED:
        if metric is not None:
            messages.info(request, f"This draft was already saved as “{metric.name}”: here it is.")
            return _done(request, reverse("builder:metric", args=[metric.uuid]))
        messages.warning(
            request, f"This draft was saved as “{closed.metric_name}”, which has since been deleted. Start a new one."
        )
        return _done(request, reverse("builder:start"))
    if metric is not None:
        messages.info(request, f"That draft was discarded: “{metric.name}” is as it was last saved.")
        return _done(request, reverse("builder:metric", args=[metric.uuid]))
    messages.info(request, "That draft was discarded. Start a new one here.")
    return _done(request, reverse("builder:start"))


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
    connection = steps.connection_by_uuid(definition.get("connection"))
    return {
        "draft": draft,
        "definition": definition,
        "connection": connection,
        "integration": connection.integration_module if connection else None,
        "steps": [(name, label, _step_url(name, draft)) for name, label in STEPS],
        "step": step,
        "user_tz": timeframes.user_zone(request.user),
        **_response_context(request, draft),
    }


# ---------------------------------------------------------------- start


@member_required
@require_http_methods(["GET", "POST"])
def start(request):
    connections = list(Connection.objects.order_by("name"))
    if request.method == "POST":
        connection = steps.connection_by_uuid(request.POST.get("connection"))
        if connection is None:
            drafts = Draft.objects.filter(owner=request.user).order_by("-updated_at")
            return render(
                request,
                "builder/wizard/start.html",
                {
                    "connections": connections,
                    "drafts": drafts,
                    "draft_max_age_days": settings.DRAFT_MAX_AGE_DAYS,
                    "error": "Choose a connection to start from.",
                },
                status=400,
            )
        draft = new_draft(request.user, connection)
        return HttpResponseRedirect(_step_url("request", draft))
    drafts = Draft.objects.filter(owner=request.user).select_related("metric").order_by("-updated_at")[:20]
    context = {"connections": connections, "drafts": drafts, "draft_max_age_days": settings.DRAFT_MAX_AGE_DAYS}
    return render(request, "builder/wizard/start.html", context)


@member_required
@require_POST
@_closed_drafts_lead_on
def discard(request, draft):
    """Throw a draft away; a metric it was editing stays as it was saved."""
    close_draft(_draft(request, draft), ClosedDraft.Outcome.DISCARDED)
    messages.success(request, "Draft discarded.")
    return HttpResponseRedirect(reverse("builder:start"))


# ---------------------------------------------------------------- step 1: Prepare API Request


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
            "vtql": steps.vtql_context(draft, connection),
            "vtql_hints": steps.vtql_hints(draft, connection),
            "placeholder_preview": steps.placeholder_preview(draft, connection, timeframes.user_zone(request.user)),
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
    """Apply the posted row buttons, store the step on the draft (with its helper button); (form, fragment)."""
    data = request.POST
    connection = steps.connection_by_uuid(data.get("connection")) or steps.connection_by_uuid(
        draft.definition.get("connection")
    )
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
    rows = steps.store_request(draft, data, rows, header_rows, connection)
    action = data.get("action", "")
    form = RequestForm(data, connection=connection, rows=rows, header_rows=header_rows)
    if fragment is None and (action.startswith("vtql-") or action == "refresh"):
        form = _unbound_request_form(draft, connection, rows, header_rows)
    return form, fragment


def _unbound_request_form(draft, connection, rows=None, header_rows=None) -> RequestForm:
    definition = draft.definition
    return RequestForm(
        initial=steps.request_initial(draft),
        connection=connection,
        rows=rows if rows is not None else steps.rows_of(definition, "params"),
        header_rows=header_rows if header_rows is not None else steps.rows_of(definition, "headers"),
    )


@member_required
@require_http_methods(["GET", "POST"])
@_closed_drafts_lead_on
def request_step(request, draft):
    draft = _draft(request, draft)
    if request.method == "GET":
        connection = steps.connection_by_uuid(draft.definition.get("connection"))
        steps.open_request_step(draft, connection)
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
            steps.apply_cleaned_request(draft, form)
            return _done(request, _step_url("date", draft))
        return _render_request(request, draft, form, status=422 if not request.htmx else 200)
    return _render_request(request, draft, form)


@member_required
@require_POST
@_closed_drafts_lead_on
def send(request, draft):
    draft = _draft(request, draft)
    form, _ = _read_request_post(request, draft)
    if not form.is_valid():
        return _render_request(request, draft, form, status=200 if request.htmx else 422)
    steps.apply_cleaned_request(draft, form)
    preview.send_for_draft(draft, form.conn, timeframes.user_zone(request.user))
    if request.htmx:
        return _render_request(request, draft, _unbound_request_form(draft, form.conn))
    return HttpResponseRedirect(_step_url("request", draft) + "#response")


# ---------------------------------------------------------------- step 2: date field


@member_required
@require_http_methods(["GET", "POST"])
@_closed_drafts_lead_on
def date_step(request, draft):
    draft = _draft(request, draft)
    context = _base_context(request, draft, "date")
    connection = context["connection"]
    tz = timeframes.user_zone(request.user)
    candidates = steps.date_candidates(draft, steps.naive_zone(draft, connection), tz)
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        form = DateForm(request.POST)
        valid = action != "back" and form.is_valid()  # Back keeps what was typed, unchecked
        steps.store_date(draft, request.POST, form.cleaned_data if valid else None)
        if action == "back":
            return _done(request, _step_url("request", draft))
        if valid:
            if action == "next":
                return _done(request, _step_url("expression", draft))
        elif not request.htmx:  # htmx swaps 2xx answers only; the errors are in the page either way
            status = 422
    else:
        steps.open_date_step(draft, candidates)
        initial = steps.date_initial(draft)
        if not initial["field"] and candidates:
            initial["field"] = candidates[0]["path"]
        if not initial["format"] and candidates:
            chosen = next((c for c in candidates if c["path"] == initial["field"]), candidates[0])
            initial["format"] = chosen["format"]
        form = DateForm(initial=initial)
    spec = draft.definition.get("date") or {}
    field_preview = None
    if spec.get("mode") == DateMode.FIELD and spec.get("field") and spec.get("format") and draft.response is not None:
        field_preview = steps.field_preview(draft, spec, tz)
    context.update(
        {
            "form": form,
            "candidates": candidates,
            "field_preview": field_preview,
            "formats": [(fmt, dates.FORMAT_LABELS[fmt], dates.example(fmt)) for fmt in dates.FORMATS],
        }
    )
    return render(request, "builder/wizard/date.html", context, status=status)


# ---------------------------------------------------------------- step 3: JSONata


@member_required
@require_http_methods(["GET", "POST"])
@_closed_drafts_lead_on
def expression_step(request, draft):
    draft = _draft(request, draft)
    status = 200
    if request.method == "POST":
        # The error's fix button (without JavaScript it posts the corrected expression as "fix").
        expression = request.POST.get("fix") or request.POST.get("expression", "")
        steps.store_expression(draft, expression)
        action = request.POST.get("action", "")
        if action == "back":
            return _done(request, _step_url("date", draft))
        choices = steps.breakdown_choices(draft)
        # Only "Apply" changes the breakdown; the other buttons keep the draft's.
        breakdown = request.POST.get("breakdown", "") if action == "breakdown" else wizard_drafts.breakdown_field(draft)
        posted = {"expression": expression, "breakdown": breakdown}
        form = ExpressionForm(posted, breakdown_choices=choices)
        valid = form.is_valid()
        if action == "breakdown" and "breakdown" not in form.errors:
            # The generated expression is written again with the choice (a hand-edited one is kept).
            wizard_drafts.choose_breakdown(draft, form.cleaned_data["breakdown"])
            draft.save()
            return _done(request, _step_url("expression", draft))
        result = steps.evaluation(draft, expression, timeframes.user_zone(request.user)) if valid else None
        if action == "breakdown":
            status = 422
        elif action == "next" and result is not None:
            blocking = result.get("error") and result["error"]["code"] != "NO_RESPONSE"
            if not blocking:
                return _done(request, _step_url("name", draft))
            status = 422
        elif result is None:
            status = 422
    else:
        connection = steps.connection_by_uuid(draft.definition.get("connection"))
        tz = timeframes.user_zone(request.user)
        expression = steps.open_expression_step(draft, connection, tz)
        form = ExpressionForm(
            initial={"expression": expression, "breakdown": wizard_drafts.breakdown_field(draft)},
            breakdown_choices=steps.breakdown_choices(draft),
        )
        result = steps.evaluation(draft, expression, tz) if expression.strip() else None
    context = _base_context(request, draft, "expression")
    context.update({"form": form, "evaluation": result, "suggested": steps.wizard_state(draft).get("suggested")})
    return render(request, "builder/wizard/expression.html", context, status=status)


@member_required
@require_POST
@_closed_drafts_lead_on
def evaluate(request, draft):
    """The live editor's evaluation, on each pause in typing: what was typed is saved, and evaluated
    against the stored response, which this process reads from the database once per Send."""
    draft = _draft(request, draft, without_response=True)
    expression = request.POST.get("expression", "")
    steps.store_typed_expression(draft, expression)
    result = steps.evaluation(draft, expression, timeframes.user_zone(request.user)) if expression.strip() else None
    context = {"evaluation": result, "draft": draft}
    return render(request, "builder/wizard/expression.html#evaluation", context)


# ---------------------------------------------------------------- step 4: name, and save


def _render_name(request, draft: Draft, form: NameForm, status=200, problems=()):
    context = _base_context(request, draft, "name")
    context.update(
        {
            "form": form,
            "offer_screen": draft.metric_id is None,
            "add_to_screen": steps.adds_to_screen(draft),
            "problems": [
                (path or "definition", message, _step_url(STEP_OF_FIELD.get(path.split(".")[0], "name"), draft))
                for path, message in problems
            ],
        }
    )
    return render(request, "builder/wizard/name.html", context, status=status)


@member_required
@require_http_methods(["GET", "POST"])
@_closed_drafts_lead_on
def name_step(request, draft):
    draft = _draft(request, draft)
    status = 200
    if request.method == "POST":
        steps.store_name(draft, request.POST)
        if request.POST.get("action") == "back":
            return _done(request, _step_url("expression", draft))
        form = NameForm(request.POST, metric=draft.metric)
        if form.is_valid():
            return _done(request, _step_url("name", draft))
        status = 422
    else:
        form = NameForm(initial=steps.name_initial(draft), metric=draft.metric)
    return _render_name(request, draft, form, status=status)


STEP_OF_FIELD = {"request": "request", "connection": "request", "date": "date", "expression": "expression"}


def _saved_message(saved: steps.Saved) -> str:
    name = saved.metric.name
    if not saved.created:
        return f"Saved your changes to “{name}”."
    if saved.on_screen:
        return f"Saved “{name}”. It is on the Metrics screen and its first sync is on its way."
    return f"Saved “{name}”. It is not syncing yet: add it to the Metrics screen or a databoard to start."


@member_required
@require_POST
@_closed_drafts_lead_on
def save(request, draft):
    _draft(request, draft)  # 404 or the closed draft's redirect, before taking any lock
    with transaction.atomic():
        # Locked: a second Save of the same draft (a double click, Back and Save again) waits for
        # this one, then finds the draft closed and is sent to the metric, never making a second one.
        draft = _draft(request, draft, lock=True)
        steps.store_name(draft, request.POST)
        form = NameForm(request.POST, metric=draft.metric)
        problems: list[tuple[str, str]] = []
        if form.is_valid():
            saved, problems = steps.save_metric(draft, request.user)
            if saved is not None:
                messages.success(request, _saved_message(saved))
                return _done(request, reverse("builder:metric", args=[saved.metric.uuid]))
    return _render_name(request, draft, form, status=422, problems=problems)
