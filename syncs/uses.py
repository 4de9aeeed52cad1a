"""Where a metric is used; a metric syncs only while it is used somewhere.

    add_use(metric, "screen")                 # the Metrics screen (ref "")
    add_use(metric, "databoard", board.pk)    # a databoard tile, a goal, an alert, a scorecard
    remove_use(metric, "databoard", board.pk)

The first use activates the metric: it is due at once, and a backfill walks its history back
to ``history_days`` in windows (field-from-response metrics only: None and Dynamic values have
no history to fetch). The newest window comes first: the backfill's first step syncs the due
rolling window before any history window (``runner.current_window_first``), so the current number is
right after the first sync. Removing the last use stops its syncs and its backfill; its data stay.
Both are idempotent and safe to call inside the caller's transaction (tasks go out on commit).

A calculated metric (``Metric.kind`` "calculated") is never synced itself: using it puts its
inputs in use (transitively, for an input that is calculated too), and removing its last use
takes them out of use unless they are otherwise used: used themselves, or an input of another
calculated metric in use (:func:`is_needed`).
"""

from __future__ import annotations

from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from builder.signals import metric_saved
from syncs import engine, tasks
from syncs.models import SyncState, Use


def add_use(metric, kind, ref="") -> Use:
    kind = Use.Kind(kind)
    with transaction.atomic():
        use, _ = Use.objects.get_or_create(metric=metric, kind=kind, ref=str(ref or ""))
        for source in metric.api_sources():
            put_in_use(source)
    return use


def put_in_use(metric) -> None:
    """Make a fetched metric sync (due at once, history backfilled) unless it does already."""
    sync_state, _ = SyncState.objects.select_for_update().get_or_create(metric=metric)
    if not sync_state.in_use:
        activate(metric, sync_state)


def remove_use(metric, kind, ref="") -> bool:
    """Remove one use; True when it was the last one and syncs stopped (for a calculated metric:
    its last use, its inputs out of use unless otherwise used)."""
    with transaction.atomic():
        Use.objects.filter(metric=metric, kind=Use.Kind(kind), ref=str(ref or "")).delete()
        if is_needed(metric):
            return False
        if metric.is_calculated:
            for source in metric.api_sources():
                if not is_needed(source):
                    take_out_of_use(source)
            return True
        return take_out_of_use(metric)


@receiver(metric_saved, dispatch_uid="syncs.inputs_in_use_on_calculated_save")
def inputs_in_use_on_calculated_save(sender, metric, **kwargs):
    """A calculated metric in use saved with new inputs: they sync from now."""
    if metric.is_calculated and is_needed(metric):
        for source in metric.api_sources():
            put_in_use(source)


def is_needed(metric, seen=None) -> bool:
    """Used somewhere, or an input of a calculated metric that is (transitively)."""
    seen = set() if seen is None else seen
    if metric.pk in seen:
        return False
    seen.add(metric.pk)
    if Use.objects.filter(metric=metric).exists():
        return True
    return any(is_needed(consumer, seen) for consumer in metric.needed_by())


def take_out_of_use(metric) -> bool:
    """Stop a fetched metric's syncs and its backfill (its data stay); True when it was in use."""
    with transaction.atomic():
        sync_state = SyncState.objects.select_for_update().filter(metric=metric).first()
        if sync_state is None or not sync_state.in_use:
            return False
        sync_state.in_use = False
        sync_state.next_sync_at = None
        sync_state.backfill_total_windows = sync_state.backfill_done_windows  # the backfill stops where it is
        sync_state.save(update_fields=["in_use", "next_sync_at", "backfill_total_windows", "updated_at"])
        return True


def activate(metric, sync_state: SyncState):
    """In use from now: due at once, history backfilled."""
    now = timezone.now()
    sync_state.in_use = True
    sync_state.next_sync_at = now
    if not sync_state.definition_hash:
        sync_state.definition_hash = metric.definition_hash()
    sync_state.save(update_fields=["in_use", "next_sync_at", "definition_hash", "updated_at"])
    start_backfill(metric, sync_state, now)


def start_backfill(metric, sync_state: SyncState, now=None):
    """Plan the backfill windows and queue its first step after commit."""
    anchor, total = engine.backfill_plan(metric, now)
    sync_state.backfill_anchor = anchor
    sync_state.backfill_done_windows = 0
    sync_state.backfill_total_windows = total
    sync_state.save(update_fields=["backfill_anchor", "backfill_done_windows", "backfill_total_windows", "updated_at"])
    if total:
        tasks.start_or_continue_backfill(metric.pk)
