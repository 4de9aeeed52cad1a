"""Reading metrics: the Metrics screen and each metric's chart, table, CSV and JSON."""

from datetime import UTC

from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, render

from accounts.roles import member_required
from builder import timeframes
from builder.models import Metric
from dashboards import breakdowns, exports, queries, reading
from dashboards.forms import range_form
from syncs.models import Use


def _range(request):
    form = range_form(request)
    return form, form.resolve(timeframes.user_zone(request.user))


def _bad_range(form):
    """A 400 saying what is wrong with a download's range, or None: a file of another range would mislead."""
    if not form.is_bound or form.is_valid():
        return None
    problems = " ".join(message for messages in form.errors.values() for message in messages)
    return HttpResponseBadRequest(f"The date range is not valid: {problems}", content_type="text/plain; charset=utf-8")


@member_required
def metrics_screen(request):
    form, current = _range(request)
    # One screen use per metric (Use is unique per metric, kind and ref), so no DISTINCT;
    # the tile shows the sync state (paused or not), nothing of the connection.
    on_screen = (
        Metric.objects.filter(uses__kind=Use.Kind.SCREEN, uses__ref="").select_related("sync_state").order_by("name")
    )
    summaries = reading.summarise_many(on_screen, current)
    # Only the empty state needs to know whether any metric exists at all.
    has_metrics = bool(summaries) or Metric.objects.exists()
    context = {"form": form, "range": current, "summaries": summaries, "has_metrics": has_metrics}
    if request.htmx:
        return render(request, "dashboards/screen.html#tiles", context)
    return render(request, "dashboards/screen.html", context)


def _dimension(request, metric):
    """``(key, label, problem)`` of the ``?dimension=`` asked for: ("", "", "") when none; an unknown
    key is refused in words (and the page shows every dimension)."""
    key = request.GET.get("dimension", "")
    if not key:
        return "", "", ""
    known = dict(breakdowns.dimensions(metric))
    if key not in known:
        return "", "", f"“{key}” is not a dimension of {metric.name}: showing all its dimensions."
    return key, known[key], ""


@member_required
def metric_reading(request, uuid):
    """The metric page's chart and table over a range, by dimension when it has several, or one
    dimension alone (``?dimension=KEY``); a fragment for htmx, a page otherwise."""
    metric = get_object_or_404(Metric.objects.select_related("connection"), uuid=uuid)
    form, current = _range(request)
    by = request.GET.get("by") if request.GET.get("by") in queries.BY[1:] else None
    dimension, dimension_label, dimension_problem = _dimension(request, metric)
    table = stacked = None
    if dimension:
        summary = breakdowns.summarise_dimension(metric, current, dimension, by=by)
    else:
        summary = reading.summarise(metric, current, by=by)
        table = breakdowns.breakdown(metric, current, comparable=summary.comparison.comparable)
        if table.several:
            stacked = breakdowns.series_by_dimension(metric, current, summary.by)
    context = {
        "metric": metric,
        "form": form,
        "summary": summary,
        "range": current,
        "dimension": dimension,
        "dimension_label": dimension_label,
        "dimension_problem": dimension_problem,
        "breakdown": table if table and table.several else None,
        "stacked": stacked,
    }
    if request.htmx:
        return render(request, "dashboards/reading.html#reading", context)
    return render(request, "dashboards/reading.html", context)


def _export_dimension(request, metric):
    """``(key, problem)``: the ``?dimension=`` of a download ("" for every dimension), or a 400 saying
    what is wrong: a file of another selection would mislead."""
    key = request.GET.get("dimension", "")
    if key and key not in dict(breakdowns.dimensions(metric)):
        problem = f"“{key}” is not a dimension of {metric.name}. Leave dimension out for every dimension."
        return key, HttpResponseBadRequest(problem, content_type="text/plain; charset=utf-8")
    return key, None


def _by_dimension(request) -> bool:
    return request.GET.get("by_dimension", "") not in ("", "0", "false")


def _datapoints(metric, current, dimension=""):
    points = queries.datapoints(metric, current)
    return points.filter(dimension=dimension) if dimension else points


def _export_name(metric, current, dimension, by_dimension):
    part = " by dimension" if by_dimension else f" {dimension}" if dimension else ""
    return f"{metric.name}{part}-{current.first_day}-{current.last_day}"


def _download_checks(request, uuid):
    """``(metric, current, dimension, by_dimension, None)`` for a download, or a 400 response last."""
    metric = get_object_or_404(Metric.objects.select_related("connection"), uuid=uuid)
    form, current = _range(request)
    if bad := _bad_range(form):
        return metric, current, "", False, bad
    by_dimension = _by_dimension(request)
    dimension, bad = ("", None) if by_dimension else _export_dimension(request, metric)
    return metric, current, dimension, by_dimension, bad


@member_required
def metric_csv(request, uuid):
    """The datapoints in a range (of one dimension with ``?dimension=``), or with ``?by_dimension=1``
    one row per dimension with its value, previous value and change."""
    metric, current, dimension, by_dimension, bad = _download_checks(request, uuid)
    if bad:
        return bad
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    # The name is user text: no control characters in the header, no formulas in the cells.
    response["Content-Disposition"] = exports.attachment(
        _export_name(metric, current, dimension, by_dimension), "csv", fallback="metric"
    )
    writer = exports.writer(response)
    currency = exports.currency_code(metric)
    if by_dimension:
        table = breakdowns.breakdown(metric, current, top=None)
        writer.writerow(exports.breakdown_header(currency))
        writer.writerows(exports.breakdown_rows(table))
        return response
    value = exports.value_column("value", currency)
    if queries.is_calendar(metric):  # calendar dates: the date itself, the same in every zone
        writer.writerow(["date", value, "dimension"])
        for point in _datapoints(metric, current, dimension).iterator():
            writer.writerow([point.timestamp.astimezone(UTC).date().isoformat(), point.value, point.dimension])
        return response
    if exports.is_utc(current.zone_name):  # a UTC viewer: one timestamp column, not the same one twice
        writer.writerow(["timestamp_utc", value, "dimension"])
        for point in _datapoints(metric, current, dimension).iterator():
            writer.writerow([point.timestamp.isoformat(), point.value, point.dimension])
        return response
    writer.writerow(["timestamp_utc", f"timestamp_{current.zone_name}", value, "dimension"])
    for point in _datapoints(metric, current, dimension).iterator():
        writer.writerow(
            [
                point.timestamp.isoformat(),
                point.timestamp.astimezone(current.tz).isoformat(),
                point.value,
                point.dimension,
            ]
        )
    return response


@member_required
def metric_json(request, uuid):
    """The datapoints in a range (of one dimension with ``?dimension=``), or with ``?by_dimension=1``
    the value of each dimension, for scripts in a signed-in browser session."""
    metric, current, dimension, by_dimension, bad = _download_checks(request, uuid)
    if bad:
        return bad
    about = {
        "metric": metric.name,
        "date_kind": metric.date_kind,
        "number_format": metric.number_format,
        "currency": exports.currency_code(metric),
        "range": current.as_dict(),
    }
    if by_dimension:
        table = breakdowns.breakdown(metric, current, top=None)
        return JsonResponse({**about, **exports.breakdown_json(table)})
    if queries.is_calendar(metric):
        when = ("date", lambda p: p.timestamp.astimezone(UTC).date().isoformat())
    else:
        when = ("timestamp", lambda p: p.timestamp.isoformat())
    points = [
        {when[0]: when[1](p), "value": p.value, "dimension": p.dimension}
        for p in _datapoints(metric, current, dimension)
    ]
    return JsonResponse({**about, "dimension": dimension or None, "datapoints": points})
