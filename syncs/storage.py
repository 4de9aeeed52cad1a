"""Storing one sync's datapoints: in ONE transaction, and the same sync twice stores the same data.

* **None**: the metric's datapoints are replaced by the new current value(s), stamped ``stamp``.
* **Dynamic**: the datapoints stamped ``stamp`` (the sync's planned time, the same on a retry or a
  redelivery of the same sync) are replaced, so one sync adds one datapoint (per dimension).
* **field from response**: the datapoints inside the window are replaced by the new ones; new
  ones whose date falls outside the window are left out (they belong to another window, and
  keeping them would duplicate them on the next sync).

The write happens only while the sync still holds the metric's lease (``token``) and the
metric's definition is the one the sync started with; the run record and the metric's sync
state are updated in the same transaction.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from syncs.errors import DefinitionChanged, LeaseLost
from syncs.models import Datapoint, MetricSync, SyncRun
from syncs.signals import sync_finished

CAP_WARNING = (
    "Stopped at the {pages}-page limit while more pages remained: the data of this window are "
    "incomplete. Narrow the request (a shorter window, a filter) or ask for bigger pages."
)


def store(
    metric,
    points,
    *,
    window,
    stamp,
    token="",
    expected_hash="",
    run=None,
    fetched=None,
    backfill_index=None,
    release=False,
    next_sync_at=None,
):
    """Replace the metric's data for this sync; (datapoints written, datapoints left out).

    ``release``: give the lease back in the same transaction (``next_sync_at`` the next due time).
    """
    now = timezone.now()
    mode = metric.date_mode
    rows, outside = [], 0
    for moment, value, dimension in points:
        if mode == "field":
            if not window.contains(moment):
                outside += 1
                continue
        else:
            moment = stamp
        rows.append(Datapoint(metric=metric, timestamp=moment, value=value, dimension=dimension, synced_at=now))
    changes = {"last_synced_at": now, "last_error": "", "consecutive_failures": 0, "updated_at": now}
    if expected_hash:
        changes["definition_hash"] = expected_hash
    if backfill_index is not None:
        # One step further only if this is the step the state expects (not a repeated one).
        step = When(backfill_done_windows=backfill_index, then=Value(backfill_index + 1))
        changes["backfill_done_windows"] = Case(
            step, default=F("backfill_done_windows"), output_field=MetricSync._meta.get_field("backfill_done_windows")
        )
    if release and token:
        changes.update(claimed_by="", claimed_at=None, heartbeat_at=None)
        if next_sync_at is not None:
            changes["next_sync_at"] = next_sync_at
    # Only while the sync holds the lease and the definition is the one it started with (or
    # none was recorded yet): checked and written in one conditional UPDATE, which also locks
    # the row until the end of the transaction, as ``select_for_update`` did.
    guard = Q(metric=metric)
    if token:
        guard &= Q(claimed_by=token)
    if expected_hash:
        guard &= Q(definition_hash=expected_hash) | Q(definition_hash="")
    with transaction.atomic():
        if not MetricSync.objects.filter(guard).update(**changes):
            # The rare path: say why (or create the missing state), under the row's lock.
            state, _ = MetricSync.objects.select_for_update().get_or_create(metric=metric)
            if token and state.claimed_by != token:
                raise LeaseLost("Another worker holds this metric now.")
            if expected_hash and state.definition_hash not in ("", expected_hash):
                raise DefinitionChanged("The metric was edited during the sync.")
            MetricSync.objects.filter(pk=state.pk).update(**changes)
        existing = Datapoint.objects.filter(metric=metric)
        if mode == "field":
            existing = existing.filter(timestamp__gte=window.start, timestamp__lte=window.end)
        elif mode == "dynamic":
            existing = existing.filter(timestamp=stamp)
        existing.delete()
        Datapoint.objects.bulk_create(rows, batch_size=1000)

        if run is not None:
            run.finished_at = timezone.now()
            run.datapoints_written = len(rows)
            if fetched is not None:
                run.requests, run.pages, run.cap_hit = fetched.requests, fetched.pages, fetched.cap_hit
            if run.cap_hit:
                run.status = SyncRun.Status.PARTIAL
                run.warning = CAP_WARNING.format(pages=run.pages)
            else:
                run.status = SyncRun.Status.SUCCEEDED
            run.save(
                update_fields=["finished_at", "datapoints_written", "requests", "pages", "cap_hit", "status", "warning"]
            )
            transaction.on_commit(lambda: sync_finished.send(sender=SyncRun, metric=metric, run=run))
    return len(rows), outside
