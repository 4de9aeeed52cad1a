"""What a sync task does, without Celery: load, take the lease, sync, then retry, pause or finish.

``execute`` syncs one metric (Sync now, backfills, retries, the command); ``execute_batch`` the
scheduled syncs of several due metrics of one connection, as the dispatcher queues them. Both
return ``Outcome``s; the tasks only turn ``retry_in`` into Celery retries.
Failures are classified:

* transient (5xx, timeouts, unreachable, a 429, a body cut in half): retried with exponential
  backoff and jitter (a 429 waits for ``Retry-After`` / ``X-FloodControl-Reset``), up to
  SYNC_MAX_RETRIES, keeping the lease meanwhile;
* an authentication failure: the connection is marked (``connections.services.record_problem``)
  and every metric on it pauses, with the reason, until a successful connection test;
* anything else (the definition, or retries spent): one more failure; after SYNC_MAX_FAILURES
  in a row the metric pauses and its owner is told, in the app and by email.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from builder.models import Metric
from connections import ratelimit
from connections import services as connection_services
from connections.client import Client
from connections.errors import RateLimited, Timeout, Unreachable
from syncs import engine, services, storage
from syncs.engine import SyncFailed
from syncs.errors import LeaseLost
from syncs.models import MetricSync, SyncRun

logger = logging.getLogger(__name__)

BUSY_RETRY_S = 5.0
# A sync whose connection has no budget left for this long gives its worker back and comes
# back when the budget frees up, instead of sleeping in the worker.
BUDGET_INLINE_WAIT_S = 5.0


@dataclass
class Outcome:
    status: str  # "synced", "failed", "retry", "waiting", "busy", "skipped", "gone", "paused"
    run: SyncRun | None = None
    retry_in: float | None = None


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


# The sync state (``metric.sync``) comes in the same query, a LEFT JOIN: one round trip less.
RELATED = ("connection", "owner", "owner__profile", "sync")


def _load(metric_id):
    return Metric.objects.select_related(*RELATED).filter(pk=metric_id).first()


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


def _close_dead_runs(metric_ids, token):
    """Runs left "running" under this token died with their worker: say so (they run again)."""
    SyncRun.objects.filter(metric_id__in=metric_ids, token=token, status=SyncRun.Status.RUNNING).update(
        status=SyncRun.Status.FAILED,
        finished_at=timezone.now(),
        error=services.STUCK_MESSAGE,
        error_kind="worker_lost",
    )


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
    metric = _load(metric_id)
    if metric is None:
        return Outcome("gone")
    state = getattr(metric, "sync", None)  # loaded with the metric; None when it has none yet
    if state is None:
        state = services.state_for(metric)
    planned_at = _planned(planned_at)

    # Claiming the metric and opening the run record: one short transaction.
    with transaction.atomic():
        # One query for this token's earlier runs serves two purposes: a finished run of this
        # attempt means this message is a duplicate delivery, and a "running" one was left by a
        # worker that died (closed below, once we hold the lease). A run under this token cannot
        # appear between this read and the claim: a live duplicate's claim would make ours fail.
        earlier = _earlier_runs([metric.pk], token)[metric.pk]
        if token and _handled(earlier, attempt):
            return Outcome("skipped")  # this very message was already handled: a duplicate delivery
        if kind == SyncRun.Kind.SCHEDULED and (not state.in_use or state.is_paused):
            services.release([metric.pk], token)
            return Outcome("skipped")
        if kind == SyncRun.Kind.BACKFILL and (not state.in_use or not state.backfill_running or state.is_paused):
            return Outcome("skipped")
        if not services.acquire(metric.pk, token):
            state.refresh_from_db()
            if state.claimed_by == token or kind == SyncRun.Kind.SCHEDULED:
                # Our own claim is being worked on by a live duplicate, or another sync of this
                # metric runs right now (its data are as fresh as ours would be).
                return Outcome("busy")
            return Outcome("busy", retry_in=BUSY_RETRY_S)

        if _left_running(earlier):
            _close_dead_runs([metric.pk], token)

        backfill_index = None
        if kind == SyncRun.Kind.BACKFILL:
            state.refresh_from_db()
            backfill_index = state.backfill_done_windows
            window = engine.backfill_window(metric, state.backfill_anchor, backfill_index)
        else:
            window = engine.rolling_window(metric, planned_at if kind == SyncRun.Kind.SCHEDULED else None)
        sync_run = engine.start_run(metric, window, kind=kind, token=token, attempt=attempt)

    next_sync_at = planned_at + services.interval(metric) if kind == SyncRun.Kind.SCHEDULED else None
    try:
        run = engine.run(
            metric,
            window,
            kind=kind,
            token=token,
            planned_at=planned_at,
            attempt=attempt,
            backfill_index=backfill_index,
            first_wait_s=BUDGET_INLINE_WAIT_S,
            run=sync_run,
            release_next_sync_at=next_sync_at,
        )
    except ratelimit.BudgetWait as wait:
        services.hold_for_retry([metric.pk], token)
        return Outcome("waiting", retry_in=wait.seconds + random.uniform(0, 1.0))
    except SyncFailed as failure:
        return _failed(metric, token, kind, attempt, failure, next_sync_at)

    if metric.connection is not None:
        connection_services.record_success(metric.connection)
    # The lease was released in the storage's transaction.
    if kind == SyncRun.Kind.BACKFILL:
        _continue_backfill(metric)
    return Outcome("synced", run=run)


def execute_batch(metric_ids: list[int], token: str, planned_at: datetime | str | None = None) -> dict:
    """The scheduled syncs of several due metrics of one connection (a dispatcher's batch): {metric id: Outcome}.

    Each metric gets what ``execute`` gives it: its own lease, run record, retries and failures.
    What the batch shares: one transaction to claim them all and open their run records (so a
    run starts when its batch is claimed), one HTTP session and rate limiter, one transaction to
    store every sync's data (a sync refused there, its lease or definition changed, fails
    alone), and one evaluation of their alerts.
    A sync to retry comes back as Outcome("retry") (the task queues it on its own); when the
    connection's budget runs out, that sync and the rest of the batch come back "waiting".
    Metrics on different connections, or on none, sync one by one through ``execute``.
    """
    planned_at = _planned(planned_at)
    metrics = list(Metric.objects.select_related(*RELATED).filter(pk__in=metric_ids).order_by("pk"))
    outcomes = {pk: Outcome("gone") for pk in metric_ids}
    if len({metric.connection_id for metric in metrics}) > 1 or any(m.connection is None for m in metrics):
        for metric in metrics:
            outcomes[metric.pk] = execute(metric.pk, token, planned_at=planned_at)
        return outcomes
    with transaction.atomic():
        # Each claimed sync as the write it will be; its points come with the fetch.
        writes = []
        for metric in _claim_batch(metrics, token, outcomes):
            window = engine.rolling_window(metric, planned_at)
            write = storage.Write(
                metric,
                [],
                window,
                stamp=planned_at,
                expected_hash=metric.definition_hash(),
                run=engine.new_run(metric, window, token=token),
                next_sync_at=planned_at + services.interval(metric),
            )
            writes.append(write)
        SyncRun.objects.bulk_create([write.run for write in writes])
    if writes:
        _store_batch(_fetch_batch(writes, token, outcomes), token, outcomes)
    return outcomes


def _claim_batch(metrics, token, outcomes) -> list:
    """The metrics of the batch this worker now holds the lease of; ``outcomes`` says why of the others."""
    earlier = _earlier_runs([metric.pk for metric in metrics], token)
    candidates, idle = [], []
    for metric in metrics:
        state = getattr(metric, "sync", None) or services.state_for(metric)
        if _handled(earlier[metric.pk], 1):
            outcomes[metric.pk] = Outcome("skipped")  # a duplicate delivery of the batch
        elif not state.in_use or state.is_paused:
            outcomes[metric.pk] = Outcome("skipped")
            idle.append(metric.pk)
        else:
            candidates.append(metric)
    if idle:
        services.release(idle, token)
    taken = services.acquire_many([metric.pk for metric in candidates], token) if candidates else set()
    for metric in candidates:
        if metric.pk not in taken:
            outcomes[metric.pk] = Outcome("busy")  # another sync of it runs now: its data are as fresh
    claimed = [metric for metric in candidates if metric.pk in taken]
    dead = [metric.pk for metric in claimed if _left_running(earlier[metric.pk])]
    if dead:
        _close_dead_runs(dead, token)
    return claimed


def _fetch_batch(writes, token, outcomes) -> list:
    """Fetch and evaluate each claimed sync in turn; the writes of those that succeeded, with their points."""
    connection = writes[0].metric.connection
    limiter = ratelimit.for_connection(connection)
    fetched_writes = []
    with Client(connection) as client:
        for index, write in enumerate(writes):
            metric, rest = write.metric, writes[index + 1 :]
            write.fetched = engine.Fetched()
            heartbeat = engine.Heartbeat(metric.pk, token, write.run.pk, waiting=[other.metric.pk for other in rest])
            try:
                with engine.failures_recorded(metric, write.run, write.fetched):
                    options = {"limiter": limiter, "heartbeat": heartbeat, "first_wait_s": BUDGET_INLINE_WAIT_S}
                    write.points = engine.collect(metric, write.window, client, fetched=write.fetched, **options)
            except ratelimit.BudgetWait as wait:
                # Nothing more can be sent for a while: this sync and the rest wait together.
                _wait_together([write, *rest], token, wait.seconds + random.uniform(0, 1.0), outcomes)
                break
            except SyncFailed as failure:
                outcome = _failed(metric, token, SyncRun.Kind.SCHEDULED, 1, failure, write.next_sync_at)
                outcomes[metric.pk] = outcome
                if failure.auth:
                    # The connection refused the credentials: all its metrics are paused now.
                    _drop_runs(rest)
                    services.release([other.metric.pk for other in rest], token)
                    outcomes.update({other.metric.pk: Outcome("paused") for other in rest})
                    break
                if rest and isinstance(failure.problem, Unreachable | Timeout):
                    # The API is down or silent: rather than wait out a timeout each, the rest
                    # wait for this sync's backoff, together, without spending an attempt.
                    _wait_together(rest, token, outcome.retry_in or backoff(1), outcomes)
                    break
                continue
            fetched_writes.append(write)
    return fetched_writes


def _wait_together(writes, token, retry_in, outcomes):
    """These syncs send nothing now: they keep their leases and come back as one batch in ``retry_in`` s."""
    _drop_runs(writes)
    waiting = [write.metric.pk for write in writes]
    services.hold_for_retry(waiting, token)
    outcomes.update({pk: Outcome("waiting", retry_in=retry_in) for pk in waiting})


def _drop_runs(writes):
    """The run records of syncs that will not run now (nothing was sent for them)."""
    SyncRun.objects.filter(pk__in=[write.run.pk for write in writes]).delete()


def _store_batch(writes, token, outcomes):
    """Store the batch's data in one transaction; a sync refused there fails on its own."""
    if not writes:
        return
    try:
        storage.store_many(writes, token=token, release=True)
    except Exception as exc:  # the whole transaction rolled back: every sync of it failed
        for write in writes:
            write.error = exc
    for write in writes:
        metric = write.metric
        if write.error is None:
            outcomes[metric.pk] = Outcome("synced", run=write.run)
            continue
        failure = engine.failed(metric, write.run, write.fetched, write.error)
        outcomes[metric.pk] = _failed(metric, token, SyncRun.Kind.SCHEDULED, 1, failure, write.next_sync_at)
    stored = [write for write in writes if write.error is None]
    connection = writes[0].metric.connection
    if stored:
        connection_services.record_success(connection)
    requests = sum(write.fetched.requests for write in stored)
    written = sum(write.written for write in stored)
    logger.info("Synced %d metrics of %r: %d requests, %d datapoints", len(stored), connection.name, requests, written)


def _failed(metric, token, kind, attempt, failure, next_sync_at) -> Outcome:
    run = failure.run
    if isinstance(failure.problem, LeaseLost):
        return Outcome("failed", run=run)
    if failure.auth:
        connection = metric.connection
        connection_services.record_problem(connection, failure.problem)
        reason = (
            f"its connection “{connection.name}” refused the credentials ({failure.problem.message}) "
            "An admin must fix the connection; syncs resume after a successful connection test."
        )
        services.pause_connection_metrics(connection, reason)
        services.release([metric.pk], token, next_sync_at)
        return Outcome("paused", run=run)
    if failure.transient and attempt <= settings.SYNC_MAX_RETRIES:
        wait = backoff(attempt, failure.problem)
        run.error = f"{run.error} Trying again in {wait:.0f} s (retry {attempt} of {settings.SYNC_MAX_RETRIES})."
        run.save(update_fields=["error"])
        services.hold_for_retry([metric.pk], token)
        return Outcome("retry", run=run, retry_in=wait)
    if failure.transient:
        run.error = f"{run.error} Gave up after {attempt} attempts."
        run.save(update_fields=["error"])
    with transaction.atomic():
        paused = services.record_failure(metric, run)
    services.release([metric.pk], token, next_sync_at)
    return Outcome("paused" if paused else "failed", run=run)


def _continue_backfill(metric):
    state = MetricSync.objects.get(metric=metric)
    if state.in_use and state.backfill_running and not state.is_paused:
        from syncs.tasks import backfill_metric

        pk = metric.pk
        transaction.on_commit(lambda: backfill_metric.delay(pk))


def sync_now(metric) -> str:
    """Queue a Sync now of the rolling window; the token of its run (the view polls for it)."""
    from syncs.tasks import sync_metric

    services.state_for(metric)
    token = services.new_token("now-")
    pk = metric.pk
    transaction.on_commit(lambda: sync_metric.delay(pk, token, kind=SyncRun.Kind.MANUAL))
    return token


def run_in_foreground(metric, window=None) -> SyncRun:
    """One sync now, in this process (``manage.py sync_metric``): the run record, stored or failed.

    With ``window`` (a timeframes.Window) that window is synced instead of the rolling one.
    Waits for the lease if a worker is syncing the metric.
    """
    import time

    services.state_for(metric)
    token = services.new_token("cli-")
    deadline = time.monotonic() + 120
    while not services.acquire(metric.pk, token):
        if time.monotonic() > deadline:
            raise RuntimeError("A worker has been syncing this metric for 2 minutes; try again later.")
        time.sleep(1)
    try:
        window = window or engine.rolling_window(metric)
        try:
            return engine.run(metric, window, kind=SyncRun.Kind.MANUAL, token=token)
        except SyncFailed as failure:
            if failure.auth:
                connection_services.record_problem(metric.connection, failure.problem)
            return failure.run
    finally:
        services.release([metric.pk], token)
