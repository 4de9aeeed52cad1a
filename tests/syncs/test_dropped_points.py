"""Nothing is dropped in silence: a fetched point that is not stored (outside the window, no date, a
date its format cannot read) is counted on its run record with its first examples (raw value and
record id), said in words on the metric's Syncs panel and by ``sync_metric``; the run still
succeeded. A date the format cannot read is never stored as some other date.

The records come through real HTTP: the sandbox's echo API answers the records a test sends, so a
test controls the exact values; the Vtiger case uses the sandbox's own deals.
"""

import json
from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from builder import timeframes
from builder.models import Metric
from syncs import dispatcher, engine, runner, uses
from syncs.models import Datapoint, SyncRun, SyncState
from tests.connections.factories import custom_connection
from tests.factories import MetricFactory

pytestmark = pytest.mark.django_db

DEALS = [
    {"id": "13x10", "closingdate": "2026-10-05", "amount": "100.00000000"},
    {"id": "13x11", "closingdate": "2026-10-31", "amount": "50.00000000"},
    {"id": "13x512", "closingdate": "2026-12-15", "amount": "7.00000000"},  # outside October
    {"id": "13x77", "closingdate": "31/07/2026", "amount": "9.00000000"},  # not YYYY-MM-DD
    {"id": "13x78", "closingdate": "", "amount": "3.00000000"},  # no date
]
WORDS = (
    "3 values were not stored: 1 fell outside the synced window (e.g. 2026-12-15 from record 13x512), "
    "1 had no date (e.g. record 13x78), "
    "1 had a date that does not match YYYY-MM-DD (e.g. '31/07/2026' in record 13x77)."
)


def whole_days(first, last, zone):
    """The window of the local dates ``first`` to ``last`` in ``zone``, as a sync cuts it."""
    zone = timeframes.get_zone(zone)
    start = timeframes.start_of_day(first, zone)
    end = timeframes.start_of_day(last + timedelta(days=1), zone).astimezone(UTC) - timeframes.RESOLUTION
    return timeframes.Window(start=start, end=end.astimezone(zone), tz=zone)


def echo_metric(sandbox, records, name="Won amount (echoed)", connection=None):
    """A closingdate metric whose request POSTs ``records`` to the sandbox's echo API, which answers them."""
    connection = connection or custom_connection(sandbox.url, options={"allowed_methods": ["GET", "POST"]})
    metric = MetricFactory(
        closing=True,
        name=name,
        owner=None,
        connection=connection,
        method="POST",
        endpoint="echo",
        params=[],
        pagination={},
        body={"result": records},
        expression='json.result.{"value": $number(amount), "date": closingdate}',
        window_days=31,
    )
    SyncState.objects.create(metric=metric)
    return metric


def october():
    return whole_days(date(2026, 10, 1), date(2026, 10, 31), "UTC")


def stored(metric):
    return sorted(
        (stamp.astimezone(UTC).date(), value)
        for stamp, value in Datapoint.objects.filter(metric=metric).values_list("timestamp", "value")
    )


def test_an_unparsable_date_is_reported_with_its_record_and_not_stored(sandbox):
    metric = echo_metric(sandbox, DEALS)
    run = engine.run(metric, october())
    run.refresh_from_db()

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.datapoints_written == 2
    assert stored(metric) == [(date(2026, 10, 5), 100.0), (date(2026, 10, 31), 50.0)], "no guessed date"
    assert run.dropped == 3
    assert run.dropped_examples == [
        {"reason": "outside", "count": 1, "examples": [{"value": "2026-12-15", "record": "13x512"}]},
        {"reason": "no_date", "count": 1, "examples": [{"value": "", "record": "13x78"}]},
        {"reason": "bad_date", "count": 1, "examples": [{"value": "31/07/2026", "record": "13x77"}]},
    ]
    assert run.warning == WORDS
    assert run.as_dict()["dropped"] == 3


def test_only_the_first_three_examples_are_kept_and_every_point_is_counted(sandbox):
    bad = [{"id": f"13x{n}", "closingdate": f"{n:02d}/10/2026", "amount": "1"} for n in range(1, 8)]
    metric = echo_metric(sandbox, [*bad, DEALS[0]])
    run = engine.run(metric, october())
    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED and run.datapoints_written == 1
    assert run.dropped == 7
    assert [example["record"] for example in run.dropped_examples[0]["examples"]] == ["13x1", "13x2", "13x3"]
    assert run.warning.startswith("7 values were not stored: 7 had a date that does not match YYYY-MM-DD (e.g. ")


def test_a_vtiger_deal_outside_the_window_is_counted_and_named(sandbox, vtiger):
    """A query that asks for more than the window (from a week before it): the deals of that week are
    fetched, not stored, and counted, the first three named by their Vtiger ids."""
    today = sandbox.dataset.today
    first, last = today - timedelta(days=30), today - timedelta(days=10)
    since = first - timedelta(days=7)
    query = (
        f"SELECT amount, closingdate FROM Potentials WHERE closingdate >= '{since.isoformat()}' "  # noqa: S608 - VTQL
        "AND closingdate <= '{{end:YYYY-MM-DD}}' ORDER BY id;"
    )
    metric = MetricFactory(
        closing=True,
        name="Won amount (wide query)",
        owner=None,
        connection=vtiger,
        params=[["query", query]],
        window_days=21,
    )
    SyncState.objects.create(metric=metric)
    deals = sorted(
        sandbox.dataset.records("Potentials"), key=lambda row: int(str(row["id"]).split("x")[-1])
    )  # the query's ORDER BY id
    before = [row for row in deals if since <= date.fromisoformat(row["closingdate"]) < first]
    inside = [row for row in deals if first <= date.fromisoformat(row["closingdate"]) <= last]
    assert before and inside, "the sandbox has deals in both weeks"

    run = engine.run(metric, whole_days(first, last, "UTC"))
    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.datapoints_written == len(inside)
    assert run.dropped == len(before)
    expected = [{"value": row["closingdate"], "record": str(row["id"])} for row in before[:3]]
    assert run.dropped_examples == [{"reason": "outside", "count": len(before), "examples": expected}]
    noun = "value was" if len(before) == 1 else "values were"
    assert run.warning.startswith(f"{len(before)} {noun} not stored: {len(before)} fell outside the synced window")
    assert f"{before[0]['closingdate']} from record {before[0]['id']}" in run.warning


def test_the_syncs_panel_says_what_was_not_stored(sandbox, analyst_client):
    metric = echo_metric(sandbox, DEALS)
    engine.run(metric, october())
    clean = echo_metric(sandbox, DEALS[:2], name="Won amount (clean)")
    engine.run(clean, october())

    body = analyst_client.get(reverse("syncs:panel", args=[metric.uuid])).content.decode()
    shown = WORDS.replace("'", "&#x27;")  # escaped, never marked safe
    assert shown in body
    assert "Succeeded, with warnings" in body, "a run that dropped points is visibly marked"

    body = analyst_client.get(reverse("syncs:panel", args=[clean.uuid])).content.decode()
    assert "not stored" not in body and "with warnings" not in body


def test_sync_metric_says_what_was_not_stored(sandbox):
    metric = echo_metric(sandbox, DEALS)
    out = StringIO()
    call_command("sync_metric", metric.name, "--from", "2026-10-01", "--to", "2026-10-31", stdout=out)
    text = out.getvalue()
    assert "succeeded" in text and "2 datapoints written" in text
    assert f"Warning: {WORDS}" in text

    out = StringIO()
    call_command("sync_metric", metric.name, "--from", "2026-10-01", "--to", "2026-10-31", "--json", stdout=out)
    record = json.loads(out.getvalue())
    assert record["status"] == "succeeded" and record["dropped"] == 3
    assert record["dropped_examples"][2]["examples"] == [{"value": "31/07/2026", "record": "13x77"}]


def test_a_date_format_that_cannot_be_used_still_stops_the_sync(sandbox):
    metric = echo_metric(sandbox, DEALS[:2])
    Metric.objects.filter(pk=metric.pk).update(date_format="QQ/YYYY")
    metric.refresh_from_db()
    window = timeframes.Window(
        start=datetime(2026, 10, 1, tzinfo=UTC), end=datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC), tz=UTC
    )
    with pytest.raises(engine.SyncFailed) as failure:
        engine.run(metric, window)
    assert failure.value.run.status == SyncRun.Status.FAILED
    assert "cannot be used" in failure.value.run.error
    assert not Datapoint.objects.filter(metric=metric).exists()


def test_each_run_of_a_workers_batch_keeps_its_own_dropped_points(sandbox):
    """Two metrics of one connection synced by one task (one transaction for both runs): each run
    records its own count and examples, and the metric with nothing dropped has no warning."""
    connection = custom_connection(sandbox.url, options={"allowed_methods": ["GET", "POST"]})
    records = {
        "Echo A": [
            {"id": "13x1", "closingdate": "31/07/2026", "amount": "1"},
            {"id": "13x2", "closingdate": "2099-01-01", "amount": "2"},
        ],
        "Echo B": [{"id": "13x3", "closingdate": "07-31-2026", "amount": "3"}],
        "Echo C": [],
    }
    metrics = {name: echo_metric(sandbox, rows, name=name, connection=connection) for name, rows in records.items()}
    for metric in metrics.values():
        uses.add_use(metric, "screen")
    ids = dispatcher.dispatch()
    token = SyncState.objects.get(metric=metrics["Echo A"]).claimed_by
    assert sorted(ids) == sorted(metric.pk for metric in metrics.values())

    outcomes = runner.execute_batch(sorted(ids), token)
    assert {outcome.status for outcome in outcomes.values()} == {"synced"}
    runs = {name: SyncRun.objects.filter(metric=metric, kind="scheduled").get() for name, metric in metrics.items()}
    assert {name: (run.status, run.dropped) for name, run in runs.items()} == {
        "Echo A": ("succeeded", 2),
        "Echo B": ("succeeded", 1),
        "Echo C": ("succeeded", 0),
    }
    assert runs["Echo A"].dropped_examples == [
        {"reason": "outside", "count": 1, "examples": [{"value": "2099-01-01", "record": "13x2"}]},
        {"reason": "bad_date", "count": 1, "examples": [{"value": "31/07/2026", "record": "13x1"}]},
    ]
    assert runs["Echo B"].warning == (
        "1 value was not stored: 1 had a date that does not match YYYY-MM-DD (e.g. '07-31-2026' in record 13x3)."
    )
    assert runs["Echo C"].warning == "" and runs["Echo C"].dropped_examples == []
    assert not Datapoint.objects.filter(metric__in=metrics.values()).exists()
