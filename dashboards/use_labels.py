"""What the Syncs panel calls each place a metric is used: the databoard's, goal's, alert's or scorecard's
own words and a link to it, instead of "Databoard 3" (a use's ``ref`` is the tile's, goal's, alert's
or scorecard's primary key, see dashboards.receivers).

``labels(uses)`` answers syncs' ``describe_uses`` signal: ``{(kind, ref): (label, url)}`` for the
uses it knows; a use whose row is gone is left out (the panel falls back to its kind).
"""

from __future__ import annotations

from django.urls import reverse

from dashboards.models import Alert, Goal, Scorecard, Tile
from syncs.models import Use


def _pks(uses, kind) -> list[int]:
    return [int(use.ref) for use in uses if use.kind == kind and str(use.ref).isdigit()]


def _condition(alert) -> str:
    if alert.condition == Alert.Condition.CHANGE:
        return f"changes by more than {alert.threshold:g}%"
    return f"{alert.get_condition_display().lower()} {alert.threshold:g}"


def labels(uses) -> dict[tuple[str, str], tuple[str, str]]:
    uses = list(uses)
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for use in uses:
        if use.kind == Use.Kind.SCREEN:
            found[(use.kind, use.ref)] = ("Metrics screen", reverse("home"))
    for tile in Tile.objects.filter(pk__in=_pks(uses, Use.Kind.DATABOARD)).select_related("databoard"):
        found[(Use.Kind.DATABOARD, str(tile.pk))] = (
            f"Databoard “{tile.databoard.name}”",
            reverse("dashboards:databoard", args=[tile.databoard.uuid]),
        )
    for goal in Goal.objects.filter(pk__in=_pks(uses, Use.Kind.GOAL)).select_related("metric"):
        found[(Use.Kind.GOAL, str(goal.pk))] = (
            f"Goal of {goal.target:g} ({goal.get_period_display().lower()})",
            reverse("dashboards:goals", args=[goal.metric.uuid]),
        )
    for alert in Alert.objects.filter(pk__in=_pks(uses, Use.Kind.ALERT)).select_related("metric"):
        found[(Use.Kind.ALERT, str(alert.pk))] = (
            f"Alert when it {_condition(alert)}",
            reverse("dashboards:alerts", args=[alert.metric.uuid]),
        )
    for card in Scorecard.objects.filter(pk__in=_pks(uses, Use.Kind.SCORECARD)):
        found[(Use.Kind.SCORECARD, str(card.pk))] = (
            f"Scorecard “{card.name}”",
            reverse("dashboards:scorecard_preview", args=[card.uuid]),
        )
    return found
