"""In use / not in use, the dispatcher's claims, the lease, and what a task does on each failure."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from connections import services as connection_services
from connections.models import Connection
from notifications.models import Notification
from sandbox import DEMO_ACCESS_KEY
from syncs import dispatcher, runner, services, uses
from syncs.models import Datapoint, SyncRun, SyncState, Use
from tests.connections.factories import vtiger_connection
from tests.factories import SyncRunFactory, UserFactory
from tests.syncs.conftest import leads_metric, unlimited

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return UserFactory(username="owen", email="owen@example.com")


def test_first_use_activates_and_plans_the_backfill(vtiger, django_capture_on_commit_callbacks):
    metric = leads_metric(vtiger, history_days=30)
    with django_capture_on_commit_callbacks() as callbacks:
        uses.add_use(metric, "screen")
    sync_state = SyncState.objects.get(metric=metric)
    assert sync_state.in_use and sync_state.next_sync_at <= timezone.now()
    assert (sync_state.backfill_done_windows, sync_state.backfill_total_windows) == (0, 4)
    assert sync_state.definition_hash
    assert len(callbacks) == 1, "the backfill's first step is queued after commit"


def test_uses_are_idempotent_and_the_last_removal_stops_syncs(vtiger):
    metric = leads_metric(vtiger)
    uses.add_use(metric, "screen")
    uses.add_use(metric, "screen")
    uses.add_use(metric, "databoard", 7)
    assert Use.objects.filter(metric=metric).count() == 2
    assert uses.remove_use(metric, "screen") is False
    assert services.sync_state_for(metric).in_use
    assert uses.remove_use(metric, "databoard", "7") is True
    sync_state = SyncState.objects.get(metric=metric)
    assert not sync_state.in_use and sync_state.next_sync_at is None
    assert sync_state.backfill_total_windows == sync_state.backfill_done_windows, "the backfill stops"


def test_snapshot_metrics_have_no_backfill(vtiger):
    metric = leads_metric(vtiger, date_mode="dynamic", expression="1")
    uses.add_use(metric, "goal", "3")
    assert SyncState.objects.get(metric=metric).backfill_total_windows == 0


def test_dispatcher_claims_each_due_metric_once(vtiger):
    due = [leads_metric(vtiger, name=f"Due {i}") for i in range(3)]
    later = leads_metric(vtiger, name="Later")
    paused = leads_metric(vtiger, name="Paused")
    unused = leads_metric(vtiger, name="Unused")
    for metric in [*due, later, paused]:
        uses.add_use(metric, "screen")
    services.sync_state_for(unused)
    SyncState.objects.filter(metric=later).update(next_sync_at=timezone.now() + timedelta(minutes=5))
    services.pause(paused, "a test paused it.")
    first = dispatcher.dispatch()
    assert sorted(first) == sorted(m.pk for m in due)
    assert dispatcher.dispatch() == [], "claimed metrics are not claimed again"
    tokens = set(SyncState.objects.filter(metric__in=due).values_list("claimed_by", flat=True))
    assert len(tokens) == 1 and tokens != {""}


def test_lease_is_exclusive_and_taken_over_from_a_dead_holder(vtiger, settings):
    metric = leads_metric(vtiger)
    services.sync_state_for(metric)
    assert services.acquire(metric.pk, "a")
    assert not services.acquire(metric.pk, "b"), "a running holder keeps it"
    assert not services.acquire(metric.pk, "a"), "a live duplicate of the same claim does not run twice"
    settings.SYNC_STALE_SECONDS = 60
    SyncState.objects.filter(metric=metric).update(heartbeat_at=timezone.now() - timedelta(seconds=61))
    assert services.acquire(metric.pk, "b"), "a silent holder is dead"


def test_reaper_closes_stuck_runs_and_frees_the_metric(vtiger, settings):
    settings.SYNC_STALE_SECONDS = 60
    metric = leads_metric(vtiger, used_on="screen")
    assert services.acquire(metric.pk, "dead")
    long_ago = timezone.now() - timedelta(minutes=5)
    run = SyncRunFactory(metric=metric, token="dead", started_at=long_ago)
    SyncState.objects.filter(metric=metric).update(heartbeat_at=long_ago, next_sync_at=long_ago)
    assert services.reap() == {"runs_closed": 1, "leases_freed": 1, "backfills_restarted": 0}
    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED and "stopped before it finished" in run.error
    assert dispatcher.dispatch() == [metric.pk]


def test_scheduled_task_syncs_and_plans_the_next(sandbox, vtiger):
    metric = leads_metric(vtiger, used_on="screen")
    [metric_id] = dispatcher.dispatch()
    sync_state = SyncState.objects.get(metric=metric)
    outcome = runner.execute(metric_id, sync_state.claimed_by, "scheduled", sync_state.claimed_at.isoformat())
    assert outcome.status == "synced"
    sync_state.refresh_from_db()
    assert sync_state.claimed_by == "" and sync_state.last_synced_at is not None
    assert sync_state.next_sync_at == sync_state.claimed_at or sync_state.next_sync_at > timezone.now() + timedelta(
        minutes=59
    )
    again = runner.execute(metric_id, outcome.run.token, "scheduled", None)
    assert again.status == "skipped", "a second delivery of the same message does nothing"


def test_transient_failure_asks_for_a_retry_and_keeps_the_lease(sandbox, vtiger):
    metric = leads_metric(vtiger, used_on="screen")
    sandbox.configure(error_rate=1)
    outcome = runner.execute(metric.pk, "tok", "manual")
    assert outcome.status == "retry" and outcome.retry_in > 0
    assert "Trying again" in outcome.run.error
    assert SyncState.objects.get(metric=metric).claimed_by == "tok"
    sandbox.configure(error_rate=0)
    assert runner.execute(metric.pk, "tok", "manual", attempt=2).status == "synced"


def test_floodcontrol_remaining_zero_waits_for_the_reset_without_a_429(sandbox, vtiger):
    metric = leads_metric(vtiger, used_on="screen")
    sandbox.configure(rate_limit_per_minute=1)
    assert runner.execute(metric.pk, "one", "manual").status == "synced"
    outcome = runner.execute(metric.pk, "two", "manual")
    assert outcome.status == "waiting" and 50 <= outcome.retry_in <= 62
    assert sandbox.stats()["rate_limited"] == 0
    assert not SyncRun.objects.filter(token="two").exists(), "nothing was sent: no run record"


def test_429_retries_after_the_reset(sandbox, vtiger):
    other = unlimited(vtiger_connection(sandbox.url, name="Same account"))
    metric, elsewhere = leads_metric(vtiger), leads_metric(other, name="Elsewhere")
    uses.add_use(metric, "screen")
    uses.add_use(elsewhere, "screen")
    sandbox.configure(rate_limit_per_minute=1)
    runner.execute(elsewhere.pk, "one", "manual")  # another client spends the account's budget
    outcome = runner.execute(metric.pk, "two", "manual")
    assert outcome.status == "retry"
    assert 50 <= outcome.retry_in <= 62
    assert "rate limit" in outcome.run.error and sandbox.stats()["rate_limited"] == 1


def test_auth_failure_marks_the_connection_and_pauses_its_metrics(sandbox, owner):
    wrong = unlimited(vtiger_connection(sandbox.url, name="Wrong key", access_key="wrongwrongwrong1"))
    first = leads_metric(wrong, name="First", owner=owner)
    second = leads_metric(wrong, name="Second", owner=owner)
    uses.add_use(first, "screen")
    uses.add_use(second, "screen")
    outcome = runner.execute(first.pk, "t", "scheduled")
    assert outcome.status == "paused"
    wrong.refresh_from_db()
    assert wrong.status == Connection.Status.AUTH_FAILED
    for metric in (first, second):
        sync_state = SyncState.objects.get(metric=metric)
        assert sync_state.is_paused and "refused the credentials" in sync_state.paused_reason
    assert Notification.objects.filter(user=owner).count() == 2
    assert dispatcher.dispatch() == [], "paused metrics are not dispatched"

    # An admin fixes the key; the successful connection test resumes the metrics.
    wrong.set_secret("access_key", DEMO_ACCESS_KEY)
    wrong.save()
    assert connection_services.test_connection(wrong).ok
    assert not SyncState.objects.filter(metric__in=[first, second], status="paused").exists()
    assert sorted(dispatcher.dispatch()) == sorted([first.pk, second.pk])


def test_repeated_failures_pause_and_tell_the_owner(sandbox, vtiger, owner, settings):
    settings.SYNC_MAX_FAILURES = 2
    metric = leads_metric(vtiger, owner=owner, expression="$number('abc')", used_on="screen")
    assert runner.execute(metric.pk, "a", "scheduled").status == "failed"
    outcome = runner.execute(metric.pk, "c", "manual")
    assert outcome.status == "paused"
    sync_state = SyncState.objects.get(metric=metric)
    assert sync_state.is_paused and "last 2 syncs failed" in sync_state.paused_reason
    assert len(mail.outbox) == 1 and "owen@example.com" in mail.outbox[0].to
    note = Notification.objects.get(user=owner)
    assert metric.name in note.text and not note.read
    services.resume(metric)
    assert not SyncState.objects.get(metric=metric).is_paused


def test_editing_the_definition_resyncs_the_history(sandbox, vtiger, django_capture_on_commit_callbacks):
    metric = leads_metric(vtiger, used_on="screen")
    runner.execute(metric.pk, "x", "manual")
    assert Datapoint.objects.filter(metric=metric).exists()
    SyncState.objects.filter(metric=metric).update(backfill_done_windows=3, next_sync_at=None)
    metric.name = "Renamed"  # not part of the definition: nothing happens
    metric.save()
    assert Datapoint.objects.filter(metric=metric).exists()
    with django_capture_on_commit_callbacks() as callbacks:
        metric.expression = 'result.{"value": 2, "date": createdtime}'
        metric.save()
    sync_state = SyncState.objects.get(metric=metric)
    assert not Datapoint.objects.filter(metric=metric).exists()
    assert sync_state.backfill_done_windows == 0 and sync_state.next_sync_at is not None
    assert len(callbacks) == 1
    runner.execute(metric.pk, "y", "manual")
    assert set(Datapoint.objects.filter(metric=metric).values_list("value", flat=True)) == {2.0}


def test_deleting_the_connection_pauses_its_metrics(vtiger, owner):
    metric = leads_metric(vtiger, owner=owner, used_on="screen")
    connection_services.delete_connection(vtiger)
    sync_state = SyncState.objects.get(metric=metric)
    assert sync_state.is_paused and "was deleted" in sync_state.paused_reason


def test_a_run_to_retry_says_when_and_a_run_given_up_says_nothing(sandbox, vtiger, settings):
    settings.SYNC_MAX_RETRIES = 1
    metric = leads_metric(vtiger, used_on="screen")
    sandbox.configure(error_rate=1)
    before = timezone.now()
    outcome = runner.execute(metric.pk, "tok", "manual")
    assert outcome.status == runner.Status.RETRY
    retry_at = SyncRun.objects.get(pk=outcome.run.pk).retry_at
    wait = timedelta(seconds=outcome.retry_in)
    assert before + wait <= retry_at <= timezone.now() + wait
    last = runner.execute(metric.pk, "tok", "manual", attempt=2)
    assert last.status == runner.Status.FAILED and "Gave up after 2 attempts" in last.run.error
    assert SyncRun.objects.get(pk=last.run.pk).retry_at is None
    assert SyncState.objects.get(metric=metric).claimed_by == "", "given up: the lease goes back"


def test_a_backfill_step_says_whether_another_one_follows(sandbox, vtiger):
    metric = leads_metric(vtiger, history_days=21)
    uses.add_use(metric, "screen")
    assert SyncState.objects.get(metric=metric).backfill_total_windows == 2
    first = runner.execute(metric.pk, "bf-1", "backfill")
    assert first.status == runner.Status.SYNCED and first.backfill_continues
    last = runner.execute(metric.pk, "bf-2", "backfill")
    assert last.status == runner.Status.SYNCED and not last.backfill_continues
    assert runner.execute(metric.pk, "bf-3", "backfill").status == runner.Status.SKIPPED, "the backfill is done"


def test_the_command_lines_sync_is_not_retried_counted_or_paused(sandbox, vtiger, settings):
    settings.SYNC_MAX_FAILURES = 1
    metric = leads_metric(vtiger, used_on="screen")
    sandbox.configure(error_rate=1)
    run = runner.run_in_foreground(metric)
    assert run.status == SyncRun.Status.FAILED and run.retry_at is None
    assert "Trying again" not in run.error and "Gave up" not in run.error
    sync_state = SyncState.objects.get(metric=metric)
    assert (sync_state.consecutive_failures, sync_state.is_paused, sync_state.claimed_by) == (0, False, "")
