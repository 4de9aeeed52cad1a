"""What a sync task does, without Celery: load, take the lease, sync, then retry, pause or finish.

``execute`` returns an ``Outcome``; the task only turns ``retry_in`` into a Celery retry.
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
from connections import services as connection_services
from connections.errors import RateLimited
from syncs import engine, ratelimit, services
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


def _load(metric_id):
    # The sync state (``metric.sync``) comes in the same query, a LEFT JOIN: one round trip less.
    related = ("connection", "owner", "owner__profile", "sync")
    return Metric.objects.select_related(*related).filter(pk=metric_id).first()


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
    if isinstance(planned_at, str):
        planned_at = datetime.fromisoformat(planned_at)
    planned_at = planned_at or timezone.now()

    # Claiming the metric and opening the run record: one short transaction.
    with transaction.atomic():
        # One query for this token's earlier runs serves two purposes: a finished run of this
        # attempt means this message is a duplicate delivery, and a "running" one was left by a
        # worker that died (closed below, once we hold the lease). A run under this token cannot
        # appear between this read and the claim: a live duplicate's claim would make ours fail.
        runs = SyncRun.objects.filter(metric=metric, token=token).order_by()  # no need to sort them
        earlier = list(runs.values_list("attempt", "status"))
        running = SyncRun.Status.RUNNING
        if token and any(a == attempt and status != running for a, status in earlier):
            return Outcome("skipped")  # this very message was already handled: a duplicate delivery
        if kind == SyncRun.Kind.SCHEDULED and (not state.in_use or state.is_paused):
            services.release(metric.pk, token)
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

        # A run left "running" under this token died with its worker: say so, then run again.
        if any(status == running for _, status in earlier):
            SyncRun.objects.filter(metric=metric, token=token, status=running).update(
                status=SyncRun.Status.FAILED,
                finished_at=timezone.now(),
                error=services.STUCK_MESSAGE,
                error_kind="worker_lost",
            )

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
        services.hold_for_retry(metric.pk, token)
        return Outcome("waiting", retry_in=wait.seconds + random.uniform(0, 1.0))
    except SyncFailed as failure:
        return _failed(metric, token, kind, attempt, failure, next_sync_at)

    if metric.connection is not None and metric.connection.status != metric.connection.Status.CONNECTED:
        connection_services.record_success(metric.connection)
    # The lease was released in the storage's transaction.
    if kind == SyncRun.Kind.BACKFILL:
        _continue_backfill(metric)
    return Outcome("synced", run=run)


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
        services.release(metric.pk, token, next_sync_at)
        return Outcome("paused", run=run)
    if failure.transient and attempt <= settings.SYNC_MAX_RETRIES:
        wait = backoff(attempt, failure.problem)
        run.error = f"{run.error} Trying again in {wait:.0f} s (retry {attempt} of {settings.SYNC_MAX_RETRIES})."
        run.save(update_fields=["error"])
        services.hold_for_retry(metric.pk, token)
        return Outcome("retry", run=run, retry_in=wait)
    if failure.transient:
        run.error = f"{run.error} Gave up after {attempt} attempts."
        run.save(update_fields=["error"])
    with transaction.atomic():
        paused = services.record_failure(metric, run)
    services.release(metric.pk, token, next_sync_at)
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

    With ``window`` (a placeholders.Window) that window is synced instead of the rolling one.
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
        services.release(metric.pk, token)
