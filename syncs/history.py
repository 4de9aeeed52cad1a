"""How far back a metric's stored history reaches, and how much of its backfill is still to come.

    synced = history.of([metric, ...])      # {metric.pk: History}, in one query whatever their number
    synced[metric.pk].start                 # the first instant of the synced history, or None

Only metrics whose dates come from the response (``date_mode`` "field") have a history; for the
others ``start`` is None (nothing to judge). The history starts where the earliest window stored
since the data were last dropped starts (``SyncState.history_start``, kept by ``syncs.storage``
in the transaction that stores the window, reset when an edited definition drops the data).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from builder.models import DateMode
from syncs.models import SyncState


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


def of(metrics) -> dict:
    """``{metric.pk: History}`` for ``metrics``."""
    metrics = list(metrics)
    histories = {metric.pk: History() for metric in metrics}
    ids = [metric.pk for metric in metrics if metric.date_mode == DateMode.FIELD]
    if not ids:
        return histories
    fields = ("metric_id", "history_start", "backfill_done_windows", "backfill_total_windows", "in_use", "status")
    for sync_state in SyncState.objects.filter(metric_id__in=ids).only(*fields):
        running = sync_state.in_use and sync_state.backfill_running and not sync_state.is_paused
        done, total = sync_state.backfill_done_windows, sync_state.backfill_total_windows
        histories[sync_state.metric_id] = History(sync_state.history_start, done, total, running)
    return histories
