"""Storing syncs' datapoints: each sync's write in ONE transaction, and the same sync twice stores the same data.

* **None**: the metric's datapoints are replaced by the new current value(s), stamped ``stamp``.
* **Dynamic**: the datapoints stamped ``stamp`` (the sync's planned time, the same on a retry or a
  redelivery of the same sync) are replaced, so one sync adds one datapoint (per dimension).
* **field from response**: the datapoints inside the window are replaced by the new ones; new
  ones whose date falls outside the window are left out (they belong to another window, and
  keeping them would duplicate them on the next sync). For a metric of calendar dates
  (``Metric.date_kind``, stored as midnight UTC of each date) "inside the window" means the
  local dates whose day starts inside the window (``builder.timeframes.calendar_span``): a window of 1 to 7 October
  in New York replaces the rows from 2026-10-01T00:00Z up to, not including, 2026-10-08T00:00Z.

Nothing is dropped in silence: every point left out (outside the window, no date, a date the
format cannot read: ``Dropped``) is counted on the run record (``dropped``, ``dropped_examples``)
and said in words in its ``warning``, beside the page-cap warning; such a run still succeeded.

A write happens only while the sync still holds the metric's lease (``token``) and the metric's
definition is the one the sync started with; the run record and the metric's sync state are
updated in the same transaction.

``store_many`` stores several syncs (a worker's batch) in one transaction, with a handful of
queries whatever their number: a sync whose lease or definition changed is refused on its own
(``Write.error``), the others are stored.
"""

from __future__ import annotations

import json
import operator
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import reduce
from typing import Any

from django.db import connection, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from builder import dates, timeframes
from builder.models import DateKind, DateMode
from syncs.errors import DefinitionChanged, LeaseLost
from syncs.models import Datapoint, SyncRun, SyncState
from syncs.signals import sync_finished

CAP_WARNING = (
    "Stopped at the {pages}-page limit while more pages remained: the data of this window are "
    "incomplete. Narrow the request (a shorter window, a filter) or ask for bigger pages."
)
COLUMNS = ("metric_id", "timestamp", "value", "dimension", "synced_at")  # of a stored Datapoint
RUN_FIELDS = ("finished_at", "datapoints_written", "requests", "pages", "cap_hit", "status", "warning", "dropped")
OUTSIDE, NO_DATE, BAD_DATE = "outside", "no_date", "bad_date"  # why a point was not stored, in this order
EXAMPLES = 3  # kept per reason


@dataclass
class Dropped:
    """The points of one sync that were not stored: a count and the first ``EXAMPLES`` per reason.

    An example is ``{"value": the raw date (or the stored date), "record": the record's id or ""}``.
    ``date_format`` names the format in the words (``YYYY-MM-DD``).
    """

    date_format: str = ""
    counts: dict = field(default_factory=dict)
    examples: dict = field(default_factory=dict)

    def add(self, reason: str, value: Any, record: Any = "") -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        kept = self.examples.setdefault(reason, [])
        if len(kept) < EXAMPLES:
            shown = value if isinstance(value, str | int | float) and not isinstance(value, bool) else repr(value)
            kept.append({"value": str(shown)[:100], "record": str(record if record is not None else "")[:100]})

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_json(self) -> list:
        """``[{"reason", "count", "examples"}]`` in the order of the reasons: the run's ``dropped_examples``."""
        return [
            {"reason": reason, "count": self.counts[reason], "examples": self.examples.get(reason, [])}
            for reason in (OUTSIDE, NO_DATE, BAD_DATE)
            if self.counts.get(reason)
        ]

    def words(self) -> str:
        """ "3 values were not stored: 2 fell outside the synced window (e.g. 2026-07-31 from record 13x512), ..."."""
        return dropped_words(self.as_json(), self.date_format)


def dropped_words(groups: list, date_format: str = "") -> str:
    """The sentence for a run's ``dropped_examples`` ("" when nothing was dropped)."""
    total = sum(group["count"] for group in groups)
    if not total:
        return ""
    label = dates.FORMAT_LABELS.get(date_format or dates.ISO, date_format)
    parts = []
    for group in groups:
        reason, count, examples = group["reason"], group["count"], group["examples"]
        if reason == OUTSIDE:
            text = f"{count} fell outside the synced window"
            shown = [_example(example, "from record", quoted=False) for example in examples]
        elif reason == NO_DATE:
            text = f"{count} had no date"
            shown = [f"record {example['record']}" for example in examples if example["record"]]
        else:
            text = f"{count} had a date that does not match {label}"
            shown = [_example(example, "in record", quoted=True) for example in examples]
        if shown:
            text += f" (e.g. {', '.join(shown)})"
        parts.append(text)
    noun = "value was" if total == 1 else "values were"
    return f"{total} {noun} not stored: {', '.join(parts)}."


def _example(example, where, quoted):
    value = repr(example["value"]) if quoted else example["value"]
    return f"{value} {where} {example['record']}" if example["record"] else value


@dataclass
class Write:
    """One sync's datapoints, ready to store; ``store_many`` fills in the last three fields.

    ``points``: (timestamp or None, value, dimension) as ``engine.to_points`` gives them.
    ``expected_hash``: the definition the sync ran with ("" to skip the check).
    ``backfill_index``: the backfill step this sync is (the state moves one step further).
    ``next_sync_at``: the metric's next due time, set when the lease is given back.
    """

    metric: Any
    points: list
    window: Any
    stamp: datetime
    expected_hash: str = ""
    run: SyncRun | None = None
    fetched: Any = None
    backfill_index: int | None = None
    next_sync_at: datetime | None = None
    written: int = 0
    outside: int = 0
    error: Exception | None = None
    dropped: Dropped | None = None


def store(metric, points, *, window, stamp, token="", release=False, **options):
    """Replace one metric's data for one sync; (datapoints written, datapoints left out).

    Raises LeaseLost or DefinitionChanged when the write is refused. ``options`` are the other
    fields of ``Write``; ``release``: give the lease back in the same transaction.
    """
    write = Write(metric, points, window, stamp, **options)
    store_many([write], token=token, release=release)
    if write.error is not None:
        raise write.error
    return write.written, write.outside


def store_many(writes: list[Write], *, token: str = "", release: bool = False) -> list[Write]:
    """Store every write that still holds its lease (``token``) in one transaction; see the module docstring."""
    now = timezone.now()
    rows = {write.metric.pk: _datapoints(write, now) for write in writes}
    with transaction.atomic():
        stored, first_hashes = _refuse_stale(writes, token)
        if stored:
            _update_states(stored, first_hashes, token, release, now)
            _extend_history(stored)
            Datapoint.objects.filter(_replaced(stored)).delete()
            _insert([row for write in stored for row in rows[write.metric.pk]])
            runs = _finish_runs(stored)
            if runs:
                transaction.on_commit(lambda: sync_finished.send(sender=SyncRun, runs=runs))
    return writes


def _datapoints(write, now):
    """The write's Datapoint rows as tuples of COLUMNS; sets ``written`` and ``outside`` (out of its window)."""
    metric_id, mode = write.metric.pk, write.metric.date_mode
    rows, write.outside = [], 0
    # What to_points could not date, and what falls outside the window here (``engine.Points``).
    before = getattr(write.points, "dropped", None)
    write.dropped = Dropped(write.metric.date_format or "")
    if before is not None:
        write.dropped.counts = dict(before.counts)
        write.dropped.examples = {reason: list(examples) for reason, examples in before.examples.items()}
    source = getattr(write.points, "source", None)
    if mode == DateMode.FIELD and _calendar(write.metric):
        low, high = timeframes.calendar_span(write.window)

        def inside(moment):
            return low <= moment < high
    else:
        inside = write.window.contains if mode == DateMode.FIELD else None
    for index, (moment, value, dimension) in enumerate(write.points):
        if mode == DateMode.FIELD:
            if not inside(moment):
                write.outside += 1
                raw, record = source(index) if source is not None else (_shown(write.metric, moment), "")
                write.dropped.add(OUTSIDE, raw, record)
                continue
        else:
            moment = write.stamp
        rows.append((metric_id, moment, value, dimension, now))
    write.written = len(rows)
    return rows


def _shown(metric, moment) -> str:
    """A stored instant as words: the date of a calendar date, else the instant in UTC."""
    if moment is None:
        return "no date"
    return moment.date().isoformat() if _calendar(metric) else moment.astimezone(UTC).isoformat()


def _calendar(metric) -> bool:
    return metric.date_kind == DateKind.CALENDAR


def _refuse_stale(writes, token):
    """(writes to store, definition hashes to record), with their sync states locked.

    A write whose lease or definition changed gets its ``error`` and is left out. A state with
    no definition hash yet gets the one its sync ran with.
    """
    locked = (
        SyncState.objects.select_for_update()
        .filter(metric_id__in=[write.metric.pk for write in writes])
        .order_by("metric_id")  # every transaction locks in the same order
        .values_list("metric_id", "claimed_by", "definition_hash")
    )
    sync_states = {metric_id: (claimed_by, definition_hash) for metric_id, claimed_by, definition_hash in locked}
    stored, first_hashes = [], {}
    for write in writes:
        pk = write.metric.pk
        if pk not in sync_states:  # a metric synced before it had a state (the sync_metric command)
            SyncState.objects.get_or_create(metric_id=pk)
            sync_states[pk] = ("", "")
        claimed_by, definition_hash = sync_states[pk]
        if token and claimed_by != token:
            write.error, write.written = LeaseLost("Another worker holds this metric now."), 0
        elif write.expected_hash and definition_hash not in ("", write.expected_hash):
            write.error, write.written = DefinitionChanged("The metric was edited during the sync."), 0
        else:
            stored.append(write)
            if not definition_hash:
                first_hashes[pk] = write.expected_hash
    return stored, first_hashes


def _update_states(stored, first_hashes, token, release, now):
    """The sync states of the stored writes: one UPDATE per group of equal changes (usually one)."""
    groups = defaultdict(list)
    for write in stored:
        key = (first_hashes.get(write.metric.pk, ""), write.backfill_index, write.next_sync_at)
        groups[key].append(write.metric.pk)
    for (first_hash, backfill_index, next_sync_at), ids in groups.items():
        changes = {"last_synced_at": now, "last_error": "", "consecutive_failures": 0, "updated_at": now}
        if first_hash:
            changes["definition_hash"] = first_hash
        if backfill_index is not None:
            # One step further only if this is the step the state expects (not a repeated one).
            step = When(backfill_done_windows=backfill_index, then=Value(backfill_index + 1))
            field = SyncState._meta.get_field("backfill_done_windows")
            changes["backfill_done_windows"] = Case(step, default=F("backfill_done_windows"), output_field=field)
        if release and token:
            changes.update(claimed_by="", claimed_at=None, heartbeat_at=None)
            if next_sync_at is not None:
                changes["next_sync_at"] = next_sync_at
        SyncState.objects.filter(metric_id__in=ids).update(**changes)


def _extend_history(stored):
    """``SyncState.history_start``: the synced history now reaches back to the earliest window
    stored (one UPDATE per distinct window start; a rolling window changes nothing after the first)."""
    groups = defaultdict(list)
    for write in stored:
        if write.metric.date_mode == DateMode.FIELD:
            groups[write.window.start].append(write.metric.pk)
    for start, ids in groups.items():
        later = Q(history_start__isnull=True) | Q(history_start__gt=start)
        SyncState.objects.filter(later, metric_id__in=ids).update(history_start=start)


def _replaced(stored) -> Q:
    """Which datapoints the stored writes replace: one condition per distinct window, for all its metrics."""
    groups = defaultdict(list)
    for write in stored:
        mode = write.metric.date_mode
        if mode == DateMode.FIELD and _calendar(write.metric):
            key = (DateKind.CALENDAR, *timeframes.calendar_span(write.window))
        elif mode == DateMode.FIELD:
            key = (mode, write.window.start, write.window.end)
        elif mode == DateMode.DYNAMIC:
            key = (mode, write.stamp)
        else:
            key = (mode,)
        groups[key].append(write.metric.pk)
    conditions = []
    for key, ids in groups.items():
        if key[0] == DateMode.FIELD:
            conditions.append(Q(metric_id__in=ids, timestamp__gte=key[1], timestamp__lte=key[2]))
        elif key[0] == DateKind.CALENDAR:
            conditions.append(Q(metric_id__in=ids, timestamp__gte=key[1], timestamp__lt=key[2]))
        elif key[0] == DateMode.DYNAMIC:
            conditions.append(Q(metric_id__in=ids, timestamp=key[1]))
        else:
            conditions.append(Q(metric_id__in=ids))
    return reduce(operator.or_, conditions)


def _finish_runs(stored):
    """Close the stored writes' run records: one UPDATE per group of runs that end the same way."""
    finished_at = timezone.now()
    groups = defaultdict(list)
    runs = []
    for write in stored:
        run = write.run
        if run is None:
            continue
        run.metric = write.metric
        run.finished_at = finished_at
        run.datapoints_written = write.written
        if write.fetched is not None:
            run.requests, run.pages, run.cap_hit = write.fetched.requests, write.fetched.pages, write.fetched.cap_hit
        warnings = []
        if run.cap_hit:
            run.status = SyncRun.Status.PARTIAL
            warnings.append(CAP_WARNING.format(pages=run.pages))
        else:
            run.status = SyncRun.Status.SUCCEEDED
        dropped = write.dropped or Dropped()
        run.dropped, run.dropped_examples = dropped.total, dropped.as_json()
        if dropped.total:
            warnings.append(dropped.words())
        run.warning = " ".join(warnings)
        runs.append(run)
        key = (*(getattr(run, name) for name in RUN_FIELDS), json.dumps(run.dropped_examples, sort_keys=True))
        groups[key].append(run.pk)
    for values, pks in groups.items():
        changes = dict(zip(RUN_FIELDS, values[:-1], strict=True))
        SyncRun.objects.filter(pk__in=pks).update(**changes, dropped_examples=json.loads(values[-1]))
    return runs


def _insert(rows):
    """Insert Datapoint rows (tuples of COLUMNS): COPY on PostgreSQL (about 3 times as fast as a
    multi-row INSERT, and no model instances to build), else bulk_create."""
    if connection.vendor != "postgresql":
        Datapoint.objects.bulk_create([Datapoint(**dict(zip(COLUMNS, row, strict=True))) for row in rows], 1000)
        return
    statement = f"COPY {Datapoint._meta.db_table} ({', '.join(COLUMNS)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
