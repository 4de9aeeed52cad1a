"""Calendar dates through a sync: closingdate values from the sandbox are stored so that every
viewer's per-day totals are the sandbox's own totals per closing date; a sync replaces the rows
of its window's local dates; the migration moves the datapoints stored before.

Expected values are computed from the sandbox's records (``sandbox.dataset``), never through the
product's code.
"""

import importlib
import io
import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
from django.apps import apps
from django.core.management import call_command

from builder import timeframes
from builder.models import Metric
from dashboards import queries
from syncs import engine, storage
from syncs.models import Datapoint, SyncState
from tests.factories import DatapointFactory, MetricFactory, UserFactory

pytestmark = pytest.mark.django_db

VIEWERS = ["America/New_York", "UTC", "Asia/Kolkata", "Asia/Tokyo", "Pacific/Chatham"]


def owner_in(zone):
    owner = UserFactory(username=f"owner-{zone.replace('/', '-').lower()}")
    owner.profile.time_zone = zone
    owner.profile.save()
    return owner


def closing_metric(connection, owner, name):
    return MetricFactory(closing=True, name=name, owner=owner, connection=connection)


def whole_days(first, last, zone):
    """The window of the local dates ``first`` to ``last`` in ``zone``, as a sync cuts it."""
    zone = timeframes.get_zone(zone)
    start = timeframes.start_of_day(first, zone)
    end = (timeframes.start_of_day(last + timedelta(days=1), zone).astimezone(UTC) - timeframes.RESOLUTION).astimezone(
        zone
    )
    return timeframes.Window(start=start, end=end, tz=zone)


def sandbox_totals(sandbox, first, last):
    """{closing date: total amount} of the sandbox's deals closing from ``first`` to ``last``."""
    totals = defaultdict(float)
    for row in sandbox.dataset.records("Potentials"):
        day = date.fromisoformat(row["closingdate"])
        if first <= day <= last:
            totals[day] += float(row["amount"])
    return dict(totals)


def per_day(metric, first, last, zone):
    points = queries.aggregate(metric, timeframes.custom(first, last, zone), by="day")
    return {point.start.date(): point.value for point in points if point.value is not None}


def assert_same(found, expected):
    assert found.keys() == expected.keys()
    for day, value in expected.items():
        assert found[day] == pytest.approx(value), day


def test_a_synced_closingdate_counts_on_its_date_for_every_viewer(sandbox, vtiger):
    today = sandbox.dataset.today
    first, last = today - timedelta(days=45), today - timedelta(days=15)
    expected = sandbox_totals(sandbox, first, last)
    assert len(expected) > 20, "the sandbox has deals closing on most days"

    new_york = closing_metric(vtiger, owner_in("America/New_York"), "Won amount (New York owner)")
    SyncState.objects.create(metric=new_york)
    run = engine.run(new_york, whole_days(first, last, "America/New_York"))
    assert run.datapoints_written == sum(
        1 for row in sandbox.dataset.records("Potentials") if first <= date.fromisoformat(row["closingdate"]) <= last
    )
    for viewer in VIEWERS:
        assert_same(per_day(new_york, first, last, viewer), expected)
        total = queries.aggregate(new_york, timeframes.custom(first, last, viewer))
        assert total == pytest.approx(sum(expected.values()))
    assert new_york.date_kind == "calendar"

    # The metric_values command, per day in New York and per month in Chatham.
    out = io.StringIO()
    options = ["--from", first.isoformat(), "--to", last.isoformat(), "--by", "day", "--json"]
    call_command("metric_values", new_york.name, *options, "--tz", "America/New_York", stdout=out)
    buckets = {b["start"][:10]: b["value"] for b in json.loads(out.getvalue())["buckets"] if b["value"] is not None}
    assert_same({date.fromisoformat(k): v for k, v in buckets.items()}, expected)
    out = io.StringIO()
    options[-2] = "month"
    call_command("metric_values", new_york.name, *options, "--tz", "Pacific/Chatham", stdout=out)
    months = defaultdict(float)
    for day, value in expected.items():
        months[day.replace(day=1)] += value
    found = {b["start"][:10]: b["value"] for b in json.loads(out.getvalue())["buckets"]}
    assert_same({date.fromisoformat(k): v for k, v in found.items()}, dict(months))

    # An owner on the other side of the date line cuts the same local dates: the same rows.
    tokyo = closing_metric(vtiger, owner_in("Asia/Tokyo"), "Won amount (Tokyo owner)")
    SyncState.objects.create(metric=tokyo)
    engine.run(tokyo, whole_days(first, last, "Asia/Tokyo"))

    def rows(metric):
        return sorted(Datapoint.objects.filter(metric=metric).values_list("timestamp", "value"))

    assert rows(tokyo) == rows(new_york)
    assert all(stamp.astimezone(UTC).time() == datetime.min.time() for stamp, _ in rows(tokyo))


def _at(day):
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC)


def test_a_window_replaces_the_rows_of_its_local_dates(db):
    metric = MetricFactory(
        current=True, name="Closing", expression="result", date_mode="field", date_format="YYYY-MM-DD"
    )
    old = ["2026-09-30", "2026-10-01", "2026-10-07", "2026-10-08"]
    now = datetime(2026, 12, 1, tzinfo=UTC)
    Datapoint.objects.bulk_create(Datapoint(metric=metric, timestamp=_at(d), value=1, synced_at=now) for d in old)
    # 1 to 7 October in New York: 1 October 04:00 UTC to 8 October 03:59:59 UTC.
    window = whole_days(date(2026, 10, 1), date(2026, 10, 7), "America/New_York")
    points = [(_at("2026-10-01"), 5.0, ""), (_at("2026-10-07"), 6.0, ""), (_at("2026-10-08"), 9.0, "")]
    written, outside = storage.store(metric, points, window=window, stamp=now)
    assert (written, outside) == (2, 1)  # 8 October is the next window's
    stored = sorted((p.timestamp.date().isoformat(), p.value) for p in Datapoint.objects.filter(metric=metric))
    assert stored == [("2026-09-30", 1.0), ("2026-10-01", 5.0), ("2026-10-07", 6.0), ("2026-10-08", 1.0)]
    # The rolling window up to now includes today's date.
    today = timeframes.sync_window(datetime(2026, 10, 9, 1, tzinfo=UTC), 1, "Asia/Kolkata")
    assert timeframes.calendar_span(today) == (_at("2026-10-08"), _at("2026-10-10"))


def test_the_migration_moves_existing_calendar_datapoints(db, vtiger):
    kinds = importlib.import_module("builder.migrations.0002_metric_date_kind")
    moves = importlib.import_module("syncs.migrations.0002_calendar_datapoints")
    now = datetime(2026, 12, 1, tzinfo=UTC)

    def metric(name, fmt, zone=""):
        created = MetricFactory(
            current=True,
            name=name,
            endpoint="q",
            expression="r",
            date_mode="field",
            date_format=fmt,
            date_timezone=zone,
        )
        Metric.objects.filter(pk=created.pk).update(date_kind="instant", connection=vtiger)  # as before 0002
        return created

    new_york = metric("Closing (New York data)", "YYYY-MM-DD", "America/New_York")
    utc = metric("Closing (UTC data)", "DD/MM/YYYY")
    leads = metric("Leads", "YYYY-MM-DD HH:mm:ss", "America/New_York")
    stamps = {
        new_york: datetime(2026, 10, 1, 4, tzinfo=UTC),  # 2026-10-01 read in New York
        utc: datetime(2026, 10, 1, tzinfo=UTC),
        leads: datetime(2026, 10, 1, 4, 30, tzinfo=UTC),
    }
    for owner, stamp in stamps.items():
        DatapointFactory(metric=owner, timestamp=stamp, value=1, synced_at=now)
    kinds.set_kinds(apps, None)
    moves.forward(apps, None)
    assert dict(Metric.objects.values_list("name", "date_kind")) == {
        "Closing (New York data)": "calendar",
        "Closing (UTC data)": "calendar",
        "Leads": "instant",
    }
    moved = {p.metric_id: p.timestamp for p in Datapoint.objects.all()}
    assert moved == {new_york.pk: _at("2026-10-01"), utc.pk: _at("2026-10-01"), leads.pk: stamps[leads]}
    moves.backward(apps, None)
    assert Datapoint.objects.get(metric=new_york).timestamp == stamps[new_york]
