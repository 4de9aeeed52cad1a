"""How far back a metric's stored history reaches, and how much of its backfill is still to come.

    synced = history.of([metric, ...])      # {metric.pk: History}, in two queries whatever their number
    synced[metric.pk].start                 # the first instant of the synced history, or None

Only metrics whose dates come from the response (``date_mode`` "field") have a history; for the
others ``start`` is None (nothing to judge). The history is what the successful runs covered:
the earliest ``window_start`` of a succeeded (or page-capped) run. While a backfill runs, the
backfill's own state bounds it (windows walk back from ``backfill_anchor``, newest first, so
the history reaches the start of window ``done - 1``, or the anchor's day before the first
one): runs from before an edit of the definition (whose data were dropped) are not counted.
A metric whose data were dropped and not synced again (``last_synced_at`` None) has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Min

from builder import timeframes
from syncs import engine
from syncs.models import MetricSync, SyncRun

STORED = (SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL)


@dataclass(frozen=True)
class History:
    start: datetime | None = None  # the first instant synced; None: none, or nothing to judge
    done: int = 0  # backfill windows stored
    total: int = 0  # backfill windows planned
    running: bool = False  # the backfill is still walking back (in use, not paused)

    def hint(self, since: datetime | None = None) -> str:
        """The words "history still syncing: 12 of 52 windows" while the backfill runs and what is
        read from ``since`` on (every period shown, when None) reaches before what it stored, else ""."""
        if not self.running or (since is not None and self.start is not None and since >= self.start):
            return ""
        return f"history still syncing: {self.done} of {self.total} windows"

    def reaches(self, moment: datetime) -> bool:
        """True when ``moment`` is inside the synced history (or the history cannot be judged)."""
        return self.start is None or moment >= self.start


def _backfill_edge(metric, state: MetricSync) -> datetime | None:
    """The start of what the running backfill has stored so far (the anchor's day before its first window)."""
    if state.backfill_anchor is None:
        return None
    if state.backfill_done_windows:
        return engine.backfill_window(metric, state.backfill_anchor, state.backfill_done_windows - 1).start
    return timeframes.start_of_day(state.backfill_anchor, timeframes.metric_zone(metric))


def of(metrics) -> dict:
    """``{metric.pk: History}`` for ``metrics``."""
    metrics = list(metrics)
    histories = {metric.pk: History() for metric in metrics}
    fields = [metric for metric in metrics if metric.date_mode == "field"]
    if not fields:
        return histories
    ids = [metric.pk for metric in fields]
    states = {state.metric_id: state for state in MetricSync.objects.filter(metric_id__in=ids)}
    earliest = dict(
        SyncRun.objects.filter(metric_id__in=ids, status__in=STORED, window_start__isnull=False)
        .order_by()
        .values("metric_id")
        .annotate(first=Min("window_start"))
        .values_list("metric_id", "first")
    )
    for metric in fields:
        state = states.get(metric.pk)
        if state is None:
            continue  # never used: nothing to judge (data, if any, came from elsewhere)
        running = state.in_use and state.backfill_running and not state.is_paused
        start = earliest.get(metric.pk) if state.last_synced_at is not None else None
        if start is not None and state.backfill_running:
            edge = _backfill_edge(metric, state)
            if edge is not None:
                start = max(start, edge)
        histories[metric.pk] = History(start, state.backfill_done_windows, state.backfill_total_windows, running)
    return histories
