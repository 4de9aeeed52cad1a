"""Sparse charts: every bucket of the range is in the chart, 0 or a gap by the metric's aggregation."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from builder import timeframes
from builder.models import Aggregation
from dashboards import reading
from tests.factories import MetricFactory, datapoints

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
# Five days with values on the first and the third only, 10.0 and 4.0 (two datapoints of 2.0).
FIRST = date(2026, 3, 10)
SPARSE = [
    (datetime(2026, 3, 10, 9, tzinfo=UTC), 10.0),
    (datetime(2026, 3, 12, 9, tzinfo=UTC), 2.0),
    (datetime(2026, 3, 12, 15, tzinfo=UTC), 2.0),
]
LABELS = [(FIRST + timedelta(days=n)).isoformat() for n in range(5)]

# What each aggregation draws for the five days.
DRAWN = {
    Aggregation.SUM: [10.0, 0, 4.0, 0, 0],
    Aggregation.COUNT: [1, 0, 2, 0, 0],
    Aggregation.AVERAGE: [10.0, None, 2.0, None, None],
    Aggregation.MIN: [10.0, None, 2.0, None, None],
    Aggregation.MAX: [10.0, None, 2.0, None, None],
    Aggregation.LATEST: [10.0, None, 2.0, None, None],
}


def _five_days(tz="UTC"):
    return timeframes.custom(FIRST, FIRST + timedelta(days=4), tz)


def test_every_aggregation_is_covered():
    assert set(DRAWN) == set(Aggregation.values)


@time_machine.travel(NOW, tick=False)
@pytest.mark.django_db
@pytest.mark.parametrize("aggregation", Aggregation.values)
def test_each_bucket_is_zero_or_a_gap_by_aggregation(aggregation):
    metric = MetricFactory(current=True, aggregation=aggregation)
    datapoints(metric, SPARSE)

    chart = reading.summarise(metric, _five_days(), by="day").chart_data()

    assert chart["labels"] == LABELS
    assert chart["values"] == DRAWN[aggregation]


@time_machine.travel(NOW, tick=False)
@pytest.mark.django_db
def test_many_metrics_on_one_screen_are_drawn_by_their_own_aggregation():
    metrics = [MetricFactory(current=True, aggregation=aggregation) for aggregation in Aggregation.values]
    for metric in metrics:
        datapoints(metric, SPARSE)

    summaries = reading.summarise_many(metrics, _five_days(), by="day")

    assert {s.metric.aggregation: [p.value for p in s.series] for s in summaries} == DRAWN


@time_machine.travel(NOW, tick=False)
@pytest.mark.django_db
def test_a_sum_is_zero_on_empty_local_days_of_the_viewer():
    """Buckets are the viewer's local days: 2026-03-12 15:00 UTC is the 12th in New York too."""
    metric = MetricFactory(current=True, aggregation=Aggregation.SUM)
    datapoints(metric, SPARSE)

    chart = reading.summarise(metric, _five_days("America/New_York"), by="day").chart_data()

    assert chart["labels"] == LABELS
    assert chart["values"] == [10.0, 0, 4.0, 0, 0]


@time_machine.travel(datetime(2026, 3, 12, 18, 0, tzinfo=UTC), tick=False)
@pytest.mark.django_db
def test_days_that_have_not_begun_have_no_value_yet():
    metric = MetricFactory(current=True, aggregation=Aggregation.SUM)
    datapoints(metric, SPARSE)

    chart = reading.summarise(metric, _five_days(), by="day").chart_data()

    assert chart["labels"] == LABELS
    assert chart["values"] == [10.0, 0, 4.0, None, None]


@time_machine.travel(NOW, tick=False)
@pytest.mark.django_db
def test_a_sum_by_week_is_zero_in_an_empty_week():
    metric = MetricFactory(current=True, aggregation=Aggregation.SUM)
    datapoints(metric, SPARSE[:1])  # Tuesday 10 March only
    three_weeks = timeframes.custom(date(2026, 2, 23), date(2026, 3, 15), "UTC")  # Monday to Sunday

    chart = reading.summarise(metric, three_weeks, by="week").chart_data()

    assert chart["labels"] == ["2026-02-23", "2026-03-02", "2026-03-09"]
    assert chart["values"] == [0, 0, 10.0]
