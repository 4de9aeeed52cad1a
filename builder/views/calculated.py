"""New calculated metric and its Edit: a metric made from up to five metrics and a formula.

Members only, like every metric page. The form and its checks are ``builder.calculated_forms``;
Delete is the metric's own (``builder.views.metrics.metric_delete``), which refuses to delete a
metric while a calculated metric needs it.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from accounts.roles import member_required
from builder import signals
from builder.calculated_forms import CalculatedMetricForm
from builder.models import Kind, Metric


def _save(request, form, metric):
    try:
        with transaction.atomic():
            created = metric.pk is None
            form.apply(metric).save()
            metric.set_inputs(form.pairs)
            # syncs puts the inputs in use when the metric is (builder.signals).
            signals.metric_saved.send(sender=Metric, metric=metric, created=created, user=request.user)
    except ValidationError as exc:
        for message in exc.messages:
            form.add_error(None, message)
        return None
    return metric


@member_required
@require_http_methods(["GET", "POST"])
def calculated_new(request):
    form = CalculatedMetricForm(request.POST or None, initial={"favourable_trend": "up", "number_format": "number"})
    if request.method == "POST" and form.is_valid():
        metric = _save(request, form, Metric(owner=request.user, kind=Kind.CALCULATED))
        if metric is not None:
            messages.success(request, f"Created the calculated metric “{metric.name}”.")
            return redirect("builder:metric", uuid=metric.uuid)
    context = {"form": form, "metric": None, "has_metrics": bool(form.candidates)}
    return render(request, "builder/calculated/form.html", context, status=400 if form.errors else 200)


@member_required
@require_http_methods(["GET", "POST"])
def calculated_edit(request, uuid):
    metric = get_object_or_404(Metric, uuid=uuid, kind=Kind.CALCULATED)
    form = CalculatedMetricForm(request.POST or None, metric=metric, initial=CalculatedMetricForm.initial_for(metric))
    if request.method == "POST" and form.is_valid() and _save(request, form, metric) is not None:
        messages.success(request, f"Saved “{metric.name}”.")
        return redirect("builder:metric", uuid=metric.uuid)
    context = {"form": form, "metric": metric, "has_metrics": True}
    return render(request, "builder/calculated/form.html", context, status=400 if form.errors else 200)
