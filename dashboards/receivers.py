"""Keep metrics in use while a tile, goal, alert or scorecard shows them, and evaluate alerts after syncs."""

from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from dashboards import alerts, use_labels
from dashboards.models import Alert, Goal, Scorecard, Tile
from syncs import uses
from syncs.models import Use
from syncs.signals import describe_uses, sync_finished

# What each model is to syncs.uses: its kind; the row's pk is the reference.
USE_KINDS = {Tile: Use.Kind.DATABOARD, Goal: Use.Kind.GOAL, Alert: Use.Kind.ALERT}


def _added(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        uses.add_use(instance.metric, USE_KINDS[sender], instance.pk)


def _removed(sender, instance, **kwargs):
    uses.remove_use(instance.metric, USE_KINDS[sender], instance.pk)


for _model in USE_KINDS:
    post_save.connect(_added, sender=_model, dispatch_uid=f"dashboards.use_added.{_model.__name__}")
    post_delete.connect(_removed, sender=_model, dispatch_uid=f"dashboards.use_removed.{_model.__name__}")


@receiver(m2m_changed, sender=Scorecard.metrics.through, dispatch_uid="dashboards.scorecard_metrics")
def scorecard_metrics_changed(sender, instance, action, reverse, model, pk_set, **kwargs):
    """A metric added to a scorecard is in use; removed (or cleared), it may stop syncing."""
    if action == "pre_clear":
        pairs = (
            [(instance, card) for card in instance.scorecards.all()]
            if reverse
            else [(metric, instance) for metric in instance.metrics.all()]
        )
    elif reverse:  # changed from the metric's side: metric.scorecards.add(...)
        pairs = [(instance, card) for card in model.objects.filter(pk__in=pk_set or ())]
    else:
        pairs = [(metric, instance) for metric in model.objects.filter(pk__in=pk_set or ())]
    if action == "post_add":
        for metric, card in pairs:
            uses.add_use(metric, Use.Kind.SCORECARD, card.pk)
    elif action in ("pre_remove", "pre_clear"):
        for metric, card in pairs:
            uses.remove_use(metric, Use.Kind.SCORECARD, card.pk)


@receiver(post_delete, sender=Scorecard, dispatch_uid="dashboards.scorecard_deleted")
def scorecard_deleted(sender, instance, **kwargs):
    # The through rows go without m2m signals when a scorecard is deleted.
    for use in Use.objects.filter(kind=Use.Kind.SCORECARD, ref=str(instance.pk)).select_related("metric"):
        uses.remove_use(use.metric, Use.Kind.SCORECARD, instance.pk)


@receiver(sync_finished, dispatch_uid="dashboards.evaluate_alerts")
def evaluate_alerts_after_sync(sender, runs, **kwargs):
    """Fresh data: evaluate the synced metrics' alerts (sent after the syncs' data are committed)."""
    alerts.evaluate_for_metrics([run.metric for run in runs])


@receiver(describe_uses, dispatch_uid="dashboards.describe_uses")
def describe_dashboard_uses(sender, uses, **kwargs):
    """The Syncs panel's words for where a metric is used: the databoard's name, the goal, the alert."""
    return use_labels.labels(uses)
