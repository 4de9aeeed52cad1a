"""A metric's alerts: their status and history, create, edit and delete one.

The panel is one page that htmx refreshes in place (``alerts.html#panel``); without JavaScript
the same forms post and redirect back.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render

from accounts.roles import may_change, member_required
from builder.models import Metric
from dashboards import alerts as alert_service
from dashboards.forms import AlertForm
from dashboards.models import Alert, AlertEvent

HISTORY = 10  # events shown per alert


def can_manage(user, alert) -> bool:
    return may_change(user, alert.created_by_id)


def _panel(request, metric, form=None, status=200):
    events = AlertEvent.objects.order_by("-created_at", "-pk")
    rows = []
    for alert in metric.alerts.select_related("created_by").prefetch_related(Prefetch("events", queryset=events)):
        history = list(alert.events.all())
        rows.append(
            {
                "alert": alert,
                "subject": alert_service.subject(alert),
                "rule": alert_service.describe(alert),
                "history": history[:HISTORY],
                "more": max(len(history) - HISTORY, 0),
                "can_manage": can_manage(request.user, alert),
            }
        )
    context = {"metric": metric, "rows": rows, "form": form or AlertForm(metric=metric)}
    template = "dashboards/alerts/alerts.html#panel" if request.htmx else "dashboards/alerts/alerts.html"
    return render(request, template, context, status=status)


@member_required
def alert_list(request, uuid):
    """The alerts on a metric; POST creates one (and evaluates it at once, so it has a status)."""
    metric = get_object_or_404(Metric, uuid=uuid)
    if request.method != "POST":
        return _panel(request, metric)
    form = AlertForm(request.POST, metric=metric)
    if not form.is_valid():
        return _panel(request, metric, form)
    alert = form.save(commit=False)
    alert.metric = metric
    alert.created_by = request.user
    alert.save()
    alert_service.evaluate(alert)
    messages.success(request, f"Alert added: {alert_service.subject(alert)} {alert_service.describe(alert)}.")
    if request.htmx:
        return _panel(request, metric)
    return redirect("dashboards:alerts", uuid=metric.uuid)


def _managed_alert(request, uuid, alert_id, verb):
    """(metric, alert) when the user may ``verb`` the alert: its creator or an admin."""
    metric = get_object_or_404(Metric, uuid=uuid)
    alert = get_object_or_404(Alert, pk=alert_id, metric=metric)
    if not can_manage(request.user, alert):
        raise PermissionDenied(f"Only the person who set this alert, or an admin, can {verb} it.")
    return metric, alert


@member_required
def alert_edit(request, uuid, alert):
    """Change an alert's rule; a changed rule starts afresh (evaluated at once, told if it holds)."""
    metric, alert = _managed_alert(request, uuid, alert, "change")
    form = AlertForm(request.POST or None, instance=alert, metric=metric)
    if request.method != "POST" or not form.is_valid():
        status = 400 if request.method == "POST" else 200
        return render(request, "dashboards/alerts/edit.html", {"metric": metric, "form": form}, status=status)
    if form.has_changed():
        alert = form.save(commit=False)
        alert.triggered = False  # the old rule's episode is over; the new rule's starts if it holds
        alert.save()
        alert_service.evaluate(alert)
        messages.success(request, f"Alert changed: {alert_service.subject(alert)} {alert_service.describe(alert)}.")
    return redirect("dashboards:alerts", uuid=metric.uuid)


@member_required
def alert_delete(request, uuid, alert):
    """GET asks for confirmation; POST deletes (and the metric's use goes with it)."""
    metric, alert = _managed_alert(request, uuid, alert, "delete")
    if request.method != "POST":
        context = {
            "metric": metric,
            "alert": alert,
            "subject": alert_service.subject(alert),
            "rule": alert_service.describe(alert),
        }
        return render(request, "dashboards/alerts/delete.html", context)
    alert.delete()
    messages.success(request, "Alert deleted.")
    if request.htmx:
        return _panel(request, metric)
    return redirect("dashboards:alerts", uuid=metric.uuid)
