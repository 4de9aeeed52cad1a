"""Calculated metrics' values: the formula over the inputs' aggregated values of the same range or
bucket, in the viewer's zone, checked against values computed here straight from the datapoints."""

import json
from datetime import UTC, date, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.urls import reverse

from builder import timeframes
from builder.models import Kind, Metric
from dashboards import queries, reading
from tests.factories import MetricFactory, datapoints

ZONES = ["UTC", "Pacific/Auckland"]
START = datetime(2026, 3, 1, tzinfo=UTC)


def instants():
    """Every 5 hours over March 2026 (the days cut differently in each zone)."""
    return [START + timedelta(hours=5 * index) for index in range(31 * 24 // 5)]


WON = [(when, 1.0) for index, when in enumerate(instants()) if index % 3 == 0 and not 40 <= index < 50]
CREATED = [(when, 1.0) for index, when in enumerate(instants()) if not 40 <= index < 45]
AMOUNTS = [(when, float(100 + 17 * index % 90)) for index, when in enumerate(instants()) if index % 3 == 0]


def calculated(name, formula, inputs, **extra):
    metric = Metric.objects.create(name=name, kind=Kind.CALCULATED, formula=formula, number_format="percent", **extra)
    metric.set_inputs(inputs)
    return metric


@pytest.fixture
def deals(db):
    won = MetricFactory(name="Deals won", current=True, aggregation="count")
    created = MetricFactory(name="Deals created", current=True, aggregation="count")
    amount = MetricFactory(name="Won amount", current=True, aggregation="sum")
    datapoints(won, WON)
    datapoints(created, CREATED)
    datapoints(amount, AMOUNTS)
    rate = calculated("Win rate", "won / created × 100", [("won", won), ("created", created)])
    size = calculated("Average deal size", "won_amount ÷ won_count", [("won_amount", amount), ("won_count", won)])
    return {"won": won, "created": created, "amount": amount, "rate": rate, "size": size}


def local_day(when, zone):
    return when.astimezone(ZoneInfo(zone)).date()


def in_days(points, first, last, zone):
    return [value for when, value in points if first <= local_day(when, zone) <= last]


def rate(won, created):
    return None if not created else len(won) / len(created) * 100


@pytest.mark.parametrize("zone", ZONES)
def test_total_is_a_ratio_of_sums_in_the_viewers_zone(deals, zone):
    current = timeframes.custom(date(2026, 3, 3), date(2026, 3, 20), zone)
    previous = timeframes.previous(current)
    won = in_days(WON, current.first_day, current.last_day, zone)
    created = in_days(CREATED, current.first_day, current.last_day, zone)
    amounts = in_days(AMOUNTS, current.first_day, current.last_day, zone)
    expected_rate = len(won) / len(created) * 100
    values = queries.totals([deals["rate"], deals["size"], deals["won"]], current)
    assert values[deals["rate"].pk][0] == pytest.approx(expected_rate)
    assert values[deals["size"].pk][0] == pytest.approx(sum(amounts) / len(won))
    assert values[deals["won"].pk][0] == len(won)
    # Not the average of each day's rates.
    days = [current.first_day + timedelta(days=n) for n in range((current.last_day - current.first_day).days + 1)]
    daily = [rate(in_days(WON, d, d, zone), in_days(CREATED, d, d, zone)) for d in days]
    assert expected_rate != pytest.approx(sum(r for r in daily if r is not None) / len([r for r in daily if r]))
    expected_previous = rate(
        in_days(WON, previous.first_day, previous.last_day, zone),
        in_days(CREATED, previous.first_day, previous.last_day, zone),
    )
    assert values[deals["rate"].pk][1] == pytest.approx(expected_previous)
    assert queries.aggregate(deals["rate"], current) == pytest.approx(expected_rate)
    pair = (pytest.approx(expected_rate), pytest.approx(expected_previous))
    assert queries.value_and_previous(deals["rate"], current) == pair
    # February has no data at all: no value, not 0.
    february = timeframes.custom(date(2026, 2, 1), date(2026, 2, 28), zone)
    assert queries.totals([deals["rate"]], february, previous=None) == {deals["rate"].pk: None}


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("by", ["day", "week"])
def test_buckets_are_computed_from_the_inputs_buckets(deals, zone, by):
    current = timeframes.custom(date(2026, 3, 2), date(2026, 3, 29), zone)
    points = queries.series([deals["rate"]], current, by)[deals["rate"].pk]
    buckets = timeframes.buckets(current, by)
    assert len(points) == len(buckets)
    for found, bucket in zip(points, buckets, strict=True):
        first, last = (
            max(bucket.key, current.first_day),
            min(bucket.end.astimezone(ZoneInfo(zone)).date() - timedelta(days=1), current.last_day),
        )
        expected = rate(in_days(WON, first, last, zone), in_days(CREATED, first, last, zone))
        assert found.start == timeframes.start_of_day(bucket.key, zone)
        assert found.value == (pytest.approx(expected) if expected is not None else None)
    assert queries.aggregate(deals["rate"], current, by) == points


def test_a_bucket_without_created_deals_has_no_value_and_one_without_won_deals_is_zero(deals):
    # Instants 40-44 (9-10 March UTC) have no created deal, 40-49 no won deal.
    current = timeframes.custom(date(2026, 3, 9), date(2026, 3, 11), "UTC")
    points = queries.series([deals["rate"]], current, "day")[deals["rate"].pk]
    values = {point.start.date(): point.value for point in points}
    created = {d: in_days(CREATED, d, d, "UTC") for d in values}
    won = {d: in_days(WON, d, d, "UTC") for d in values}
    for day, value in values.items():
        assert value == (None if not created[day] else pytest.approx(len(won[day]) / len(created[day]) * 100))
    assert any(value == 0 for value in values.values()), values  # won nothing, created some: 0 %
    # Drawn on a chart, an empty bucket stays a gap (not 0).
    drawn = reading.drawn(points, deals["rate"].aggregation)
    assert [p.value for p in drawn] == [p.value for p in points]


def test_division_by_zero_and_missing_inputs_are_none(deals, db):
    empty = MetricFactory(name="Nothing", current=True, aggregation="average")
    ratio = calculated("By nothing", "won / nothing", [("won", deals["won"]), ("nothing", empty)])
    current = timeframes.custom(date(2026, 3, 3), date(2026, 3, 5), "UTC")
    assert queries.totals([ratio], current, previous=None) == {ratio.pk: None}
    zero = calculated("By zero", "won / (created - created)", [("won", deals["won"]), ("created", deals["created"])])
    assert queries.totals([zero], current, previous=None) == {zero.pk: None}
    assert all(point.value is None for point in queries.series([zero], current, "day")[zero.pk])


def test_a_calculated_input_of_a_calculated_metric(deals):
    loss = calculated("Loss rate", "100 - rate", [("rate", deals["rate"])])
    current = timeframes.custom(date(2026, 3, 3), date(2026, 3, 20), "UTC")
    won = in_days(WON, current.first_day, current.last_day, "UTC")
    created = in_days(CREATED, current.first_day, current.last_day, "UTC")
    assert queries.aggregate(loss, current) == pytest.approx(100 - len(won) / len(created) * 100)


def test_query_counts_do_not_grow_with_calculated_metrics(deals, django_assert_num_queries):
    current = timeframes.custom(date(2026, 3, 3), date(2026, 3, 20), "UTC")
    plain = [deals["won"], deals["created"], deals["amount"]]
    more = [
        calculated(f"Rate {n}", f"won / created * {n}", [("won", deals["won"]), ("created", deals["created"])])
        for n in range(6)
    ]
    # Plain metrics alone: one query each for totals and series.
    with django_assert_num_queries(1):
        queries.totals(plain, current)
    with django_assert_num_queries(1):
        queries.series(plain, current, "day")
    # With eight calculated metrics: one more (their inputs), whatever their number.
    with django_assert_num_queries(2):
        queries.totals([*plain, deals["rate"], deals["size"], *more], current)
    with django_assert_num_queries(2):
        queries.series([*plain, deals["rate"], deals["size"], *more], current, "day")
    with django_assert_num_queries(2):
        queries.totals([deals["rate"]], current)


def test_the_metrics_screen_summary_of_a_calculated_metric(deals):
    current = timeframes.custom(date(2026, 3, 3), date(2026, 3, 20), "UTC")
    summary = reading.summarise(deals["rate"], current)
    won = in_days(WON, current.first_day, current.last_day, "UTC")
    created = in_days(CREATED, current.first_day, current.last_day, "UTC")
    assert summary.value == pytest.approx(len(won) / len(created) * 100)
    assert len(summary.series) == 18


def test_no_breakdown_of_a_calculated_metric(deals):
    current = timeframes.custom(date(2026, 3, 3), date(2026, 3, 20), "UTC")
    assert queries.aggregate(deals["rate"], current, by_dimension=True) == {}
    assert queries.aggregate(deals["rate"], current, dimension="north") is None
    points = queries.aggregate(deals["rate"], current, "day", dimension="north")
    assert len(points) == 18 and all(point.value is None for point in points)


def test_metric_values_command_shows_it(deals):
    out = StringIO()
    call_command(
        "metric_values", "Win rate", "--from", "2026-03-03", "--to", "2026-03-20", "--tz", "UTC", "--json", stdout=out
    )
    won = in_days(WON, date(2026, 3, 3), date(2026, 3, 20), "UTC")
    created = in_days(CREATED, date(2026, 3, 3), date(2026, 3, 20), "UTC")
    assert json.loads(out.getvalue())["value"] == pytest.approx(len(won) / len(created) * 100)


def test_metric_page_reads_it(deals, analyst_client):
    response = analyst_client.get(reverse("dashboards:reading", args=[deals["rate"].uuid]) + "?range=last_30_days")
    assert response.status_code == 200
    assert "Calculated from its inputs" in response.content.decode()
