"""A sync whose expression overruns fails on its own, the rest of its batch syncs; Celery's limits back the box up.

No Celery worker here: runner.execute_batch in this process, with its expression box.
"""

import os
import signal
import threading

import pytest
from billiard.exceptions import SoftTimeLimitExceeded

from builder.expression_box import ExpressionBox, default_box
from builder.transform import evaluate
from conftest import wait_for
from syncs import dispatcher, engine, runner, tasks, uses
from syncs.models import Datapoint, SyncRun, SyncState
from tests.syncs.conftest import leads_metric

pytestmark = pytest.mark.django_db

CATASTROPHIC_REGEX = '$match("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", /(a+)+$/)'
ENDLESS_REGEX = '$match("' + "a" * 60 + '!", /(a+)+$/)'


def test_a_catastrophic_expression_fails_its_sync_and_the_next_one_in_the_batch_succeeds(sandbox, vtiger, monkeypatch):
    monkeypatch.setattr(engine, "EVALUATE_TIMEOUT_MS", 500)  # 5 s in production; the same path
    stuck = leads_metric(vtiger, name="Catastrophic", expression=CATASTROPHIC_REGEX)
    fine = leads_metric(vtiger, name="Fine")
    for metric in (stuck, fine):
        uses.add_use(metric, "screen")
    ids = dispatcher.dispatch()
    assert sorted(ids) == [stuck.pk, fine.pk]
    sync_state = SyncState.objects.get(metric=stuck)
    replaced = default_box().replaced

    outcomes = runner.execute_batch([stuck.pk, fine.pk], sync_state.claimed_by, sync_state.claimed_at.isoformat())

    assert (outcomes[stuck.pk].status, outcomes[fine.pk].status) == ("failed", "synced")
    run = SyncRun.objects.get(metric=stuck)
    assert (run.status, run.error_kind) == ("failed", "expression")
    assert "The expression took too long (over 500 ms) and was stopped." in run.error
    assert not Datapoint.objects.filter(metric=stuck).exists()
    assert SyncRun.objects.get(metric=fine).status == "succeeded"
    assert Datapoint.objects.filter(metric=fine).exists()
    assert default_box().replaced == replaced + 1  # the stuck worker was killed, not left running


def test_the_sync_tasks_have_celery_time_limits_behind_the_box(settings):
    for task in (tasks.sync_metric, tasks.sync_batch, tasks.backfill_metric):
        assert (task.soft_time_limit, task.time_limit) == (
            settings.SYNC_TASK_SOFT_TIME_LIMIT,
            settings.SYNC_TASK_TIME_LIMIT,
        )
    assert settings.SYNC_TASK_SOFT_TIME_LIMIT < settings.SYNC_TASK_TIME_LIMIT


def test_a_celery_soft_time_limit_mid_evaluation_kills_the_worker():
    """Celery raises SoftTimeLimitExceeded from a SIGUSR1 handler; the box must not leave the worker running."""

    def soft_limit(signum, frame):
        raise SoftTimeLimitExceeded()

    previous = signal.signal(signal.SIGUSR1, soft_limit)
    try:
        with ExpressionBox(workers=1) as box:
            # The signal comes once the evaluation is under way, as Celery's would.
            def send_soft_limit():
                wait_for(lambda: box.busy == 1)
                os.kill(os.getpid(), signal.SIGUSR1)

            sender = threading.Thread(target=send_soft_limit)
            sender.start()
            with pytest.raises(SoftTimeLimitExceeded):
                evaluate(ENDLESS_REGEX, {}, timeout_ms=600_000, box=box)
            sender.join()
            assert box.replaced == 1
            assert evaluate("$count(result)", {"result": [1, 2]}, box=box) == 2
    finally:
        signal.signal(signal.SIGUSR1, previous)
