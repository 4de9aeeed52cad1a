"""Thin Celery tasks: each takes primary keys, reloads, and calls a service; and the two ways the
product queues them (Sync now, a backfill's steps).

The imports point one way: the tasks call ``runner``, ``services`` and ``dispatcher``, which
queue nothing themselves: the runner says in its ``Outcome`` what comes next (a retry, the
backfill's next step) and the task queues it.
"""

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from syncs import dispatcher, runner, services
from syncs.models import SyncRun
from syncs.runner import Status

# Behind the expression box's own limits: a sync task never holds its worker for ever.
LIMITS = {"soft_time_limit": settings.SYNC_TASK_SOFT_TIME_LIMIT, "time_limit": settings.SYNC_TASK_TIME_LIMIT}


@shared_task(name="syncs.sync_metric", bind=True, ignore_result=True, max_retries=None, **LIMITS)
def sync_metric(self, metric_id, token, kind=SyncRun.Kind.SCHEDULED, planned_at=None, attempt=1):
    outcome = runner.execute(metric_id, token, kind=kind, planned_at=planned_at, attempt=attempt)
    if outcome.retry_in is not None:
        next_attempt = attempt + 1 if outcome.status == Status.RETRY else attempt
        kwargs = {"kind": kind, "planned_at": planned_at, "attempt": next_attempt}
        raise self.retry(args=(metric_id, token), kwargs=kwargs, countdown=outcome.retry_in)
    return outcome.status


@shared_task(name="syncs.sync_batch", bind=True, ignore_result=True, max_retries=None, **LIMITS)
def sync_batch(self, metric_ids, token, planned_at=None):
    """The scheduled syncs of several due metrics of one connection; a sync to retry is queued on its own."""
    outcomes = runner.execute_batch(metric_ids, token, planned_at=planned_at)
    for metric_id, outcome in outcomes.items():
        if outcome.status == Status.RETRY:
            kwargs = {"kind": SyncRun.Kind.SCHEDULED, "planned_at": planned_at, "attempt": 2}
            sync_metric.apply_async((metric_id, token), kwargs, countdown=outcome.retry_in)
    waiting = {pk: outcome.retry_in for pk, outcome in outcomes.items() if outcome.status == Status.WAITING}
    if waiting:
        countdown = max(waiting.values())
        raise self.retry(args=(list(waiting), token), kwargs={"planned_at": planned_at}, countdown=countdown)
    return len(outcomes)


@shared_task(name="syncs.backfill_metric", bind=True, ignore_result=True, max_retries=None, **LIMITS)
def backfill_metric(self, metric_id, token=None, attempt=1):
    """One backfill window; the next step is queued when it is stored.

    The newest data come first: when the backfill's first step finds the rolling window due (a
    metric just put in use, or whose definition was edited), it syncs that window before any
    history, so the metric's current number is right once its first sync is stored.
    """
    if token is None and runner.current_window_first(metric_id):
        _sync_current_window(metric_id)
    token = token or services.new_token("bf-")
    outcome = runner.execute(metric_id, token, kind=SyncRun.Kind.BACKFILL, attempt=attempt)
    if outcome.retry_in is not None:
        next_attempt = attempt + 1 if outcome.status == Status.RETRY else attempt
        raise self.retry(args=(metric_id, token), kwargs={"attempt": next_attempt}, countdown=outcome.retry_in)
    if outcome.backfill_continues:
        start_or_continue_backfill(metric_id)
    return outcome.status


def _sync_current_window(metric_id):
    """The scheduled sync of the rolling window, here and now; a retry goes out as its own task."""
    planned_at = timezone.now()
    token = services.new_token("first-")
    outcome = runner.execute(metric_id, token, kind=SyncRun.Kind.SCHEDULED, planned_at=planned_at)
    if outcome.retry_in is not None:
        kwargs = {"kind": SyncRun.Kind.SCHEDULED, "planned_at": planned_at.isoformat()}
        kwargs["attempt"] = 2 if outcome.status == Status.RETRY else 1
        sync_metric.apply_async((metric_id, token), kwargs, countdown=outcome.retry_in)
    return outcome


def start_or_continue_backfill(metric_id):
    """Queue the backfill's next step (its first, once planned) after the current transaction commits."""
    transaction.on_commit(lambda: backfill_metric.delay(metric_id))


def sync_now(metric) -> str:
    """Queue a Sync now of the rolling window; the token of its run (the view polls for it)."""
    services.sync_state_for(metric)
    token = services.new_token("now-")
    pk = metric.pk
    transaction.on_commit(lambda: sync_metric.delay(pk, token, kind=SyncRun.Kind.MANUAL))
    return token


@shared_task(name="syncs.dispatch", ignore_result=True)
def dispatch():
    return len(dispatcher.dispatch())


@shared_task(name="syncs.reap", ignore_result=True)
def reap():
    return services.reap()
