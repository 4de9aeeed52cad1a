"""Alerts: is a metric above, below, or moving by more than a percentage, and who to tell.

An alert reads its metric over its date range (a preset) in its creator's time zone, through
:mod:`dashboards.queries` (``aggregate``; ``value_and_previous`` for a change), so it sees the
value the Metrics screen shows that person. An alert on one dimension (``Alert.dimension``: "New
leads from Web Site this month below 50") reads that dimension's value alone through
:func:`dashboards.breakdowns.dimension_value`, and its messages name the dimension by its label.
The condition holds when:

* ``above``: the value is strictly greater than the threshold;
* ``below``: the value is strictly less than the threshold;
* ``change``: the change against the previous period (:func:`dashboards.comparison.compare`),
  in %, is at least the threshold in either direction (``|percent| >= threshold``).

A range without datapoints has no value, and a change from an empty or zero previous period
has no percentage: in both cases the condition does not hold (nothing to alert about, and
nothing divides by zero). Nor does a change against a previous period that reaches before the
metric's synced history (``syncs.history``): that value is a part of a period, not comparable.

Episodes
--------
``Alert.triggered`` is True while the condition holds. When it starts to hold, one
:class:`~dashboards.models.AlertEvent` is recorded and the creator is told once, by email
(HTML and text) and in the app, through :func:`notifications.models.notify`; later
evaluations while it keeps holding say nothing. When it stops holding the episode ends, and the
next crossing is a new episode. The switch is a conditional UPDATE, so two syncs finishing at
once cannot both start the same episode. An alert whose creator is gone tells the metric's owner.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from builder import timeframes
from dashboards import breakdowns, comparison, queries
from dashboards.models import Alert, AlertEvent
from dashboards.templatetags.metric_format import metric_value
from notifications import models as notifications
from syncs import history

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reading:
    """What one evaluation saw."""

    range: timeframes.Range
    value: float | int | None
    comparison: comparison.Comparison
    holds: bool


def recipient(alert: Alert):
    """Who is told: the alert's creator, or the metric's owner when the creator is gone."""
    return alert.created_by or alert.metric.owner


def holds(alert: Alert, value, compared: comparison.Comparison) -> bool:
    if alert.condition == Alert.Condition.CHANGE:
        return compared.percent is not None and abs(compared.percent) >= alert.threshold
    if value is None:
        return False
    if alert.condition == Alert.Condition.ABOVE:
        return value > alert.threshold
    return value < alert.threshold


def read(alert: Alert, now: datetime | None = None) -> Reading:
    """The alert's value, its comparison and whether the condition holds, without side effects."""
    now = now or datetime.now(UTC)
    current = timeframes.resolve(alert.date_range, timeframes.user_zone(recipient(alert)), now)
    change = alert.condition == Alert.Condition.CHANGE
    if alert.dimension:
        value, previous = breakdowns.dimension_value(alert.metric, current, alert.dimension, previous=change)
    elif change:
        value, previous = queries.value_and_previous(alert.metric, current)
    else:  # one query per sync and alert is enough
        value, previous = queries.aggregate(alert.metric, current), None
    # A change against a period before the synced history is no change: it never fires.
    comparable = alert.condition != Alert.Condition.CHANGE or comparison.comparable(
        history.of([alert.metric])[alert.metric.pk], timeframes.previous(current).start
    )
    compared = comparison.compare(value, previous, alert.metric.favourable_trend, comparable)
    return Reading(current, value, compared, holds(alert, value, compared))


def threshold_text(alert: Alert) -> str:
    if alert.condition == Alert.Condition.CHANGE:
        return f"{alert.threshold:g}%"
    return metric_value(alert.threshold, alert.metric.number_format, alert.metric.currency)


def subject(alert: Alert) -> str:
    """What the alert watches: the metric's name, and the dimension's label for one dimension
    ("New leads (Web Site)")."""
    return breakdowns.named(alert.metric, alert.dimension)


def describe(alert: Alert) -> str:
    """The rule in words: "goes above 10,000 (Today)"."""
    condition = alert.get_condition_display().split(" (")[0].lower()
    return f"{condition} {threshold_text(alert)} ({alert.get_date_range_display()})"


def message(alert: Alert, reading: Reading) -> str:
    """The plain-words news: "Deals won (amount) went above 10,000: 12,500 today"; for one
    dimension, "New leads (Web Site) went below 50: 12 this month"."""
    metric = alert.metric
    name = subject(alert)
    period = reading.range.label.lower()
    value = metric_value(reading.value, metric.number_format, metric.currency)
    if alert.condition == Alert.Condition.CHANGE:
        compared = reading.comparison
        previous = metric_value(compared.previous, metric.number_format, metric.currency)
        verb = "rose" if compared.direction == "up" else "fell"
        return (
            f"{name} {verb} by {abs(compared.percent):.1f}% (more than {threshold_text(alert)}): "
            f"{value} {period}, against {previous} the period before"
        )
    verb = "went above" if alert.condition == Alert.Condition.ABOVE else "went below"
    return f"{name} {verb} {threshold_text(alert)}: {value} {period}"


def alerts_url(alert: Alert) -> str:
    return reverse("dashboards:alerts", args=[alert.metric.uuid])


def notify(alert: Alert, event: AlertEvent) -> None:
    """Tell the recipient in the app and by email (HTML and text); a broken mail server never breaks a sync."""
    url = alerts_url(alert)
    context = {
        "alert": alert,
        "event": event,
        "metric": alert.metric,
        "subject": subject(alert),
        "rule": describe(alert),
        "url": getattr(settings, "SITE_URL", "").rstrip("/") + url,
    }
    notifications.notify(
        recipient(alert),
        event.message,
        url,
        subject=f"Alert: {event.message}",
        body=render_to_string("email/alert.txt", context),
        html=render_to_string("email/alert.html", context),
    )


def evaluate(alert: Alert, now: datetime | None = None) -> AlertEvent | None:
    """Evaluate one alert; the AlertEvent when an episode starts now, else None."""
    now = now or timezone.now()
    reading = read(alert, now)
    alert.last_value = reading.value
    alert.last_evaluated_at = now
    Alert.objects.filter(pk=alert.pk).update(last_value=reading.value, last_evaluated_at=now)
    if not reading.holds:
        # The episode (if any) is over: the next crossing is news again.
        Alert.objects.filter(pk=alert.pk, triggered=True).update(triggered=False)
        alert.triggered = False
        return None
    with transaction.atomic():
        # Whoever flips False -> True starts the episode; everyone else sees it already running.
        started = Alert.objects.filter(pk=alert.pk, triggered=False).update(triggered=True)
        alert.triggered = True
        if not started:
            return None
        event = AlertEvent.objects.create(alert=alert, value=reading.value, message=message(alert, reading))
    notify(alert, event)
    return event


def evaluate_for_metrics(metrics, now: datetime | None = None) -> list[AlertEvent]:
    """Evaluate every alert on these metrics (after a batch of syncs), found with one query; one
    broken alert does not stop the others."""
    events = []
    found = Alert.objects.filter(metric__in=metrics).select_related("metric__owner__profile", "created_by__profile")
    for alert in found:
        try:
            event = evaluate(alert, now)
        except Exception:
            logger.exception("Could not evaluate alert %s on %r", alert.pk, alert.metric.name)
            continue
        if event is not None:
            events.append(event)
    return events
