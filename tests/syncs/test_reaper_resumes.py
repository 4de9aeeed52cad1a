"""After a worker died in the middle of a backfill, the reaper (every 120 s from beat) sends the
backfill on as soon as the dead worker's lease is known dead, not ``2 * SYNC_STALE_SECONDS``
after the step began (which, with the reaper's period, made a restart wait 10 to 13 minutes)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings

from syncs import services, uses
from syncs.models import SyncRun, SyncState
from tests.factories import SyncRunFactory
from tests.syncs.conftest import leads_metric

pytestmark = pytest.mark.django_db

REAPER_PERIOD = timedelta(seconds=settings.CELERY_BEAT_SCHEDULE["reap-stuck-syncs"]["schedule"])
KILLED_AT = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def backfill_step_killed(vtiger, time_machine, django_capture_on_commit_callbacks):
    """A metric whose backfill's second step was running when its worker was SIGKILLed at KILLED_AT."""
    time_machine.move_to(KILLED_AT - timedelta(minutes=1), tick=False)
    metric = leads_metric(vtiger, history_days=90)
    with django_capture_on_commit_callbacks():  # the first step's message: not sent here
        uses.add_use(metric, "screen")
    SyncState.objects.filter(metric=metric).update(backfill_done_windows=1)
    time_machine.move_to(KILLED_AT - timedelta(seconds=20), tick=False)
    assert services.acquire(metric.pk, "bf-killed")
    SyncRunFactory(metric=metric, kind=SyncRun.Kind.BACKFILL, token="bf-killed", pages=3)
    time_machine.move_to(KILLED_AT, tick=False)
    SyncState.objects.filter(metric=metric).update(heartbeat_at=KILLED_AT)  # its last page
    return metric


def _reap_at(moment, time_machine, django_capture_on_commit_callbacks):
    time_machine.move_to(moment, tick=False)
    with django_capture_on_commit_callbacks() as queued:
        answer = services.reap()
    return answer, len(queued)


def test_a_killed_backfill_step_goes_on_in_the_reap_that_finds_its_lease_dead(
    backfill_step_killed, time_machine, django_capture_on_commit_callbacks
):
    still_alive = KILLED_AT + timedelta(seconds=settings.SYNC_STALE_SECONDS - 1)
    answer, queued = _reap_at(still_alive, time_machine, django_capture_on_commit_callbacks)
    assert answer == {"runs_closed": 0, "leases_freed": 0, "backfills_restarted": 0} and queued == 0

    dead = KILLED_AT + timedelta(seconds=settings.SYNC_STALE_SECONDS + 1)
    answer, queued = _reap_at(dead, time_machine, django_capture_on_commit_callbacks)
    assert answer == {"runs_closed": 1, "leases_freed": 1, "backfills_restarted": 1}
    assert queued == 1, "the backfill's next step is queued"
    run = SyncRun.objects.get(token="bf-killed")
    assert run.status == SyncRun.Status.FAILED and run.error_kind == "worker_lost"
    sync_state = SyncState.objects.get(metric=backfill_step_killed)
    assert sync_state.claimed_by == "" and sync_state.backfill_done_windows == 1, "the lost window is done again"

    answer, queued = _reap_at(dead + REAPER_PERIOD, time_machine, django_capture_on_commit_callbacks)
    assert answer["backfills_restarted"] == 0 and queued == 0, "one new step, not one per reap"


def test_a_worker_back_after_a_long_restart_resumes_the_backfill_within_one_reaper_period(
    backfill_step_killed, time_machine, django_capture_on_commit_callbacks
):
    """Beat comes back with the worker (``make run``): its overdue reap runs at once, and every 120 s after."""
    back = KILLED_AT + timedelta(seconds=settings.SYNC_STALE_SECONDS + 30)
    answer, queued = _reap_at(back + REAPER_PERIOD / 2, time_machine, django_capture_on_commit_callbacks)
    assert answer["backfills_restarted"] == 1 and queued == 1


def test_a_step_killed_while_its_metric_is_paused_is_not_sent_on(
    backfill_step_killed, time_machine, django_capture_on_commit_callbacks
):
    services.pause(backfill_step_killed, "someone paused it.")
    dead = KILLED_AT + timedelta(seconds=settings.SYNC_STALE_SECONDS + 1)
    answer, queued = _reap_at(dead, time_machine, django_capture_on_commit_callbacks)
    assert answer == {"runs_closed": 1, "leases_freed": 1, "backfills_restarted": 0}
    assert queued == 0


def test_a_step_redelivered_and_running_again_is_not_doubled(
    backfill_step_killed, time_machine, django_capture_on_commit_callbacks
):
    """The message came back (Redis) and its new run holds the lease: the old run is closed, nothing more."""
    dead = KILLED_AT + timedelta(seconds=settings.SYNC_STALE_SECONDS + 1)
    time_machine.move_to(dead - timedelta(seconds=1), tick=False)
    SyncState.objects.filter(metric=backfill_step_killed).update(heartbeat_at=KILLED_AT - timedelta(hours=1))
    assert services.acquire(backfill_step_killed.pk, "bf-again")
    SyncRunFactory(metric=backfill_step_killed, kind=SyncRun.Kind.BACKFILL, token="bf-again")
    answer, queued = _reap_at(dead, time_machine, django_capture_on_commit_callbacks)
    assert answer == {"runs_closed": 1, "leases_freed": 0, "backfills_restarted": 0} and queued == 0
