"""Claim the metrics that are due and enqueue their syncs after commit, in batches per connection.

One beat entry runs ``dispatch`` each minute. A claim writes the batch token into
``MetricSync.claimed_by`` with a conditional UPDATE (``claimed_by = ''``), so two dispatchers
running at once never claim the same metric: on PostgreSQL the due rows are first locked with
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

from syncs import services
from syncs.models import MetricSync

logger = logging.getLogger(__name__)


def due(now):
    return MetricSync.objects.filter(in_use=True, status=MetricSync.Status.ACTIVE, claimed_by="", next_sync_at__lte=now)


def dispatch(now=None, limit: int | None = None) -> list[int]:
    """Claim every due metric (at most ``limit``) and enqueue its sync after commit; the metric ids."""
    now = now or timezone.now()
    token = services.new_token("d-")
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            locked = due(now).select_for_update(skip_locked=True).order_by("next_sync_at").values_list("pk", flat=True)
            pks = list(locked[:limit] if limit else locked)
            claimed = MetricSync.objects.filter(pk__in=pks, claimed_by="")
        elif limit:
            pks = list(due(now).order_by("next_sync_at").values_list("pk", flat=True)[:limit])
            claimed = MetricSync.objects.filter(pk__in=pks, claimed_by="")
        else:
            claimed = due(now)
        claimed.update(claimed_by=token, claimed_at=now, heartbeat_at=None)
        ours = MetricSync.objects.filter(claimed_by=token).order_by("metric__connection_id", "metric_id")
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
    """One ``syncs.sync_batch`` message per batch of metric ids, published over one broker connection.

    Built with Celery's own task message (``app.amqp.create_task_message``, protocol 2) and sent
    with kombu's ``Producer.publish`` inside a publish batch (on Redis: one pipelined round trip
    per 1,000 messages), to the task's queue through the default exchange, as ``apply_async``
    would. ``apply_async`` costs ~350 us a message (argument reprs, routing, declaring the queue
    each time, one round trip each); this ~40 us, so a tick of 10,000 due metrics stays under a
    second. What it skips: Celery's before/after_task_publish signals for these messages.
    """
    from celery.utils import uuid

    from config.celery import app
    from syncs.tasks import sync_batch

    queue = app.amqp.router.route({}, sync_batch.name)["queue"]
    kwargs = {"planned_at": planned_at.isoformat()}
    kwargsrepr = repr(kwargs)
    with app.producer_or_acquire() as producer:
        producer.maybe_declare(queue)
        with producer.batch():
            for metric_ids in metric_batches:
                headers, properties, body, _ = app.amqp.create_task_message(
                    uuid(),
                    sync_batch.name,
                    (metric_ids, token),
                    kwargs,
                    argsrepr=f"({metric_ids}, {token!r})",
                    kwargsrepr=kwargsrepr,
                    ignore_result=True,
                )
                producer.publish(
                    body,
                    exchange="",
                    routing_key=queue.name,
                    headers=headers,
                    serializer="json",
                    delivery_mode=2,
                    **properties,
                )
