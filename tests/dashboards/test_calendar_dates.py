"""Calendar dates (a date format without a time of day: Vtiger's closingdate) count on their date
for every viewer, in every place a number is read: totals, buckets, the previous period, many
metrics at once, metric_values, the CSV and JSON exports and goals. Instants (createdtime) still
follow the viewer's zone.

Expected values are computed here from the dates themselves, with nothing but ``date`` arithmetic.
Runs on SQLite by default and on PostgreSQL with DATABASE_URL.
"""

import csv
import io
import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder import dates, timeframes
from builder.models import Aggregation, Metric
from dashboards import alerts, queries, scorecards
from dashboards.models import Alert, Goal, Scorecard
from dashboards.views.goals import progress_of
from syncs.models import Datapoint
from tests.factories import MetricFactory, UserFactory

ZONES = ["America/New_York", "Asia/Tokyo", "Pacific/Chatham", "Asia/Kolkata", "UTC"]
PROPERTY_ZONES = [
    *ZONES,
    "Asia/Kathmandu",
    "America/St_Johns",
    "Australia/Lord_Howe",
    "Pacific/Kiritimati",
    "Etc/GMT+12",
    "America/Santiago",
]
# Deals by closing date: the two of October on its first and last day, their neighbours outside it.
DEALS = [("2026-09-30", 7.0), ("2026-10-01", 100.0), ("2026-10-31", 250.0), ("2026-11-01", 11.0)]
OCTOBER = {date(2026, 10, 1): 100.0, date(2026, 10, 31): 250.0}


def deals_metric(name="Won amount", aggregation="sum", date_format=dates.DATE, date_field="closingdate"):
    return MetricFactory(
        current=True,
        name=name,
        expression="result",
        aggregation=aggregation,
        date_mode="field",
        date_field=date_field,
        date_format=date_format,
    )


def store(metric, values, fmt=dates.DATE, naive_tz="UTC"):
    """Datapoints stamped the way a sync stamps them: ``builder.dates.parse`` of the raw value (Vtiger: UTC)."""
    now = datetime(2026, 12, 1, tzinfo=UTC)
    Datapoint.objects.bulk_create(
        Datapoint(metric=metric, timestamp=dates.parse(raw, fmt, naive_tz), value=value, synced_at=now)
        for raw, value in values
    )


@pytest.fixture
def won(db):
    metric = deals_metric()
    store(metric, DEALS)
    return metric


def october(zone):
    return timeframes.custom(date(2026, 10, 1), date(2026, 10, 31), zone)


def by_date(points):
    return {point.start.date(): point.value for point in points if point.value is not None}


def test_the_kind_of_dates_follows_the_format(db):
    assert not dates.has_time_of_day("YYYY-MM-DD")
    assert not dates.has_time_of_day("DD/MM/YYYY")
    assert not dates.has_time_of_day("YYYY-MM")
    assert dates.has_time_of_day("YYYY-MM-DD HH:mm:ss")
    assert dates.has_time_of_day("DD.MM.YYYY HH:mm")
    assert dates.has_time_of_day(dates.ISO) and dates.has_time_of_day(dates.UNIX) and dates.has_time_of_day("")
    metric = deals_metric()
    assert metric.date_kind == "calendar"
    metric.date_format = "YYYY-MM-DD HH:mm:ss"
    metric.save(update_fields=["date_format"])
    assert Metric.objects.get(pk=metric.pk).date_kind == "instant"
    metric.date_format = "DD/MM/YYYY"
    metric.date_mode = "dynamic"  # no field: the sync's time, an instant
    metric.save()
    assert Metric.objects.get(pk=metric.pk).date_kind == "instant"


def test_a_calendar_date_is_midnight_utc_whatever_the_naive_zone():
    for zone in PROPERTY_ZONES:
        assert dates.parse("2026-10-15", dates.DATE, zone) == datetime(2026, 10, 15, tzinfo=UTC)
        assert dates.parse("15/10/2026", "DD/MM/YYYY", zone) == datetime(2026, 10, 15, tzinfo=UTC)
    assert dates.preview("2026-10-15", dates.DATE, "UTC", "America/New_York").local == "2026-10-15 (calendar date)"


@pytest.mark.parametrize("zone", ZONES)
def test_october_is_the_same_for_every_viewer(won, zone):
    assert queries.aggregate(won, october(zone)) == 350.0
    assert queries.aggregate(won, october(zone), aggregation="count") == 2
    assert queries.totals([won], october(zone), previous=None) == {won.pk: 350.0}
    # The month preset, read on 15 November in the viewer's zone: October, compared with September.
    now = timeframes.localize(datetime(2026, 11, 15, 9), ZoneInfo(zone))
    last_month = timeframes.resolve("last_month", zone, now)
    assert queries.value_and_previous(won, last_month) == (350.0, 7.0)
    assert queries.totals([won], last_month) == {won.pk: (350.0, 7.0)}
    # This month to date on 1 November at 00:30: 1 November is already in, whatever the zone.
    early = timeframes.localize(datetime(2026, 11, 1, 0, 30), ZoneInfo(zone))
    assert queries.value_and_previous(won, timeframes.resolve("this_month", zone, early)) == (11.0, 100.0)


@pytest.mark.parametrize("zone", ZONES)
def test_each_deal_is_in_its_own_day_week_and_month(won, zone):
    days = queries.aggregate(won, october(zone), by="day")
    assert len(days) == 31
    assert by_date(days) == OCTOBER
    assert all(point.start.utcoffset() == point.start.astimezone(ZoneInfo(zone)).utcoffset() for point in days)
    assert by_date(queries.series([won], october(zone), "day")[won.pk]) == OCTOBER
    weeks = by_date(queries.aggregate(won, october(zone), by="week"))
    assert weeks == {date(2026, 9, 28): 100.0, date(2026, 10, 26): 250.0}
    sunday_weeks = by_date(queries.aggregate(won, october(zone), by="week", week_start="sunday"))
    assert sunday_weeks == {date(2026, 9, 27): 100.0, date(2026, 10, 25): 250.0}
    autumn = timeframes.custom(date(2026, 9, 1), date(2026, 11, 30), zone)
    months = {date(2026, 9, 1): 7.0, date(2026, 10, 1): 350.0, date(2026, 11, 1): 11.0}
    assert by_date(queries.aggregate(won, autumn, by="month")) == months
    assert by_date(queries.series([won], autumn, "month")[won.pk]) == months


@pytest.mark.parametrize("zone", ZONES)
def test_many_metrics_of_both_kinds_at_once_equal_each_metric_alone(db, zone):
    """totals and series read instants and calendar dates in the same queries, Latest value included."""
    metrics = []
    for aggregation in Aggregation.values:
        calendar = deals_metric(f"Deals {aggregation}", aggregation)
        store(calendar, [*DEALS, ("2026-10-31", 5.0)])
        instant = deals_metric(f"Leads {aggregation}", aggregation, date_format=dates.DATETIME)
        store(
            instant,
            [("2026-10-01 02:00:00", 1.0), ("2026-10-31 23:30:00", 2.0), ("2026-11-01 03:00:00", 4.0)],
            dates.DATETIME,
            "UTC",
        )
        metrics += [calendar, instant]
    current = october(zone)
    with_previous = queries.totals(metrics, current)
    charts = queries.series(metrics, current, "day")
    for metric in metrics:
        assert with_previous[metric.pk] == queries.value_and_previous(metric, current), metric.name
        assert charts[metric.pk] == queries.aggregate(metric, current, by="day"), metric.name
    for by, week_start in (("week", "sunday"), ("week", "monday"), ("month", "monday")):
        charts = queries.series(metrics, current, by, week_start=week_start)
        for metric in metrics:
            assert charts[metric.pk] == queries.aggregate(metric, current, by=by, week_start=week_start), metric.name


def test_an_instant_still_follows_the_viewers_zone(db):
    leads = deals_metric("New leads", "count", date_format=dates.DATETIME, date_field="createdtime")
    store(leads, [("2026-10-01 02:00:00", 1.0), ("2026-10-31 23:30:00", 1.0)], dates.DATETIME, "UTC")
    assert leads.date_kind == "instant"
    new_york = by_date(queries.aggregate(leads, october("America/New_York"), by="day"))
    assert new_york == {date(2026, 10, 31): 1}  # 1 October 02:00 UTC is 30 September in New York
    tokyo = by_date(queries.aggregate(leads, october("Asia/Tokyo"), by="day"))
    assert tokyo == {date(2026, 10, 1): 1}  # 31 October 23:30 UTC is 1 November in Tokyo
    assert by_date(queries.aggregate(leads, october("UTC"), by="day")) == {date(2026, 10, 1): 1, date(2026, 10, 31): 1}


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Tokyo", "Pacific/Chatham"])
def test_metric_values_per_day_and_per_month(won, zone):
    out = io.StringIO()
    call_command(
        "metric_values",
        won.name,
        "--from",
        "2026-10-01",
        "--to",
        "2026-10-31",
        "--tz",
        zone,
        "--by",
        "day",
        "--json",
        stdout=out,
    )
    buckets = json.loads(out.getvalue())["buckets"]
    found = {b["start"][:10]: b["value"] for b in buckets if b["value"] is not None}
    assert found == {"2026-10-01": 100.0, "2026-10-31": 250.0}
    out = io.StringIO()
    call_command(
        "metric_values",
        won.name,
        "--from",
        "2026-09-01",
        "--to",
        "2026-11-30",
        "--tz",
        zone,
        "--by",
        "month",
        stdout=out,
    )
    lines = out.getvalue().splitlines()
    assert "  2026-09-01  7" in lines and "  2026-10-01  350" in lines and "  2026-11-01  11" in lines


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Tokyo"])
def test_exports_carry_the_date(analyst_client, analyst_user, won, zone):
    analyst_user.profile.time_zone = zone
    analyst_user.profile.save()
    query = {"range": "custom", "start": "2026-10-01", "end": "2026-10-31"}
    text = analyst_client.get(reverse("dashboards:csv", args=[won.uuid]), query).content.decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["date", "value", "dimension"], ["2026-10-01", "100.0", ""], ["2026-10-31", "250.0", ""]]
    data = analyst_client.get(reverse("dashboards:json", args=[won.uuid]), query).json()
    assert data["date_kind"] == "calendar"
    assert data["datapoints"] == [
        {"date": "2026-10-01", "value": 100.0, "dimension": ""},
        {"date": "2026-10-31", "value": 250.0, "dimension": ""},
    ]


@pytest.mark.parametrize("zone", ZONES)
def test_goal_progress(won, zone):
    goal = Goal.objects.create(
        metric=won, target=350, period="custom", start_date=date(2026, 10, 1), end_date=date(2026, 10, 31)
    )
    _, done = progress_of(goal, zone, datetime(2026, 11, 5, tzinfo=UTC))
    assert (done.value, done.status) == (350.0, "achieved")
    # Halfway through 31 October in the viewer's zone: both deals are in.
    halfway = timeframes.localize(datetime(2026, 10, 31, 12), ZoneInfo(zone))
    _, running = progress_of(goal, zone, halfway)
    assert running.value == 350.0


@pytest.mark.parametrize("zone", ZONES)
def test_alerts_and_scorecards_read_the_same_month(won, zone):
    owner = UserFactory(username=f"owner-{zone.replace('/', '-').lower()}")
    owner.profile.time_zone = zone
    owner.profile.save()
    now = timeframes.localize(datetime(2026, 11, 2, 9), ZoneInfo(zone))
    above = Alert.objects.create(
        metric=won, condition="above", threshold=300, date_range="last_month", created_by=owner
    )
    reading = alerts.read(above, now)
    assert (reading.value, reading.holds) == (350.0, True)
    change = Alert.objects.create(
        metric=won, condition="change", threshold=1000, date_range="last_month", created_by=owner
    )
    assert alerts.read(change, now).comparison.percent == pytest.approx((350 - 7) / 7 * 100)
    card = Scorecard.objects.create(name=f"Monthly {zone}", frequency="monthly", hour=8, owner=owner)
    card.metrics.set([won])
    digest = scorecards.build(card, now)
    assert (digest.range.first_day, digest.range.last_day) == (date(2026, 10, 1), date(2026, 10, 31))
    assert [(row.value, row.comparison.previous) for row in digest.rows] == [(350.0, 7.0)]


# ---------------------------------------------------------------- property: every zone, plain Python


def _python_buckets(points, current, by):
    """Plain Python: each calendar date in the bucket of that date, for the dates of the range."""
    first, last = current.first_day, current.last_day
    found = defaultdict(float)
    for day, value in points:
        if first <= day <= last:
            found[timeframes.bucket_key(day, by, current.week_start)] += value
    return dict(found)


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    days=st.lists(
        st.tuples(st.dates(date(2025, 12, 1), date(2027, 2, 28)), st.integers(1, 1000).map(float)),
        min_size=1,
        max_size=12,
    ),
    zones=st.lists(st.sampled_from(PROPERTY_ZONES), min_size=2, max_size=3, unique=True),
    first=st.dates(date(2025, 12, 1), date(2027, 2, 28)),
    length=st.integers(0, 70),
    week_start=st.integers(0, 6),
)
def test_a_calendar_date_lands_in_the_same_bucket_in_every_zone(days, zones, first, length, week_start):
    metric = Metric.objects.filter(name="Property").first() or deals_metric("Property")
    Datapoint.objects.filter(metric=metric).delete()
    store(metric, [(day.isoformat(), value) for day, value in days], naive_tz=zones[0])
    last = first + timedelta(days=length)
    for by in timeframes.BUCKETS:
        seen = []
        for zone in zones:
            current = timeframes.custom(first, last, zone, week_start=week_start)
            result = by_date(queries.aggregate(metric, current, by=by))
            assert result == _python_buckets(days, current, by), (by, zone)
            assert by_date(queries.series([metric], current, by)[metric.pk]) == result
            seen.append(result)
        assert all(result == seen[0] for result in seen)
        total = sum(value for day, value in days if first <= day <= last) or None
        assert queries.aggregate(metric, timeframes.custom(first, last, zones[-1])) == total
