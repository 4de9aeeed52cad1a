"""What a sync task does, without Celery: load, take the lease, sync, then retry, pause or finish.

One path for every sync: ``execute_batch`` syncs the metrics it is given as one batch (the
dispatcher's batches of due metrics, a batch's syncs waiting for the budget), ``execute`` is a
batch of one (Sync now, backfill steps, retries), and ``run_in_foreground`` one more (the
``sync_metric`` command). What differs between them is data, a ``Job``: the kind of sync, its
planned time, the attempt, and for the command its own window and no retries. Each metric of a
batch gets its own lease, run record, retries and failures; the batch shares one transaction to
claim them all and open their run records (``_claim``), one HTTP session and rate limiter per
connection and one transaction to store every sync's data (``engine.sync``).

Each sync ends in an ``Outcome``; the tasks turn ``retry_in`` into Celery retries and queue a
backfill's next step when ``backfill_continues``. Failures are classified:

* transient (5xx, timeouts, unreachable, a 429, a body cut in half): retried with exponential
  backoff and jitter (a 429 waits for ``Retry-After`` / ``X-FloodControl-Reset``), up to
  SYNC_MAX_RETRIES, keeping the lease meanwhile; the run record says when (``retry_at``);
* an authentication failure: the connection is marked (``connections.services.record_problem``)
  and every metric on it pauses, with the reason, until a successful connection test;
* anything else (the definition, or retries spent): one more failure; after SYNC_MAX_FAILURES
  in a row the metric pauses and its owner is told, in the app and by email.

When the connection's budget runs out, that sync and the rest of its batch come back "waiting"
(nothing sent, no attempt spent); after an unreachable or silent API the rest wait for its
retry; after refused credentials the rest are paused with it.
"""

from __future__ import annotations

import enum
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from builder import timeframes
from builder.models import Metric
from connections import ratelimit
from connections import services as connection_services
from connections.errors import RateLimited
from syncs import engine, services, storage
from syncs.engine import SyncFailed
from syncs.errors import LeaseLost
from syncs.models import SyncRun, SyncState

logger = logging.getLogger(__name__)

BUSY_RETRY_S = 5.0
# A sync whose connection has no budget left for this long gives its worker back and comes
# back when the budget frees up, instead of sleeping in the worker.
BUDGET_INLINE_WAIT_S = 5.0
FOREGROUND_LEASE_WAIT_S = 120


class Status(enum.StrEnum):
    SYNCED = "synced"  # stored
    FAILED = "failed"  # stored nothing, retries spent or not worth it
    RETRY = "retry"  # failed for now: to be tried again in ``retry_in`` s, the lease kept
    WAITING = "waiting"  # nothing sent: again in ``retry_in`` s, the same attempt, the lease kept
    BUSY = "busy"  # another sync of the metric runs now
    SKIPPED = "skipped"  # a duplicate delivery, or no longer wanted (not in use, paused)
    GONE = "gone"  # the metric was deleted
    PAUSED = "paused"  # the metric pauses (refused credentials, too many failures in a row)


@dataclass
class Outcome:
    status: Status
    run: SyncRun | None = None
    retry_in: float | None = None
    backfill_continues: bool = False  # a backfill step was stored and more remain: queue the next


@dataclass(frozen=True)
class Job:
    """What a task (or the command) asks of each metric it names: the differences between syncs, as data."""

    kind: SyncRun.Kind = SyncRun.Kind.SCHEDULED
    planned_at: datetime | None = None  # a scheduled sync's due time: its window's end, its stamp
    attempt: int = 1
    window: timeframes.Window | None = None  # the command's --from/--to; else the kind's window
    foreground: bool = False  # the command: waits for the budget, nothing retried, counted or paused


def backoff(attempt: int, problem=None) -> float:
    """Seconds before retry ``attempt`` (1 = the first retry): exponential with jitter; a 429 waits its reset."""
    if isinstance(problem, RateLimited):
        if problem.reset_at is not None:
            wait = (problem.reset_at - timezone.now()).total_seconds()
        else:
            wait = float(problem.retry_after or 60)
        return max(1.0, wait) + random.uniform(0, 1.0)
    base = settings.SYNC_RETRY_BASE_SECONDS * (2 ** (attempt - 1))
    return min(settings.SYNC_RETRY_MAX_SECONDS, base) * random.uniform(0.5, 1.5)


# The sync state (``metric.sync_state``) comes in the same query, a LEFT JOIN: one round trip less.
RELATED = ("connection", "owner", "owner__profile", "sync_state")


def _planned(planned_at):
    if isinstance(planned_at, str):
        planned_at = datetime.fromisoformat(planned_at)
    return planned_at or timezone.now()


def execute(
    metric_id: int,
    token: str,
    kind: str = SyncRun.Kind.SCHEDULED,
    planned_at: datetime | str | None = None,
    attempt: int = 1,
) -> Outcome:
    """One sync of one metric (Sync now, a backfill step, a retry): a batch of one."""
    return execute_batch([metric_id], token, planned_at, kind=kind, attempt=attempt)[metric_id]


def execute_batch(
    metric_ids: list[int],
    token: str,
    planned_at: datetime | str | None = None,
    *,
    kind: str = SyncRun.Kind.SCHEDULED,
    attempt: int = 1,
) -> dict:
    """The syncs of these metrics, as one batch (see the module docstring): {metric id: Outcome}."""
    job = Job(kind=SyncRun.Kind(kind), planned_at=_planned(planned_at), attempt=attempt)
    return _sync(metric_ids, token, job)


def run_in_foreground(metric, window=None) -> SyncRun:
    """One sync now, in this process (``manage.py sync_metric``): the run record, stored or failed.

    With ``window`` (a timeframes.Window) that window is synced instead of the rolling one.
    Waits for the lease if a worker is syncing the metric, and for the connection's budget.
    """
    token = services.new_token("cli-")
    deadline = time.monotonic() + FOREGROUND_LEASE_WAIT_S
    try:
        while True:
            job = Job(kind=SyncRun.Kind.MANUAL, planned_at=timezone.now(), window=window, foreground=True)
            outcome = _sync([metric.pk], token, job)[metric.pk]
            if outcome.status != Status.BUSY:
                return outcome.run
            if time.monotonic() > deadline:
                raise RuntimeError("A worker has been syncing this metric for 2 minutes; try again later.")
            time.sleep(1)  # the worker's sync takes seconds; ask for the lease again
    finally:
        services.release([metric.pk], token)  # given back already, unless this process was interrupted


def _sync(metric_ids, token, job) -> dict:
    metrics = list(Metric.objects.select_related(*RELATED).filter(pk__in=metric_ids).order_by("pk"))
    outcomes = {pk: Outcome(Status.GONE) for pk in metric_ids}
    writes = _claim(metrics, token, job, outcomes)
    if writes:
        engine.sync(writes, token=token, first_wait_s=None if job.foreground else BUDGET_INLINE_WAIT_S)
        _conclude(writes, token, job, outcomes)
    return outcomes


# ---------------------------------------------------------------- claiming


def _claim(metrics, token, job, outcomes) -> list[storage.Write]:
    """Take the leases of the metrics to sync and open their run records, in one short transaction.

    The writes the syncs will fill; ``outcomes`` says why of the others. One query for this
    token's earlier runs serves two purposes: a finished run of this attempt means the message
    is a duplicate delivery, and a "running" one was left by a worker that died (closed once we
    hold the lease). A run under this token cannot appear between this read and the claim: a
    live duplicate's claim would make ours fail.
    """
    with transaction.atomic():
        earlier = _earlier_runs([metric.pk for metric in metrics], token)
        wanted, idle = [], []
        for metric in metrics:
            sync_state = getattr(metric, "sync_state", None) or services.sync_state_for(metric)  # None: it has none yet
            if token and _handled(earlier[metric.pk], job.attempt):
                outcomes[metric.pk] = Outcome(Status.SKIPPED)  # this very message was already handled
            elif not _wanted(job.kind, sync_state):
                outcomes[metric.pk] = Outcome(Status.SKIPPED)
                if job.kind == SyncRun.Kind.SCHEDULED:
                    idle.append(metric.pk)  # the dispatcher's claim goes back
            else:
                wanted.append(metric)
        if idle:
            services.release(idle, token)
        taken = services.acquire_many([metric.pk for metric in wanted], token) if wanted else set()
        claimed = []
        for metric in wanted:
            if metric.pk in taken:
                claimed.append(metric)
            else:
                outcomes[metric.pk] = _busy(metric, token, job)
        dead = [metric.pk for metric in claimed if _left_running(earlier[metric.pk])]
        if dead:
            _close_dead_runs(dead, token)
        writes = [_write(metric, token, job) for metric in claimed]
        SyncRun.objects.bulk_create([write.run for write in writes])
    return writes


def _earlier_runs(metric_ids, token) -> dict:
    """{metric id: [(attempt, status)]} of the runs under ``token``, in one query."""
    earlier = {pk: [] for pk in metric_ids}
    runs = SyncRun.objects.filter(metric_id__in=metric_ids, token=token).order_by()  # no need to sort them
    for metric_id, attempt, status in runs.values_list("metric_id", "attempt", "status"):
        earlier[metric_id].append((attempt, status))
    return earlier


def _handled(earlier, attempt) -> bool:
    """This attempt already ran to its end: the message is a duplicate delivery."""
    return any(a == attempt and status != SyncRun.Status.RUNNING for a, status in earlier)


def _left_running(earlier) -> bool:
    return any(status == SyncRun.Status.RUNNING for _, status in earlier)


def _wanted(kind, sync_state) -> bool:
    """Whether a sync of this kind is still wanted: Sync now always; a scheduled sync while the
    metric is in use and not paused; a backfill step while its backfill runs, too."""
    if kind == SyncRun.Kind.MANUAL:
        return True
    if not sync_state.in_use or sync_state.is_paused:
        return False
    return kind != SyncRun.Kind.BACKFILL or sync_state.backfill_running


def _busy(metric, token, job) -> Outcome:
    """Another holder has the lease: a scheduled sync leaves it the work (its data are as fresh as
    ours would be), as does a live duplicate of our own claim; any other sync comes back soon."""
    if job.kind == SyncRun.Kind.SCHEDULED:
        return Outcome(Status.BUSY)
    holder = SyncState.objects.filter(metric=metric).values_list("claimed_by", flat=True).first()
    if holder == token:
        return Outcome(Status.BUSY)
    return Outcome(Status.BUSY, retry_in=BUSY_RETRY_S)


def _close_dead_runs(metric_ids, token):
    """Runs left "running" under this token died with their worker: say so (they run again)."""
    SyncRun.objects.filter(metric_id__in=metric_ids, token=token, status=SyncRun.Status.RUNNING).update(
        status=SyncRun.Status.FAILED,
        finished_at=timezone.now(),
        error=services.STUCK_MESSAGE,
        error_kind="worker_lost",
    )


def _write(metric, token, job) -> storage.Write:
    """The claimed sync as the write it will be (its points come with the fetch), its run record not saved yet."""
    backfill_index = None
    if job.window is not None:
        window = job.window
    elif job.kind == SyncRun.Kind.BACKFILL:
        # Read under the lease: the step the state expects now (the previous one may just have ended).
        anchor, backfill_index = (
            SyncState.objects.filter(metric=metric).values_list("backfill_anchor", "backfill_done_windows").get()
        )
        window = engine.backfill_window(metric, anchor, backfill_index)
    else:
        window = engine.rolling_window(metric, job.planned_at)
    scheduled = job.kind == SyncRun.Kind.SCHEDULED
    return storage.Write(
        metric,
        [],
        window,
        stamp=job.planned_at,
        expected_hash=metric.definition_hash(),
        run=engine.new_run(metric, window, kind=job.kind, token=token, attempt=job.attempt),
        backfill_index=backfill_index,
        next_sync_at=job.planned_at + services.interval(metric) if scheduled else None,
    )


# ---------------------------------------------------------------- after the sync


def _conclude(writes, token, job, outcomes):
    """Each sync's Outcome from how it ended (``engine.sync``), and what that leaves to do."""
    held, paused_with_it = [], []
    retry_in_after = {}  # the retry_in of a sync that stopped the rest, by what stopped them
    connections = {}
    for write in writes:
        metric, error = write.metric, write.error
        if error is None:
            connections.setdefault(metric.connection_id, metric.connection)
            outcome = Outcome(Status.SYNCED, run=write.run)
            if job.kind == SyncRun.Kind.BACKFILL:
                outcome.backfill_continues = _backfill_continues(metric)
        elif isinstance(error, ratelimit.BudgetWait):
            # Nothing more can be sent for a while: this sync and the rest wait together.
            retry_in_after[id(error)] = error.seconds + random.uniform(0, 1.0)
            outcome = Outcome(Status.WAITING, retry_in=retry_in_after[id(error)])
            held.append(metric.pk)
        elif isinstance(error, engine.NotSent):
            if isinstance(error.cause, SyncFailed) and error.cause.auth:
                outcome = Outcome(Status.PAUSED)  # the connection refused the credentials: all its metrics pause
                paused_with_it.append(metric.pk)
            else:
                # The budget, or an API down or silent: rather than wait out a timeout each, the
                # rest wait for that sync's retry, together, without spending an attempt.
                outcome = Outcome(Status.WAITING, retry_in=retry_in_after[id(error.cause)])
                held.append(metric.pk)
        else:
            outcome = _failure_outcome(metric, token, job, error, write.next_sync_at)
            retry_in_after[id(error)] = outcome.retry_in or backoff(1)
        outcomes[metric.pk] = outcome
    if held:
        services.hold_for_retry(held, token)
    if paused_with_it:
        services.release(paused_with_it, token)
    # The leases of the stored syncs were released in the storage's transaction.
    for connection in connections.values():
        connection_services.record_success(connection)


def _failure_outcome(metric, token, job, failure, next_sync_at) -> Outcome:
    """Retry, pause or give up after ``failure`` (see the module docstring); the lease is kept for a retry."""
    run = failure.run
    if isinstance(failure.problem, LeaseLost):
        return Outcome(Status.FAILED, run=run)
    if job.foreground:
        # The person at the terminal reads the failure: nothing is retried, counted or paused.
        if failure.auth:
            connection_services.record_problem(metric.connection, failure.problem)
        services.release([metric.pk], token)
        return Outcome(Status.FAILED, run=run)
    if failure.auth:
        connection = metric.connection
        connection_services.record_problem(connection, failure.problem)
        reason = (
            f"its connection “{connection.name}” refused the credentials ({failure.problem.message}) "
            "An admin must fix the connection; syncs resume after a successful connection test."
        )
        services.pause_connection_metrics(connection, reason)
        services.release([metric.pk], token, next_sync_at)
        return Outcome(Status.PAUSED, run=run)
    if failure.transient and job.attempt <= settings.SYNC_MAX_RETRIES:
        wait = backoff(job.attempt, failure.problem)
        run.error = f"{run.error} Trying again in {wait:.0f} s (retry {job.attempt} of {settings.SYNC_MAX_RETRIES})."
        run.retry_at = timezone.now() + timedelta(seconds=wait)
        run.save(update_fields=["error", "retry_at"])
        services.hold_for_retry([metric.pk], token)
        return Outcome(Status.RETRY, run=run, retry_in=wait)
    if failure.transient:
        run.error = f"{run.error} Gave up after {job.attempt} attempts."
        run.save(update_fields=["error"])
    with transaction.atomic():
        paused = services.record_failure(metric, run)
    services.release([metric.pk], token, next_sync_at)
    return Outcome(Status.PAUSED if paused else Status.FAILED, run=run)


def _backfill_continues(metric) -> bool:
    sync_state = SyncState.objects.get(metric=metric)
    return sync_state.in_use and sync_state.backfill_running and not sync_state.is_paused


def current_window_first(metric_id) -> bool:
    """Should the backfill's next step sync the rolling window first? Yes before its first window
    while the rolling window is due (as ``uses.activate`` and an edited definition leave it): the
    newest data are stored before the history, so a new metric's current number is right at once."""
    sync_state = SyncState.objects.filter(metric_id=metric_id).first()
    if sync_state is None or not sync_state.in_use or sync_state.is_paused or sync_state.backfill_done_windows:
        return False
    return sync_state.next_sync_at is not None and sync_state.next_sync_at <= timezone.now()
