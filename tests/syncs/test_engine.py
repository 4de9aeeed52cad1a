"""One sync, in this process, against the sandbox: windows, storage modes, idempotency, paging, the cap."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from builder import placeholders, timeframes
from syncs import engine, services, storage
from syncs.engine import SyncFailed
from syncs.models import Datapoint, SyncRun, SyncState
from tests.factories import DatapointFactory, UserFactory
from tests.syncs.conftest import deals_metric, expected_deals, expected_leads, leads_metric

pytestmark = pytest.mark.django_db


def _points(metric):
    return sorted(Datapoint.objects.filter(metric=metric).values_list("timestamp", "value", "dimension"))


def _sync(metric, window=None, **kwargs):
    SyncState.objects.get_or_create(metric=metric)
    return engine.run(metric, window or engine.rolling_window(metric), **kwargs)


def test_field_mode_stores_exactly_the_window(sandbox, vtiger):
    metric = leads_metric(vtiger, window_days=60)
    window = engine.rolling_window(metric)
    run = _sync(metric, window)
    expected = expected_leads(sandbox, window)
    assert len(expected) > 100, "the window spans more than one Vtiger page"
    assert [p[0] for p in _points(metric)] == expected
    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.pages == run.requests == len(expected) // 100 + 1
    assert run.datapoints_written == len(expected)
    assert run.window_start == window.start and run.finished_at is not None


def test_same_sync_twice_stores_the_same_data(sandbox, vtiger):
    metric = leads_metric(vtiger)
    window = engine.rolling_window(metric)
    _sync(metric, window)
    first = _points(metric)
    _sync(metric, window)
    assert _points(metric) == first
    assert Datapoint.objects.filter(metric=metric).count() == len(expected_leads(sandbox, window))


def test_field_mode_replaces_only_inside_the_window(sandbox, vtiger):
    metric = leads_metric(vtiger)
    window = engine.rolling_window(metric)
    before = window.start - timedelta(days=3)
    old = DatapointFactory(metric=metric, timestamp=before, value=42, synced_at=timezone.now())
    stale = DatapointFactory(
        metric=metric, timestamp=window.start + timedelta(hours=1), value=99, synced_at=timezone.now()
    )
    _sync(metric, window)
    assert Datapoint.objects.filter(pk=old.pk).exists(), "outside the window: kept"
    assert not Datapoint.objects.filter(pk=stale.pk).exists(), "inside the window: replaced"


def test_window_is_cut_in_the_owners_zone_and_rendered_in_utc(sandbox, vtiger):
    owner = UserFactory(username="kolkata")
    owner.profile.time_zone = "Asia/Kolkata"
    owner.profile.save()
    metric = leads_metric(vtiger, owner=owner, window_days=3)
    metric.refresh_from_db()
    assert metric.zone == "Asia/Kolkata"
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    window = engine.rolling_window(metric, now)
    # Local midnight in Kolkata (UTC+5:30) is 18:30 UTC the day before.
    assert window.start.astimezone(UTC) == datetime(2026, 3, 6, 18, 30, tzinfo=UTC)
    rendered = placeholders.render("{{start}}", window, vtiger.data_timezone)
    assert rendered == "2026-03-06 18:30:00"


def test_none_mode_replaces_the_current_value(sandbox, vtiger):
    metric = leads_metric(
        vtiger,
        date_mode="none",
        params=[["query", "SELECT count(*) FROM Leads;"]],
        pagination={"type": "none"},
        expression="$number(result[0].count)",
    )
    _sync(metric, planned_at=timezone.now() - timedelta(hours=1))
    _sync(metric)
    points = _points(metric)
    assert len(points) == 1
    assert points[0][1] == len(sandbox.dataset.records("Leads"))


def test_dynamic_mode_appends_one_point_per_sync_and_a_repeat_adds_none(sandbox, vtiger):
    metric = leads_metric(
        vtiger,
        date_mode="dynamic",
        params=[["query", "SELECT count(*) FROM Leads;"]],
        pagination={"type": "none"},
        expression="$number(result[0].count)",
    )
    first, second = timezone.now() - timedelta(hours=2), timezone.now() - timedelta(hours=1)
    _sync(metric, planned_at=first)
    _sync(metric, planned_at=second)
    _sync(metric, planned_at=second)  # the same sync again (a retry, a redelivery)
    assert [p[0] for p in _points(metric)] == [first, second]


@pytest.mark.parametrize("paginate", ["none", "offset", "page", "cursor", "next"])
def test_every_pagination_type_against_the_custom_api(sandbox, custom, paginate):
    metric = deals_metric(custom, paginate)
    window = engine.rolling_window(metric)
    run = _sync(metric, window)
    expected = expected_deals(sandbox, window)
    assert len(expected) > 20, "more than one page"
    assert _points(metric) == expected
    assert run.pages == (1 if paginate == "none" else len(expected) // 20 + 1)


def test_page_cap_is_a_visible_warning(sandbox, custom):
    metric = deals_metric(
        custom,
        "offset",
        window_days=365,
        params=[["paginate", "offset"], ["limit", "2"]],
        pagination={"type": "offset", "limit": 2, "records": "data"},
    )
    run = _sync(metric)
    assert run.pages == 100 and run.cap_hit
    assert run.status == SyncRun.Status.PARTIAL
    assert "100-page limit" in run.warning
    assert run.datapoints_written <= 200


def test_failure_stores_nothing_and_says_why(sandbox, vtiger):
    metric = leads_metric(vtiger, window_days=60)
    window = engine.rolling_window(metric)
    _sync(metric, window)
    before = _points(metric)
    sandbox.configure(error_rate=0.5)  # the second page fails
    with pytest.raises(SyncFailed) as failure:
        _sync(metric, window)
    assert failure.value.transient
    run = failure.value.run
    assert run.status == SyncRun.Status.FAILED and "503" in run.error and run.datapoints_written == 0
    assert _points(metric) == before, "no partial window"


def test_malformed_json_is_transient_and_in_words(sandbox, vtiger):
    metric = leads_metric(vtiger)
    sandbox.configure(malformed_rate=1)
    with pytest.raises(SyncFailed) as failure:
        _sync(metric)
    assert failure.value.transient
    assert "not valid JSON" in failure.value.run.error


def test_expression_error_is_permanent(sandbox, vtiger):
    metric = leads_metric(vtiger, expression='result.{"value": "abc", "date": createdtime}')
    with pytest.raises(SyncFailed) as failure:
        _sync(metric)
    assert not failure.value.transient
    assert "not a number" in failure.value.run.error


def test_backfill_windows_cover_the_history_once(vtiger):
    metric = leads_metric(vtiger, window_days=7, history_days=30)
    now = datetime(2026, 6, 30, 15, 0, tzinfo=UTC)
    anchor, total = engine.backfill_plan(metric, now)
    assert total == 4  # 30 days of history before today, minus the rolling 7, in 7-day windows
    windows = [engine.backfill_window(metric, anchor, i, now) for i in range(total)]
    rolling = engine.rolling_window(metric, now)
    assert windows[0].end + timeframes.RESOLUTION == rolling.start
    for newer, older in zip(windows, windows[1:], strict=False):
        assert older.end + timeframes.RESOLUTION == newer.start
    assert windows[-1].start.date() == (now - timedelta(days=30)).date()


def test_lease_lost_stores_nothing(sandbox, vtiger):
    metric = leads_metric(vtiger)
    services.sync_state_for(metric)
    assert services.acquire(metric.pk, "mine")
    SyncState.objects.filter(metric=metric).update(claimed_by="someone-else")
    with pytest.raises(SyncFailed):
        engine.run(metric, engine.rolling_window(metric), token="mine")
    assert not Datapoint.objects.filter(metric=metric).exists()


def test_definition_changed_during_the_sync_stores_nothing(sandbox, vtiger):
    metric = leads_metric(vtiger)
    services.sync_state_for(metric)
    assert services.acquire(metric.pk, "mine")
    SyncState.objects.filter(metric=metric).update(definition_hash="another-definition")
    with pytest.raises(SyncFailed) as failed:
        engine.run(metric, engine.rolling_window(metric), token="mine")
    assert failed.value.run.error_kind == "definition_changed"
    assert not Datapoint.objects.filter(metric=metric).exists()
    sync_state = SyncState.objects.get(metric=metric)
    assert sync_state.definition_hash == "another-definition" and sync_state.claimed_by == "mine"


def test_storage_records_the_definition_and_releases_the_lease(sandbox, vtiger):
    metric = leads_metric(vtiger)
    services.sync_state_for(metric)
    assert services.acquire(metric.pk, "mine")
    due = timezone.now() + timedelta(hours=1)
    engine.run(metric, engine.rolling_window(metric), token="mine", release_next_sync_at=due)
    sync_state = SyncState.objects.get(metric=metric)
    assert sync_state.definition_hash == metric.definition_hash()
    assert (sync_state.claimed_by, sync_state.claimed_at, sync_state.heartbeat_at, sync_state.next_sync_at) == (
        "",
        None,
        None,
        due,
    )
    assert sync_state.last_synced_at is not None and sync_state.consecutive_failures == 0


def test_storage_creates_a_missing_state_and_counts_a_backfill_step_once(vtiger):
    metric = leads_metric(vtiger)
    window = engine.rolling_window(metric)
    storage.store(metric, [], window=window, stamp=timezone.now(), expected_hash="h", backfill_index=0)
    sync_state = SyncState.objects.get(metric=metric)
    assert (sync_state.definition_hash, sync_state.backfill_done_windows) == ("h", 1)
    storage.store(metric, [], window=window, stamp=timezone.now(), expected_hash="h", backfill_index=0)
    assert SyncState.objects.get(metric=metric).backfill_done_windows == 1, "a repeated step counts once"
