"""The newest window first: a new metric's first backfill step stores its rolling window before any
history window, so its current number is right after the first sync (issue 11, item 5)."""

import pytest
from django.utils import timezone

from syncs import engine, runner, tasks, uses
from syncs.models import Datapoint, SyncRun, SyncState
from tests.syncs.conftest import expected_leads, leads_metric

pytestmark = pytest.mark.django_db


def _first_step(metric, django_capture_on_commit_callbacks):
    """Put the metric in use and run the backfill's first step here, as a worker would run the task."""
    with django_capture_on_commit_callbacks() as queued:
        uses.add_use(metric, "screen")
    assert len(queued) == 1, "the backfill's first step is queued after commit"
    with django_capture_on_commit_callbacks() as following:
        tasks.backfill_metric.apply(args=(metric.pk,)).get()
    return following


def test_the_current_window_is_stored_before_any_history_window(sandbox, vtiger, django_capture_on_commit_callbacks):
    metric = leads_metric(vtiger, history_days=30)
    following = _first_step(metric, django_capture_on_commit_callbacks)

    runs = list(SyncRun.objects.filter(metric=metric).order_by("started_at", "pk"))
    assert [run.kind for run in runs] == [SyncRun.Kind.SCHEDULED, SyncRun.Kind.BACKFILL]
    current, history = runs
    assert current.status == history.status == SyncRun.Status.SUCCEEDED
    assert current.finished_at <= history.started_at, "the current window is stored before the history"
    assert current.window_end >= timezone.now() - timezone.timedelta(minutes=5)  # the rolling window, ending now
    assert history.window_end < current.window_start

    # The current number is right: every lead the sandbox has in the rolling window is stored.
    window = engine.rolling_window(metric, current.started_at)
    stored = Datapoint.objects.filter(metric=metric, timestamp__gte=window.start, timestamp__lte=window.end)
    assert stored.count() == len(expected_leads(sandbox, window)) > 0

    sync_state = SyncState.objects.get(metric=metric)
    assert sync_state.backfill_done_windows == 1 and sync_state.next_sync_at > timezone.now(), "not due again at once"
    assert any("_continue_backfill" in repr(callback) for callback in following), "the next step is queued"


def test_later_steps_sync_only_their_history_window(sandbox, vtiger, django_capture_on_commit_callbacks):
    metric = leads_metric(vtiger, history_days=30)
    _first_step(metric, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks():
        tasks.backfill_metric.apply(args=(metric.pk,)).get()
    kinds = list(SyncRun.objects.filter(metric=metric).order_by("started_at", "pk").values_list("kind", flat=True))
    assert kinds == [SyncRun.Kind.SCHEDULED, SyncRun.Kind.BACKFILL, SyncRun.Kind.BACKFILL]
    assert SyncState.objects.get(metric=metric).backfill_done_windows == 2


def test_an_edited_definition_resyncs_the_current_window_first(sandbox, vtiger, django_capture_on_commit_callbacks):
    metric = leads_metric(vtiger, history_days=30)
    _first_step(metric, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks():
        metric.expression = 'result.{"value": 2, "date": createdtime}'
        metric.save()  # the data are dropped, the backfill starts again and the rolling window is due
    assert runner.current_window_first(metric.pk)
    before = SyncRun.objects.filter(metric=metric).count()
    with django_capture_on_commit_callbacks():
        tasks.backfill_metric.apply(args=(metric.pk,)).get()
    new = list(SyncRun.objects.filter(metric=metric).order_by("started_at", "pk")[before:])
    assert [run.kind for run in new] == [SyncRun.Kind.SCHEDULED, SyncRun.Kind.BACKFILL]
    assert set(Datapoint.objects.filter(metric=metric).values_list("value", flat=True)) == {2.0}
