"""The metric's sync state: the lease, pausing and resuming (its owner told), the reaper.

The lease (``SyncState.claimed_by``) makes sure a metric is never synced by two workers at
once. ``claimed_by`` holds the token of the claim: the dispatcher's batch token, or a fresh one
for Sync now, a backfill step or the command line. A holder may be:

* **queued**: claimed, no worker started yet (``heartbeat_at`` null); given up after
  SYNC_CLAIM_TTL_SECONDS (a message that never arrived);
* **running**: ``heartbeat_at`` refreshed after every page; dead when older than
  SYNC_STALE_SECONDS (the worker was killed).

A task may take the lease when it is free, when it holds the token and nobody runs under it
(the message was delivered again after its worker died), or when the holder is dead.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from celery import signature
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from builder.models import Metric
from notifications.models import notify
from syncs.models import SyncRun, SyncState
from syncs.signals import metric_paused

logger = logging.getLogger(__name__)

Status = SyncState.Status
PausedBy = SyncState.PausedBy


def new_token(prefix=""):
    return f"{prefix}{uuid.uuid4().hex}"[:64]


def sync_state_for(metric) -> SyncState:
    sync_state, _ = SyncState.objects.get_or_create(metric=metric)
    return sync_state


def _dead(now):
    stale = now - timedelta(seconds=settings.SYNC_STALE_SECONDS)
    never_started = now - timedelta(seconds=settings.SYNC_CLAIM_TTL_SECONDS)
    return Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True, claimed_at__lt=never_started)


def acquire(metric_id, token) -> bool:
    """Take the metric's lease for ``token`` (see the module docstring); True when taken."""
    return bool(acquire_many([metric_id], token))


def acquire_many(metric_ids, token) -> set:
    """Take the leases of these metrics for ``token`` with one UPDATE; the ids of those taken."""
    now = timezone.now()
    free = Q(claimed_by="")
    redelivered = Q(claimed_by=token) & (Q(heartbeat_at__isnull=True) | _dead(now))
    taken = SyncState.objects.filter(metric_id__in=metric_ids).filter(free | redelivered | _dead(now))
    count = taken.update(claimed_by=token, claimed_at=now, heartbeat_at=now)
    if count == len(metric_ids):
        return set(metric_ids)
    # Only some: the ones just stamped with this token and this very moment.
    ours = SyncState.objects.filter(metric_id__in=metric_ids, claimed_by=token, heartbeat_at=now)
    return set(ours.values_list("metric_id", flat=True)) if count else set()


def hold_for_retry(metric_ids, token):
    """Keep the leases while a retry waits its countdown: queued again, no longer running."""
    SyncState.objects.filter(metric_id__in=metric_ids, claimed_by=token).update(
        claimed_at=timezone.now(), heartbeat_at=None
    )


def release(metric_ids, token, next_sync_at=None):
    """Give the leases of these metrics back; ``next_sync_at``: their next due time."""
    changes = {"claimed_by": "", "claimed_at": None, "heartbeat_at": None}
    if next_sync_at is not None:
        changes["next_sync_at"] = next_sync_at
    return SyncState.objects.filter(metric_id__in=metric_ids, claimed_by=token).update(**changes)


def holder_alive(sync_state, now=None) -> bool:
    if not sync_state.claimed_by:
        return False
    now = now or timezone.now()
    if sync_state.heartbeat_at is not None:
        return sync_state.heartbeat_at >= now - timedelta(seconds=settings.SYNC_STALE_SECONDS)
    return sync_state.claimed_at is not None and sync_state.claimed_at >= now - timedelta(
        seconds=settings.SYNC_CLAIM_TTL_SECONDS
    )


def interval(metric) -> timedelta:
    return timedelta(minutes=max(int(metric.interval_minutes or 60), settings.SYNC_MIN_INTERVAL_MINUTES))


# ---------------------------------------------------------------- pausing and telling people


def pause(metric, reason, paused_by=PausedBy.USER, tell_owner=False):
    updated = (
        SyncState.objects.filter(metric=metric)
        .exclude(status=Status.PAUSED)
        .update(status=Status.PAUSED, paused_reason=reason, paused_by=paused_by, updated_at=timezone.now())
    )
    if updated:
        logger.info("Paused syncs of %r: %s", metric.name, reason)
        if tell_owner:
            notify(metric.owner, f"Syncs of the metric “{metric.name}” are paused: {reason}", _metric_url(metric))
        transaction.on_commit(lambda: metric_paused.send(sender=SyncState, metric=metric, reason=reason))
    return bool(updated)


def resume(metric):
    """Active again, due now, failures forgotten."""
    now = timezone.now()
    return SyncState.objects.filter(metric=metric).update(
        status=Status.ACTIVE,
        paused_reason="",
        paused_by="",
        consecutive_failures=0,
        next_sync_at=now,
        updated_at=now,
    )


def pause_connection_metrics(connection, reason):
    count = 0
    for metric in Metric.objects.filter(connection=connection).select_related("owner"):
        SyncState.objects.get_or_create(metric=metric)
        count += pause(metric, reason, PausedBy.CONNECTION, tell_owner=True)
    return count


def resume_connection_metrics(connection):
    ids = Metric.objects.filter(connection=connection).values_list("pk", flat=True)
    now = timezone.now()
    return SyncState.objects.filter(metric_id__in=ids, status=Status.PAUSED, paused_by=PausedBy.CONNECTION).update(
        status=Status.ACTIVE, paused_reason="", paused_by="", consecutive_failures=0, next_sync_at=now, updated_at=now
    )


def record_failure(metric, run) -> bool:
    """A sync failed for good (retries spent, or a permanent problem); True when the metric paused."""
    sync_state = SyncState.objects.get(metric=metric)
    sync_state.consecutive_failures += 1
    sync_state.last_error = run.error
    sync_state.save(update_fields=["consecutive_failures", "last_error", "updated_at"])
    limit = settings.SYNC_MAX_FAILURES
    if sync_state.consecutive_failures >= limit:
        reason = f"its last {sync_state.consecutive_failures} syncs failed. The last error: {run.error}"
        return pause(metric, reason, PausedBy.FAILURES, tell_owner=True)
    return False


def _metric_url(metric):
    try:
        return reverse("syncs:panel", args=[metric.uuid])
    except NoReverseMatch:
        return ""


# ---------------------------------------------------------------- the reaper


BACKFILL_TASK = "syncs.backfill_metric"  # the task's name in syncs.tasks
STUCK_MESSAGE = (
    "The worker running this sync stopped before it finished (it was killed or restarted); "
    "nothing of this sync was stored, and the metric is synced again."
)


def reap(now=None) -> dict:
    """Close runs stuck in "running" whose worker is gone, and free dead leases so the metric syncs again.

    A backfill whose step was closed here goes on at once (its next step was to be queued by the
    step that died), not after the quiet time a lost message needs: after a worker restart the
    backfill resumes as soon as the dead worker's lease is known dead.
    """
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.SYNC_STALE_SECONDS)
    closed = 0
    lost_steps = set()  # metric ids whose backfill step died with its worker
    for run in SyncRun.objects.filter(status=SyncRun.Status.RUNNING, started_at__lt=stale).select_related("metric"):
        sync_state = SyncState.objects.filter(metric_id=run.metric_id).first()
        if sync_state is not None and sync_state.claimed_by == run.token and holder_alive(sync_state, now):
            continue
        closed_now = SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.RUNNING).update(
            status=SyncRun.Status.FAILED, finished_at=now, error=STUCK_MESSAGE, error_kind="worker_lost"
        )
        closed += closed_now
        if closed_now and run.kind == SyncRun.Kind.BACKFILL:
            lost_steps.add(run.metric_id)
    freed = (
        SyncState.objects.exclude(claimed_by="")
        .filter(_dead(now))
        .update(claimed_by="", claimed_at=None, heartbeat_at=None, next_sync_at=now)
    )
    restarted = _restart_stalled_backfills(now, lost_steps)
    if closed or freed or restarted:
        logger.warning(
            "Reaper: %d stuck runs closed, %d dead leases freed, %d backfills restarted", closed, freed, restarted
        )
    return {"runs_closed": closed, "leases_freed": freed, "backfills_restarted": restarted}


def _restart_stalled_backfills(now, lost_steps=()):
    """A backfill whose next step was lost gets a new one: at once when its step died with its
    worker (``lost_steps``, the lease free again), after a quiet time when its next step's message
    may still be on its way (a broker restart loses it; a busy queue only delays it).

    The step is queued by the task's name: ``syncs.tasks`` imports this module, not the reverse.
    """
    quiet_since = now - timedelta(seconds=2 * settings.SYNC_STALE_SECONDS)
    stalled = []
    candidates = (
        SyncState.objects.filter(in_use=True, status=Status.ACTIVE, claimed_by="")
        .filter(Q(updated_at__lt=quiet_since) | Q(metric_id__in=lost_steps))
        .exclude(backfill_total_windows=0)
    )
    for sync_state in candidates:
        if not sync_state.backfill_running:
            continue
        if sync_state.metric_id in lost_steps:
            stalled.append(sync_state.metric_id)
            continue
        recent = SyncRun.objects.filter(
            metric_id=sync_state.metric_id, kind=SyncRun.Kind.BACKFILL, started_at__gte=quiet_since
        )
        if not recent.exists():
            stalled.append(sync_state.metric_id)
    for metric_id in stalled:
        transaction.on_commit(lambda pk=metric_id: signature(BACKFILL_TASK, args=(pk,)).delay())
    return len(stalled)
