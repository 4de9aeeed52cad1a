"""One sync of one window of one metric: render, fetch page after page, evaluate, stamp, store.

    run = engine.run(metric, window, kind="scheduled", token=..., planned_at=...)

``run`` always leaves a ``SyncRun``. It returns it when the data were stored, and raises
``SyncFailed`` (with ``.run`` and ``.problem``) when they were not: nothing of the window is
stored then, and the caller (``syncs.runner``) decides between retrying and giving up.
A single sync is a batch of one: ``run`` and a worker's batch (``runner``) both go through
``sync``, the one fetch loop and store path. ``sync`` fetches and evaluates each sync in turn
(``collect``), closes a failed one's run record in words (``failures_recorded``) and stores
every sync that succeeded in one transaction (``storage.store_many``).

The request is rendered for the window in the metric's zone (its owner's profile time zone),
written in the connection's data zone (Vtiger: UTC), and its pages are walked by
``builder.fetching.fetch``, which waits on the connection's shared budget before every request:
the very path of the wizard's Send request, so a preview that works is a sync that works.
"""

from __future__ import annotations

import logging
import math
import time
from contextlib import ExitStack, contextmanager
from datetime import date, datetime, timedelta
from itertools import groupby
from typing import Any

from django.conf import settings
from django.utils import timezone

from builder import dates, pagination, placeholders, timeframes, transform
from builder.fetching import Fetched, fetch
from builder.models import DateKind, DateMode
from connections import ratelimit
from connections.client import Client
from connections.errors import ConnectionProblem, NotJSON, Timeout, Unreachable
from syncs import storage
from syncs.errors import DefinitionChanged, LeaseLost
from syncs.models import SyncRun, SyncState

logger = logging.getLogger(__name__)

EVALUATE_TIMEOUT_MS = 5000


class SyncFailed(Exception):
    """The sync stored nothing; ``run`` records why in words, ``problem`` is the cause."""

    def __init__(self, run, problem, *, transient=False, auth=False):
        super().__init__(run.error)
        self.run = run
        self.problem = problem
        self.transient = transient
        self.auth = auth


class DefinitionProblem(Exception):
    """Something in the metric's definition stops the sync (not the API's fault)."""

    kind = "definition"

    def __init__(self, message, kind="definition"):
        super().__init__(message)
        self.message = message
        self.kind = kind


# ---------------------------------------------------------------- the metric's zone and windows


def _widens(metric) -> bool:
    """Whether the history's outer edge is widened for this metric: instants read from a field.

    Calendar dates are the same date for every viewer (nothing to widen); None and Dynamic
    values are stamped by the sync, not fetched by window.
    """
    return metric.date_mode == DateMode.FIELD and metric.date_kind != DateKind.CALENDAR


def _earliest(metric, zone, now: datetime | None) -> date:
    """The first local date of the metric's history (``history_days`` before today in ``zone``)."""
    today = (now or timezone.now()).astimezone(zone).date()
    return today - timedelta(days=int(metric.history_days))


def rolling_window(metric, now: datetime | None = None) -> timeframes.Window:
    """The rolling window: ``window_days`` whole days before today in the metric's zone, and today up to now.

    When it reaches back to the history's first date (``window_days >= history_days``: there is no
    backfill) it is the history's oldest edge, so its start is that date's first instant anywhere
    (``timeframes.earliest_start``, up to 14 h earlier): the first day is whole for every viewer.
    Otherwise it starts where the newest backfill window ends.
    """
    now = now or timezone.now()
    window = timeframes.sync_window(now, metric.window_days, metric.zone)
    if _widens(metric) and int(metric.window_days) >= int(metric.history_days):
        first = window.start.astimezone(window.tz).date()
        return timeframes.Window(start=timeframes.earliest_start(first, window.tz), end=window.end, tz=window.tz)
    return window


def backfill_days(metric) -> int:
    """Days per backfill window: the metric's own window length, at least one day."""
    return max(1, int(metric.window_days))


def backfill_plan(metric, now: datetime | None = None) -> tuple[date, int]:
    """(anchor, number of windows): the history before the rolling window, in windows.

    ``anchor`` is the rolling window's first local date in the metric's zone.
    """
    now = now or timezone.now()
    window = timeframes.sync_window(now, metric.window_days, metric.zone)
    anchor = window.start.astimezone(window.tz).date()
    days = max(0, (anchor - _earliest(metric, window.tz, now)).days)
    if metric.date_mode != DateMode.FIELD:
        return anchor, 0  # None and Dynamic values have no history to fetch
    return anchor, math.ceil(days / backfill_days(metric))


def backfill_window(metric, anchor: date, index: int, now: datetime | None = None) -> timeframes.Window:
    """Backfill window ``index`` (0 = the newest), whole local days before ``anchor`` in the metric's zone.

    Each window ends one microsecond before the newer one starts. The oldest one (it reaches the
    history's first date) is the history's oldest edge and starts at that date's first instant
    anywhere (``timeframes.earliest_start``: up to 14 h before its midnight in UTC), so the first
    day of the history is whole in every zone a viewer may pick, UTC-12 to UTC+14; see
    ``builder.timeframes``, "Whole local days for every viewer". The sync stores and replaces
    exactly this window, so the extra hours are fetched and stored, never deleted unfetched.
    """
    zone = timeframes.get_zone(metric.zone)
    size = backfill_days(metric)
    last = anchor - timedelta(days=index * size + 1)
    first = last - timedelta(days=size - 1)
    earliest = _earliest(metric, zone, now)
    window = timeframes.days_window(max(first, earliest), last, zone)
    if first <= earliest and _widens(metric):
        return timeframes.Window(start=timeframes.earliest_start(earliest, zone), end=window.end, tz=zone)
    return window


# ---------------------------------------------------------------- evaluating and stamping


class Points(list):
    """``to_points``' answer: the (timestamp or None, value, dimension) points, plus

    ``dropped``: the items that could not be given a date (``storage.Dropped``), and
    ``source(i)``: (the raw date, the record's id or "") of point ``i``, for the storage's words
    about a point outside the window.
    """

    def __init__(self, points=(), dropped=None, source=None):
        super().__init__(points)
        self.dropped = dropped if dropped is not None else storage.Dropped()
        self.source = source or (lambda index: ("", ""))


def _undated(item) -> bool:
    """An item of the expression's array that has no date (missing, null or blank)."""
    if not isinstance(item, dict):
        return False
    date_value = item.get("date")
    return date_value is None or (isinstance(date_value, str) and not date_value.strip())


class _Records:
    """The record an item came from, by its id (Vtiger ``13x512``), for the words about a dropped point.

    Item ``i`` is record ``i`` when the response's records (``dates.find_records``) are as many as the
    items (one item per record, as the suggested expressions give); otherwise the first record whose
    date field holds the item's raw date, or none.
    """

    def __init__(self, metric, data, count):
        records = dates.find_records(data)[1]
        self.records = records if isinstance(records, list) else []
        self.positional = len(self.records) == count
        self.path = [part for part in (metric.date_field or "").split(".") if part]
        self.by_date = None

    @staticmethod
    def _id(record) -> str:
        value = record.get("id") if isinstance(record, dict) else None
        return "" if value is None or isinstance(value, dict | list) else str(value)

    def _date_of(self, record):
        for part in self.path:
            record = record.get(part) if isinstance(record, dict) else None
        return record

    def id(self, index, raw) -> str:
        if self.positional:
            return self._id(self.records[index])
        if not self.path or raw is None:
            return ""
        if self.by_date is None:
            self.by_date = {}
            for record in self.records:
                value = self._date_of(record)
                if isinstance(value, str | int | float) and not isinstance(value, bool):
                    self.by_date.setdefault(str(value), self._id(record))
        return self.by_date.get(str(raw), "")


def to_points(metric, data: Any, naive_tz: str) -> Points:
    """(timestamp or None, value, dimension) for each datapoint the expression gives (a ``Points``).

    An item without a date, or with a date its format cannot read, is not stored and not guessed:
    it is counted in ``Points.dropped`` with its raw value and its record, and said on the run.
    A date format that cannot be used at all stops the sync (DefinitionProblem).
    """
    try:
        result = transform.evaluate(metric.expression, data, timeout_ms=EVALUATE_TIMEOUT_MS, max_input_bytes=None)
        undated = set()
        if metric.date_mode == DateMode.FIELD and isinstance(result, list):
            # A missing date drops that item only: it is given a stand-in to pass the shape check.
            undated = {index for index, item in enumerate(result) if _undated(item)}
            if undated:
                result = [{**item, "date": 0} if index in undated else item for index, item in enumerate(result)]
        items = transform.to_datapoints(result, metric.date_mode)
    except transform.ExpressionError as exc:
        raise DefinitionProblem(f"The metric's expression failed: {exc}", "expression") from exc
    except transform.ShapeError as exc:
        raise DefinitionProblem(str(exc), "shape") from exc
    fmt = metric.date_format or dates.ISO
    if metric.date_mode == DateMode.FIELD and items:
        try:
            dates.parse(dates.example(fmt), fmt, "UTC")
        except (dates.DateParseError, placeholders.PatternError) as exc:
            raise DefinitionProblem(f"The metric's date format {fmt!r} cannot be used: {exc}", "date") from exc
    records = _Records(metric, data, len(items))
    dropped = storage.Dropped(metric.date_format or "")
    points, raws, kept = [], [], []
    for index, item in enumerate(items):
        stamp = None
        if metric.date_mode == DateMode.FIELD:
            if index in undated:
                dropped.add(storage.NO_DATE, "", records.id(index, None))
                continue
            try:
                stamp = dates.parse(item.date, fmt, metric.date_timezone or naive_tz)
            except dates.DateParseError:
                dropped.add(storage.BAD_DATE, item.date, records.id(index, item.date))
                continue
            raws.append(item.date)
            kept.append(index)
        points.append((stamp, item.value, (item.dimension or "")[:200]))

    def source(position):
        if position >= len(kept):
            return "", ""
        raw = raws[position]
        return str(raw), records.id(kept[position], raw)

    return Points(points, dropped, source)


# ---------------------------------------------------------------- one sync


class Heartbeat:
    """During a sync: the run's progress, and a sign of life on the lease (LeaseLost if it is not ours).

    Written at most every ``every_s`` (a quarter of SYNC_STALE_SECONDS, at most 1 s), so a quick
    one-page sync costs no extra queries: the storage checks the lease anyway. ``waiting``: the
    metrics of the same batch still to sync, whose leases are kept alive with this one's.
    """

    def __init__(self, metric_id, token, run_id=None, every_s=None, waiting=()):
        self.metric_id, self.token, self.run_id = metric_id, token, run_id
        self.waiting = list(waiting)
        self.every_s = every_s if every_s is not None else min(1.0, settings.SYNC_STALE_SECONDS / 4)
        self.last = time.monotonic()

    def __call__(self, fetched):
        if time.monotonic() - self.last < self.every_s:
            return
        self.last = time.monotonic()
        if self.run_id is not None:
            SyncRun.objects.filter(pk=self.run_id).update(requests=fetched.requests, pages=fetched.pages)
        if not self.token:
            return
        ours = SyncState.objects.filter(claimed_by=self.token)
        beaten = ours.filter(metric_id__in=[self.metric_id, *self.waiting]).update(heartbeat_at=timezone.now())
        if beaten <= len(self.waiting) and not ours.filter(metric_id=self.metric_id).exists():
            raise LeaseLost("Another worker took this metric over.")


def classify(problem) -> tuple[bool, bool]:
    """(transient, auth) for a problem."""
    if isinstance(problem, ConnectionProblem):
        # A body cut in half is the network's fault as often as the server's: try again.
        transient = bool(problem.transient) or isinstance(problem, NotJSON)
        return transient, problem.kind == "auth_rejected"
    return False, False


def _words(problem) -> str:
    message = getattr(problem, "message", None) or str(problem)
    return str(message)


def collect(metric, window, client, *, fetched, limiter=None, heartbeat=None, first_wait_s=None) -> list:
    """Every page of the metric's request for ``window``, evaluated: its points (see ``to_points``).

    ``fetched`` (a ``Fetched``) counts the requests and pages as they go; see ``fetch`` for the rest.
    """
    zone = metric.connection.data_timezone
    options = {"limiter": limiter, "on_page": heartbeat, "result": fetched, "first_wait_s": first_wait_s}
    fetch(client, metric.request_spec, window, zone, **options)
    return to_points(metric, fetched.data, zone)


EXPECTED_PROBLEMS = (ConnectionProblem, DefinitionProblem, placeholders.PlaceholderError, pagination.PaginationError)
NO_CONNECTION = "The metric has no connection (it was deleted): choose one in the metric's definition."


def close_as_failed(metric, sync_run, fetched, exc) -> SyncFailed:
    """Close ``sync_run`` as failed because of ``exc``, in words; the SyncFailed to raise."""
    if isinstance(exc, LeaseLost | DefinitionChanged):
        _finish_failed(sync_run, fetched, exc, "lease" if isinstance(exc, LeaseLost) else "definition_changed")
        return SyncFailed(sync_run, exc)
    if isinstance(exc, EXPECTED_PROBLEMS):
        transient, auth = classify(exc)
        _finish_failed(sync_run, fetched, exc, getattr(exc, "kind", None) or type(exc).__name__.lower())
        return SyncFailed(sync_run, exc, transient=transient, auth=auth)
    logger.error("Sync of metric %s failed unexpectedly", metric.pk, exc_info=exc)
    _finish_failed(sync_run, fetched, exc, "internal", "The sync failed because of an error in Metric Builder: ")
    return SyncFailed(sync_run, exc)


@contextmanager
def failures_recorded(metric, sync_run, fetched):
    """Inside: a failure closes ``sync_run`` (``close_as_failed``) and leaves as SyncFailed.

    Waiting for the budget (``ratelimit.BudgetWait``) is not a failure: nothing was sent, so the
    run record goes and the wait leaves as it is.
    """
    try:
        yield
    except ratelimit.BudgetWait:
        sync_run.delete()
        raise
    except Exception as exc:
        raise close_as_failed(metric, sync_run, fetched, exc) from exc


class NotSent(Exception):
    """This sync sent nothing: a sync before it on the same connection found the connection
    unusable for now (``cause``: that sync's ``ratelimit.BudgetWait`` or ``SyncFailed``)."""

    def __init__(self, cause):
        super().__init__(str(cause))
        self.cause = cause


def stops_the_rest(stop) -> bool:
    """Whether what ended a sync keeps the next syncs of its connection from being sent.

    The budget is spent (they would wait too), the credentials were refused (every metric of
    the connection pauses), or the API is down or silent (rather than wait out a timeout each).
    """
    if isinstance(stop, ratelimit.BudgetWait):
        return True
    return stop.auth or isinstance(stop.problem, Unreachable | Timeout)


def sync(writes: list[storage.Write], *, token: str = "", first_wait_s: float | None = None) -> None:
    """Fetch, evaluate and store these syncs: the one path of every sync, one or a batch.

    Each write comes with its run record opened (``start_run`` or ``new_run`` saved) and its
    window, stamp and backfill step; it leaves with ``error``:

    * None: its data were stored;
    * a ``SyncFailed``: nothing stored, its run record closed in words;
    * a ``ratelimit.BudgetWait`` (``first_wait_s`` passed before the budget would free up) or a
      ``NotSent``: nothing was sent for it, and its run record is deleted.

    The syncs of one connection share one HTTP session and rate limiter and are fetched in turn;
    those still to come keep their leases alive with the heartbeat of the one fetching. Every
    sync that was fetched is stored in one transaction, the lease (``token``) given back in it;
    a sync refused there (its lease or definition changed) fails on its own.
    """
    by_connection: dict = {}
    for write in writes:
        by_connection.setdefault(write.metric.connection_id, []).append(write)
    ordered = [write for group in by_connection.values() for write in group]
    done = 0
    for group in by_connection.values():
        done += len(group)
        _fetch_each(group, [write.metric.pk for write in ordered[done:]], token, first_wait_s)
    _store([write for write in ordered if write.error is None], token)


def _fetch_each(writes, later_ids, token, first_wait_s):
    """Fetch and evaluate the syncs of one connection in turn (``points``), until one stops the rest."""
    connection = writes[0].metric.connection
    with ExitStack() as stack:
        client = limiter = None
        for index, write in enumerate(writes):
            metric, rest = write.metric, writes[index + 1 :]
            write.fetched = Fetched()
            waiting = [other.metric.pk for other in rest] + later_ids
            heartbeat = Heartbeat(metric.pk, token, write.run.pk, waiting=waiting)
            try:
                with failures_recorded(metric, write.run, write.fetched):
                    if connection is None:
                        raise DefinitionProblem(NO_CONNECTION)
                    if client is None:  # opened by the first sync, so that a failure to open is its failure
                        client = stack.enter_context(Client(connection))
                        limiter = ratelimit.for_connection(connection)
                    options = {"limiter": limiter, "heartbeat": heartbeat, "first_wait_s": first_wait_s}
                    write.points = collect(metric, write.window, client, fetched=write.fetched, **options)
            except (ratelimit.BudgetWait, SyncFailed) as stop:
                write.error = stop
                if rest and stops_the_rest(stop):
                    for other in rest:
                        other.error = NotSent(stop)
                    SyncRun.objects.filter(pk__in=[other.run.pk for other in rest]).delete()
                    return


def _store(writes, token):
    """Store the fetched syncs in one transaction; a sync refused there fails on its own."""
    if not writes:
        return
    try:
        storage.store_many(writes, token=token, release=bool(token))
    except Exception as exc:  # the whole transaction rolled back: every sync of it failed
        for write in writes:
            write.error = exc
    for write in writes:
        if write.error is not None:
            write.error = close_as_failed(write.metric, write.run, write.fetched, write.error)
    for _, group in groupby(writes, key=lambda write: write.metric.connection_id):
        stored = [write for write in group if write.error is None]
        if not stored:
            continue
        logger.info(
            "Synced %d metrics of %r: %d requests, %d pages, %d datapoints%s",
            len(stored),
            stored[0].metric.connection.name,
            sum(write.fetched.requests for write in stored),
            sum(write.fetched.pages for write in stored),
            sum(write.written for write in stored),
            ", page cap hit" if any(write.fetched.cap_hit for write in stored) else "",
        )
        for write in stored:
            if write.run.dropped:
                logger.warning("Sync of %r: %s", write.metric.name, write.run.warning)


def run(
    metric,
    window: timeframes.Window,
    *,
    kind: str = SyncRun.Kind.SCHEDULED,
    token: str = "",
    planned_at: datetime | None = None,
    attempt: int = 1,
    backfill_index: int | None = None,
    first_wait_s: float | None = None,
    sync_run: SyncRun | None = None,
    release_next_sync_at: datetime | None = None,
) -> SyncRun:
    """Sync ``window`` of ``metric`` and store it, as a batch of one (``sync``); see the module docstring.

    ``sync_run``: the run record, when the caller opened it (``start_run``) with its claim. With
    a ``token``, the lease is released in the storage's transaction, with ``release_next_sync_at``
    as the next due time when given. Raises SyncFailed, or ``ratelimit.BudgetWait`` (nothing sent).
    """
    write = storage.Write(
        metric,
        [],
        window,
        stamp=planned_at or timezone.now(),
        expected_hash=metric.definition_hash(),
        run=sync_run or start_run(metric, window, kind=kind, token=token, attempt=attempt),
        backfill_index=backfill_index,
        next_sync_at=release_next_sync_at,
    )
    sync([write], token=token, first_wait_s=first_wait_s)
    if write.error is not None:
        raise write.error
    return write.run


def new_run(metric, window, *, kind=SyncRun.Kind.SCHEDULED, token="", attempt=1) -> SyncRun:
    """The run record of a sync about to start ("running"), not saved yet."""
    return SyncRun(
        metric=metric,
        kind=kind,
        token=token,
        attempt=attempt,
        started_at=timezone.now(),
        window_start=window.start if metric.date_mode == DateMode.FIELD else None,
        window_end=window.end if metric.date_mode == DateMode.FIELD else None,
    )


def start_run(metric, window, **options) -> SyncRun:
    """The run record of a sync about to start ("running"), saved; ``options`` as for ``new_run``."""
    sync_run = new_run(metric, window, **options)
    sync_run.save()
    return sync_run


def _finish_failed(sync_run, fetched, exc, kind_name, prefix=""):
    sync_run.status = SyncRun.Status.FAILED
    sync_run.finished_at = timezone.now()
    sync_run.requests, sync_run.pages = fetched.requests, fetched.pages
    sync_run.datapoints_written = 0
    if isinstance(exc, LeaseLost):
        text = "Another worker took this metric over while this sync ran; nothing was stored by this one."
    elif isinstance(exc, DefinitionChanged):
        text = (
            "The metric's definition was edited during this sync; its data were not stored "
            "(the new definition syncs next)."
        )
    else:
        text = prefix + _words(exc)
    sync_run.error = text[:2000]
    sync_run.error_kind = str(kind_name)[:32]
    sync_run.save(
        update_fields=["status", "finished_at", "requests", "pages", "datapoints_written", "error", "error_kind"]
    )
