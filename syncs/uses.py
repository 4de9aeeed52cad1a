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
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from syncs import engine, tasks
from syncs.models import SyncState, Use


def add_use(metric, kind, ref="") -> Use:
    kind = Use.Kind(kind)
    with transaction.atomic():
        use, _ = Use.objects.get_or_create(metric=metric, kind=kind, ref=str(ref or ""))
        sync_state, _ = SyncState.objects.select_for_update().get_or_create(metric=metric)
        if not sync_state.in_use:
            activate(metric, sync_state)
    return use


def remove_use(metric, kind, ref="") -> bool:
    """Remove one use; True when it was the last one and syncs stopped."""
    with transaction.atomic():
        Use.objects.filter(metric=metric, kind=Use.Kind(kind), ref=str(ref or "")).delete()
        if Use.objects.filter(metric=metric).exists():
            return False
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
