"""Claim the metrics that are due and enqueue their syncs after commit, in batches per connection.

One beat entry runs ``dispatch`` each minute. A claim writes the batch token into
``SyncState.claimed_by`` with a conditional UPDATE (``claimed_by = ''``), so two dispatchers
running at once never claim the same metric: on PostgreSQL the UPDATE picks the due rows with
``SELECT ... FOR UPDATE SKIP LOCKED`` (a second dispatcher skips them instead of waiting), on
SQLite the UPDATE itself is atomic under the database's single writer.
"""

from __future__ import annotations

import logging
import math
from itertools import groupby
from operator import itemgetter

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from builder.models import Kind, Metric
from config.celery import app
from syncs import services
from syncs.models import SyncState

logger = logging.getLogger(__name__)

# The task that syncs a batch (syncs.tasks), called by name.
SYNC_BATCH = "syncs.sync_batch"


def due(now):
    """The sync states to claim: in use, active, free and due; a calculated metric is never synced itself."""
    return SyncState.objects.filter(
        in_use=True, status=SyncState.Status.ACTIVE, claimed_by="", next_sync_at__lte=now
    ).exclude(metric_id__in=Metric.objects.filter(kind=Kind.CALCULATED).values("pk"))


def dispatch(now=None) -> list[int]:
    """Claim every due metric and enqueue its sync after commit; the metric ids."""
    now = now or timezone.now()
    token = services.new_token("d-")
    with transaction.atomic():
        candidates = due(now)
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True)
        # The ids stay in the database: the UPDATE's own subquery.
        pks = candidates.values("pk")
        claimed = SyncState.objects.filter(pk__in=pks, claimed_by="")
        claimed.update(claimed_by=token, claimed_at=now, heartbeat_at=None)
        ours = SyncState.objects.filter(claimed_by=token).order_by("metric__connection_id", "metric_id")
        claimed_rows = list(ours.values_list("metric_id", "metric__connection_id"))
        metric_ids = [metric_id for metric_id, _ in claimed_rows]
        if metric_ids:
            transaction.on_commit(lambda: enqueue(batches(claimed_rows), token, now))
    if metric_ids:
        logger.info("Dispatched %d due metrics", len(metric_ids))
    return metric_ids


def batches(claimed_rows, size=None) -> list[list[int]]:
    """The claimed (metric id, connection id) rows, sorted by connection, cut into batches of one connection.

    A batch holds at most ``size`` (SYNC_BATCH_SIZE) metrics, and the metrics of one connection
    are spread evenly over its batches, so the workers share them out.
    """
    size = size or settings.SYNC_BATCH_SIZE
    result = []
    for _, rows in groupby(claimed_rows, key=itemgetter(1)):
        ids = [metric_id for metric_id, _ in rows]
        count = math.ceil(len(ids) / size)
        result += [ids[index::count] for index in range(count)]
    return result


def enqueue(metric_batches, token, planned_at):
    """One ``syncs.sync_batch`` task per batch of metric ids, sent with Celery's ``send_task``.

    By name, so this module needs neither ``syncs.tasks`` (which imports it) nor the task
    registered in the process that dispatches. Through Celery's own path, so the
    before/after_task_publish signals fire for every message. ``bench/dispatch.py`` compares
    the ways of publishing a tick's 500 batches (10,000 due metrics; CPU per message on the
    loaded 2-core dev machine, 2026-12-03): this way ~330 us, Celery's defaults in a batch
    ~700 us, ``apply_async`` one round trip each ~1,300 us, ``group`` ~2,000 us, the hand-built
    protocol-2 messages this replaced ~150 us. About 0.17 s of the tick's second, beside the
    UPDATE of 10,000 rows; what buys it:

    * one producer, and its publish batch (kombu's ``Producer.batch``; on Redis one pipelined
      round trip per 1,000 messages instead of one each); ``after_task_publish`` therefore
      fires as a message joins the batch, which is sent when the block ends;
    * routed and the queue declared once, not for every message (``queue``, ``declare=[]``);
    * ``retry=False``: inside a batch a send only buffers, so there is nothing to retry; a
      broker error raises when the batch goes out, and the claims expire as any lost claim does;
    * the argument reprs written here, not by Celery's ``saferepr``.
    """
    kwargs = {"planned_at": planned_at.isoformat()}
    kwargsrepr = repr(kwargs)
    queue = app.amqp.router.route({}, SYNC_BATCH)["queue"]
    with app.producer_or_acquire() as producer:
        producer.maybe_declare(queue)
        with producer.batch():
            for metric_ids in metric_batches:
                app.send_task(
                    SYNC_BATCH,
                    (metric_ids, token),
                    kwargs,
                    producer=producer,
                    queue=queue,
                    declare=[],
                    retry=False,
                    ignore_result=True,
                    argsrepr=f"({metric_ids}, {token!r})",
                    kwargsrepr=kwargsrepr,
                )
