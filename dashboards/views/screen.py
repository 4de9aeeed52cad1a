"""Reading metrics: the Metrics screen and each metric's chart, table, CSV and JSON."""

from datetime import UTC

from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, render

from accounts.roles import member_required
from builder import timeframes
from builder.models import Metric
from dashboards import exports, queries, reading
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


@member_required
def metric_reading(request, uuid):
    """The metric page's chart and table over a range; a fragment for htmx, a page otherwise."""
    metric = get_object_or_404(Metric, uuid=uuid)
    form, current = _range(request)
    by = request.GET.get("by") if request.GET.get("by") in queries.BY[1:] else None
    summary = reading.summarise(metric, current, by=by)
    context = {"metric": metric, "form": form, "summary": summary, "range": current}
    if request.htmx:
        return render(request, "dashboards/reading.html#reading", context)
    return render(request, "dashboards/reading.html", context)


def _datapoints(metric, current):
    return queries.datapoints(metric, current)


@member_required
def metric_csv(request, uuid):
    metric = get_object_or_404(Metric, uuid=uuid)
    form, current = _range(request)
    if bad := _bad_range(form):
        return bad
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    # The name is user text: no control characters in the header, no formulas in the cells.
    response["Content-Disposition"] = exports.attachment(
        f"{metric.name}-{current.first_day}-{current.last_day}", "csv", fallback="metric"
    )
    writer = exports.writer(response)
    if queries.is_calendar(metric):  # calendar dates: the date itself, the same in every zone
        writer.writerow(["date", "value", "dimension"])
        for point in _datapoints(metric, current).iterator():
            writer.writerow([point.timestamp.astimezone(UTC).date().isoformat(), point.value, point.dimension])
        return response
    if exports.is_utc(current.zone_name):  # a UTC viewer: one timestamp column, not the same one twice
        writer.writerow(["timestamp_utc", "value", "dimension"])
        for point in _datapoints(metric, current).iterator():
            writer.writerow([point.timestamp.isoformat(), point.value, point.dimension])
        return response
    writer.writerow(["timestamp_utc", f"timestamp_{current.zone_name}", "value", "dimension"])
    for point in _datapoints(metric, current).iterator():
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
    """The datapoints in a range, for scripts in a signed-in browser session."""
    metric = get_object_or_404(Metric, uuid=uuid)
    form, current = _range(request)
    if bad := _bad_range(form):
        return bad
    if queries.is_calendar(metric):
        when = ("date", lambda p: p.timestamp.astimezone(UTC).date().isoformat())
    else:
        when = ("timestamp", lambda p: p.timestamp.isoformat())
    points = [{when[0]: when[1](p), "value": p.value, "dimension": p.dimension} for p in _datapoints(metric, current)]
    return JsonResponse(
        {"metric": metric.name, "date_kind": metric.date_kind, "range": current.as_dict(), "datapoints": points}
    )
