"""Reference labels refreshed on sync: after a sync stores datapoints whose dimensions look like
Vtiger references (``19x5``), the labels of those keys that are unknown or older than a day are
fetched (``connections.references.refresh_labels``).

Not in the sync's hot path: the receiver of ``sync_finished`` (sent after the sync's data are
committed) only queues ``refresh_reference_labels`` with the metrics' ids; the task reads their
distinct dimensions and asks the API, on the connection's rate budget.
"""

import logging

from celery import shared_task
from django.db import transaction
from django.dispatch import receiver

from builder.models import Metric
from connections import references
from connections.models import Connection
from syncs.models import Datapoint
from syncs.signals import sync_finished

logger = logging.getLogger(__name__)


@receiver(sync_finished, dispatch_uid="syncs.refresh_reference_labels")
def queue_label_refresh(sender, runs, **kwargs):
    """Queue one label refresh for the synced metrics that wrote datapoints (no query here: the task
    picks the Vtiger ones and reads their dimensions)."""
    metric_ids = sorted({run.metric_id for run in runs if run.datapoints_written and run.metric.connection_id})
    if metric_ids:
        transaction.on_commit(lambda: _queue(metric_ids))


def _queue(metric_ids):
    # Labels are a nicety: a broker that is down must never fail the sync that just stored its data.
    try:
        refresh_reference_labels.delay(metric_ids)
    except Exception:  # noqa: BLE001 - kombu and redis raise many kinds; the next sync asks again
        logger.warning("Reference labels of metrics %s not queued for refresh", metric_ids, exc_info=True)


def reference_dimensions(metric_ids):
    """{connection: set of dimension keys that look like references} of these metrics' datapoints,
    for the metrics that read from a Vtiger connection (the others have no labels to look up)."""
    metrics = Metric.objects.filter(
        pk__in=metric_ids, connection__integration__in=Connection.VTIGER_INTEGRATIONS
    ).select_related("connection")
    out = {}
    for metric in metrics:
        keys = Datapoint.objects.filter(metric=metric).exclude(dimension="").values_list("dimension", flat=True)
        found = {key for key in keys.distinct() if references.is_reference(key)}
        if found:
            out.setdefault(metric.connection, set()).update(found)
    return out


@shared_task(name="syncs.refresh_reference_labels", ignore_result=True)
def refresh_reference_labels(metric_ids):
    for connection, keys in reference_dimensions(metric_ids).items():
        stored = references.refresh_labels(connection, keys)
        if stored:
            logger.info("Refreshed %d reference labels of connection %s", stored, connection.pk)
