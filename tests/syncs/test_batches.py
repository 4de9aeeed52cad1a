"""A worker's batch: several due metrics of one connection synced by one task, each on its own terms."""

from datetime import timedelta

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from builder import timeframes
from conftest import free_port
from connections.services import record_success
from syncs import dispatcher, engine, runner, storage, uses
from syncs.errors import DefinitionChanged, LeaseLost
from syncs.models import Datapoint, SyncRun, SyncState
from tests.connections.factories import vtiger_connection
from tests.factories import DatapointFactory, SyncRunFactory, point
from tests.syncs.conftest import expected_leads, leads_metric, unlimited

pytestmark = pytest.mark.django_db


def _due(connection, count, name="Leads", **overrides):
    metrics = [leads_metric(connection, name=f"{name} {i}", **overrides) for i in range(count)]
    for metric in metrics:
        uses.add_use(metric, "screen")
    return metrics


def _dispatched(metrics):
    """Claim the due metrics as the beat would: (their ids, the dispatcher's token, its planned time)."""
    ids = dispatcher.dispatch()
    sync_state = SyncState.objects.get(metric=metrics[0])
    return sorted(ids), sync_state.claimed_by, sync_state.claimed_at


def _points(metric):
    return sorted(Datapoint.objects.filter(metric=metric).values_list("timestamp", "value", "dimension"))


def test_batches_hold_one_connection_and_share_it_out_evenly():
    rows = [(1, 7), (2, 7), (3, 7), (4, 7), (5, 7), (6, 8), (7, None)]
    assert dispatcher.batches(rows, size=2) == [[1, 4], [2, 5], [3], [6], [7]]
    assert dispatcher.batches(rows, size=20) == [[1, 2, 3, 4, 5], [6], [7]]
    assert dispatcher.batches(rows, size=1) == [[pk] for pk in range(1, 8)], "SYNC_BATCH_SIZE=1: a task per metric"


def test_a_batch_syncs_each_metric_with_its_own_run_and_lease(sandbox, vtiger):
    metrics = _due(vtiger, 3)
    ids, token, planned_at = _dispatched(metrics)

    outcomes = runner.execute_batch(ids, token, planned_at.isoformat())

    assert {pk: outcome.status for pk, outcome in outcomes.items()} == {pk: "synced" for pk in ids}
    for metric in metrics:
        run = SyncRun.objects.get(metric=metric)
        assert (run.status, run.token, run.requests) == ("succeeded", token, 1)
        window = engine.rolling_window(metric, planned_at)
        assert [stamp for stamp, _, _ in _points(metric)] == expected_leads(sandbox, window)
        assert run.datapoints_written == len(_points(metric))
        sync_state = SyncState.objects.get(metric=metric)
        assert sync_state.claimed_by == "" and sync_state.next_sync_at == planned_at + timedelta(minutes=60)

    again = runner.execute_batch(ids, token, planned_at.isoformat())
    assert {outcome.status for outcome in again.values()} == {"skipped"}, "a redelivered batch does nothing"
    assert SyncRun.objects.count() == 3


def test_a_batch_costs_the_same_queries_for_two_metrics_or_ten(sandbox, vtiger):
    """Claims, run records, sync states and the data: a fixed number of queries per batch.

    Not counted: the rate limiter's (one per request; in Redis in production) and the rows'
    INSERT, which SQLite splits by its limit on parameters.
    """
    record_success(vtiger)

    def queries_for(count):
        metrics = _due(vtiger, count, name=f"Batch of {count}")
        ids, token, planned_at = _dispatched(metrics)
        with CaptureQueriesContext(db_connection) as captured:
            outcomes = runner.execute_batch(ids, token, planned_at)
        assert {outcome.status for outcome in outcomes.values()} == {"synced"}
        SyncState.objects.update(in_use=False)  # out of the next dispatch
        skipped = ("SAVEPOINT", "RELEASE SAVEPOINT", 'INSERT INTO "syncs_datapoint"')
        sql = [query["sql"] for query in captured.captured_queries]
        return [q for q in sql if "connections_ratebucket" not in q and not q.startswith(skipped)]

    ten, two = queries_for(10), queries_for(2)
    assert len(ten) == len(two) <= 10


def test_a_failing_metric_fails_alone_and_is_retried_on_its_own(sandbox, vtiger, settings):
    good = _due(vtiger, 2)
    [broken] = _due(vtiger, 1, name="Broken", expression="$number('abc')")
    ids, token, planned_at = _dispatched([*good, broken])

    outcomes = runner.execute_batch(ids, token, planned_at)

    assert [outcomes[m.pk].status for m in good] == ["synced", "synced"]
    assert outcomes[broken.pk].status == "failed"
    run = SyncRun.objects.get(metric=broken)
    assert run.status == "failed" and run.error_kind == "expression" and "expression failed" in run.error
    assert SyncState.objects.get(metric=broken).consecutive_failures == 1
    assert not Datapoint.objects.filter(metric=broken).exists()

    # A server error: each sync is retried on its own, keeping its lease meanwhile.
    SyncState.objects.update(next_sync_at=timezone.now())
    ids, token, planned_at = _dispatched(good)
    sandbox.configure(error_rate=1)
    outcomes = runner.execute_batch([m.pk for m in good], token, planned_at)
    assert {outcome.status for outcome in outcomes.values()} == {"retry"}
    assert all(0 < outcome.retry_in <= settings.SYNC_RETRY_MAX_SECONDS * 1.5 for outcome in outcomes.values())
    assert set(SyncState.objects.filter(metric__in=good).values_list("claimed_by", flat=True)) == {token}


def test_an_auth_failure_pauses_the_rest_of_the_batch_without_sending_more(sandbox):
    wrong = unlimited(vtiger_connection(sandbox.url, name="Wrong key", access_key="wrongwrongwrong1"))
    metrics = _due(wrong, 3)
    ids, token, planned_at = _dispatched(metrics)

    outcomes = runner.execute_batch(ids, token, planned_at)

    assert [outcomes[pk].status for pk in ids] == ["paused", "paused", "paused"]
    assert sandbox.stats()["total_requests"] == 1, "one refusal is enough"
    assert SyncRun.objects.count() == 1, "only the sync that ran has a run record"
    sync_states = SyncState.objects.filter(metric__in=metrics)
    assert all(sync_state.is_paused and sync_state.claimed_by == "" for sync_state in sync_states)


def test_when_the_budget_runs_out_the_rest_of_the_batch_waits_together(sandbox, vtiger):
    metrics = _due(vtiger, 3)
    ids, token, planned_at = _dispatched(metrics)
    sandbox.configure(rate_limit_per_minute=1)

    outcomes = runner.execute_batch(ids, token, planned_at)

    assert outcomes[ids[0]].status == "synced"
    waiting = [outcomes[pk] for pk in ids[1:]]
    assert {outcome.status for outcome in waiting} == {"waiting"}
    assert all(50 <= outcome.retry_in <= 62 for outcome in waiting)
    assert sandbox.stats()["rate_limited"] == 0
    assert SyncRun.objects.filter(metric_id__in=ids[1:]).count() == 0, "nothing was sent for them"
    held = SyncState.objects.filter(metric_id__in=ids[1:])
    assert {(sync_state.claimed_by, sync_state.heartbeat_at) for sync_state in held} == {(token, None)}


def test_when_the_api_is_down_the_rest_of_the_batch_waits_instead_of_timing_out_each(db):
    down = unlimited(vtiger_connection(f"http://127.0.0.1:{free_port()}", name="Down CRM"))
    metrics = _due(down, 3)
    ids, token, planned_at = _dispatched(metrics)

    outcomes = runner.execute_batch(ids, token, planned_at)

    first, rest = outcomes[ids[0]], [outcomes[pk] for pk in ids[1:]]
    assert first.status == "retry" and first.run.error_kind == "unreachable"
    assert {outcome.status for outcome in rest} == {"waiting"}
    assert {outcome.retry_in for outcome in rest} == {first.retry_in}, "they come back with its retry"
    assert SyncRun.objects.count() == 1, "no attempt was spent on the others"
    assert set(SyncState.objects.values_list("claimed_by", flat=True)) == {token}


def test_metrics_of_several_connections_sync_one_by_one(sandbox, vtiger):
    other = unlimited(vtiger_connection(sandbox.url, name="Other CRM"))
    metrics = [*_due(vtiger, 1), *_due(other, 1, name="Other")]
    ids, token, planned_at = _dispatched(metrics)
    outcomes = runner.execute_batch(ids, token, planned_at)
    assert {outcome.status for outcome in outcomes.values()} == {"synced"}
    assert SyncRun.objects.filter(status="succeeded").count() == 2


def test_a_connection_out_of_budget_leaves_the_other_connection_of_the_batch_syncing(sandbox, vtiger):
    tight = unlimited(vtiger_connection(sandbox.url, name="Tight CRM"), per_minute=1)
    limited, free = _due(tight, 2, name="Tight"), _due(vtiger, 2, name="Free")
    ids, token, planned_at = _dispatched([*limited, *free])

    outcomes = runner.execute_batch(ids, token, planned_at)

    assert [outcomes[metric.pk].status for metric in limited] == ["synced", "waiting"]
    assert [outcomes[metric.pk].status for metric in free] == ["synced", "synced"]
    assert SyncRun.objects.filter(status="succeeded").count() == 3


def test_a_metric_without_a_connection_fails_alone_in_its_batch(sandbox, vtiger):
    orphan, fine = _due(vtiger, 2)
    ids, token, planned_at = _dispatched([orphan, fine])
    orphan.connection = None
    orphan.save()

    outcomes = runner.execute_batch(ids, token, planned_at)

    assert (outcomes[orphan.pk].status, outcomes[fine.pk].status) == ("failed", "synced")
    assert "has no connection" in SyncRun.objects.get(metric=orphan).error


# ---------------------------------------------------------------- storing a batch


def _write(metric, points, window, stamp, run=None, **options):
    return storage.Write(metric, points, window, stamp, run=run, **options)


def test_store_many_replaces_each_metrics_own_data_in_one_transaction(vtiger):
    now = timezone.now().replace(microsecond=0)
    zone = timeframes.get_zone("UTC")
    window = timeframes.Window(start=now - timedelta(days=1), end=now, tz=zone)
    field = leads_metric(vtiger, name="Field")
    dynamic = leads_metric(vtiger, name="Dynamic", date_mode="dynamic")
    current = leads_metric(vtiger, name="Current", date_mode="none")
    lost = leads_metric(vtiger, name="Lost")
    edited = leads_metric(vtiger, name="Edited")
    for metric in (field, dynamic, current, lost, edited):
        SyncState.objects.create(metric=metric, claimed_by="mine", definition_hash="h")
    SyncState.objects.filter(metric=lost).update(claimed_by="theirs")
    SyncState.objects.filter(metric=edited).update(definition_hash="newer")
    old = now - timedelta(days=3)
    kept = point(field, old, 9)
    DatapointFactory(metric=field, timestamp=now - timedelta(hours=1), value=9, synced_at=old)
    point(current, old, 9)
    runs = {m.pk: SyncRunFactory(metric=m, started_at=now) for m in (field, dynamic, lost, edited)}
    inside, outside = now - timedelta(hours=2), now - timedelta(days=2)

    writes = [
        _write(field, [(inside, 1.0, ""), (outside, 5.0, "")], window, now, runs[field.pk], expected_hash="h"),
        _write(dynamic, [(None, 2.0, "a"), (None, 3.0, "b")], window, now, runs[dynamic.pk], expected_hash="h"),
        _write(current, [(None, 4.0, "")], window, now, expected_hash="h", next_sync_at=now + timedelta(hours=1)),
        _write(lost, [(inside, 1.0, "")], window, now, runs[lost.pk], expected_hash="h"),
        _write(edited, [(inside, 1.0, "")], window, now, runs[edited.pk], expected_hash="h"),
    ]
    storage.store_many(writes, token="mine", release=True)

    assert [(w.written, w.outside, type(w.error)) for w in writes] == [
        (1, 1, type(None)),
        (2, 0, type(None)),
        (1, 0, type(None)),
        (0, 0, LeaseLost),
        (0, 0, DefinitionChanged),
    ]
    assert _points(field) == [(old, 9.0, ""), (inside, 1.0, "")] and Datapoint.objects.filter(pk=kept.pk).exists()
    assert _points(dynamic) == [(now, 2.0, "a"), (now, 3.0, "b")]
    assert _points(current) == [(now, 4.0, "")]
    assert not Datapoint.objects.filter(metric__in=[lost, edited]).exists()
    runs = {run.metric_id: run for run in SyncRun.objects.all()}
    assert (runs[field.pk].status, runs[field.pk].datapoints_written) == ("succeeded", 1)
    assert (runs[dynamic.pk].status, runs[dynamic.pk].datapoints_written) == ("succeeded", 2)
    assert runs[lost.pk].status == runs[edited.pk].status == "running", "the caller records their failure"
    sync_states = {sync_state.metric_id: sync_state for sync_state in SyncState.objects.all()}
    assert sync_states[current.pk].next_sync_at == now + timedelta(hours=1)
    assert [sync_states[m.pk].claimed_by for m in (field, dynamic, current, lost, edited)] == [
        "",
        "",
        "",
        "theirs",
        "mine",
    ]


def test_the_heartbeat_keeps_the_whole_batch_alive_and_notices_a_lost_lease(vtiger):
    syncing, waiting = leads_metric(vtiger, name="Syncing"), leads_metric(vtiger, name="Waiting")
    for metric in (syncing, waiting):
        SyncState.objects.create(metric=metric, claimed_by="mine")
    heartbeat = engine.Heartbeat(syncing.pk, "mine", every_s=0, waiting=[waiting.pk])

    heartbeat(engine.Fetched())
    assert SyncState.objects.filter(heartbeat_at__isnull=False).count() == 2

    SyncState.objects.filter(metric=syncing).update(claimed_by="theirs")
    with pytest.raises(LeaseLost):
        heartbeat(engine.Fetched())
    SyncState.objects.filter(metric=syncing).update(claimed_by="mine")
    SyncState.objects.filter(metric=waiting).update(claimed_by="theirs")
    heartbeat(engine.Fetched())  # the waiting one's loss shows when it is stored, not here
