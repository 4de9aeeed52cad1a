"""Aggregation in the database over ranges and buckets, checked against values computed here.

The expected values are computed in this file straight from the datapoints inserted, with
nothing but ``astimezone`` and dates, so a mistake in ``builder.timeframes`` or in the SQL
shows up as a difference. Run on SQLite by default and on PostgreSQL with DATABASE_URL.
"""

from datetime import UTC, date, datetime, time, timedelta
from statistics import fmean
from zoneinfo import ZoneInfo

import pytest

from builder import timeframes
from builder.models import Aggregation
from dashboards import queries
from tests.factories import MetricFactory, datapoints
from tests.factories import point as add

AGGREGATIONS = Aggregation.values
STEP = timedelta(minutes=20)  # finer than the half- and quarter-hour offsets
SPANS = [
    (datetime(2026, 2, 26, tzinfo=UTC), datetime(2026, 4, 8, tzinfo=UTC)),
    (datetime(2026, 10, 24, tzinfo=UTC), datetime(2026, 11, 10, tzinfo=UTC)),
]
GAPS = [  # no data: whole local days without a value must come back as None
    (datetime(2026, 3, 4, tzinfo=UTC), datetime(2026, 3, 6, tzinfo=UTC)),
    (datetime(2026, 3, 29, 12, tzinfo=UTC), datetime(2026, 3, 31, 12, tzinfo=UTC)),
]


def make_metric(name="Revenue", aggregation="sum", trend="up"):
    return MetricFactory(name=name, aggregation=aggregation, favourable_trend=trend, current=True)


def generate():
    """Datapoints every 20 minutes with uneven values; every 7th instant has a second
    dimension at the same timestamp, so Latest value meets ties."""
    points = []
    index = 0
    for start, stop in SPANS:
        instant = start
        while instant < stop:
            if not any(a <= instant < b for a, b in GAPS):
                value = ((index * 37) % 101) - 20 + 0.25 * (index % 4)
                points.append((instant, value, "north"))
                if index % 7 == 0:
                    points.append((instant, value / 2 + 3, "south"))
            index += 1
            instant += STEP
    return points


POINTS = generate()


@pytest.fixture
def stored(db):
    def store(aggregation="sum", name="Revenue", points=POINTS):
        metric = make_metric(name=name, aggregation=aggregation)
        synced = datetime(2026, 11, 20, tzinfo=UTC)
        # Inserted newest first, so the latest datapoint is never the highest id.
        datapoints(metric, reversed(points), synced_at=synced)
        return metric

    return store


# ---------------------------------------------------------------- the independent oracle


def bucket_of(day, by, week_start=0):
    if by == "day":
        return day
    if by == "week":
        return day - timedelta(days=(day.weekday() - week_start) % 7)
    if by == "month":
        return day.replace(day=1)
    return None


def reduce(rows, aggregation):
    values = [v for _, v in rows]
    if aggregation == "sum":
        return sum(values)
    if aggregation == "average":
        return fmean(values)
    if aggregation == "min":
        return min(values)
    if aggregation == "max":
        return max(values)
    if aggregation == "count":
        return len(values)
    newest = max(t for t, _ in rows)
    return sum(v for t, v in rows if t == newest)


def expected(zone, first, last, by, aggregation, week_start=0, points=POINTS, dimension=None):
    groups = {}
    for instant, value, dim in points:
        day = instant.astimezone(zone).date()
        if first <= day <= last and (dimension is None or dim == dimension):
            groups.setdefault(bucket_of(day, by, week_start), []).append((instant, value))
    if by == "total":
        return reduce(groups[None], aggregation) if groups else None
    keys = []
    day = first
    while day <= last:
        key = bucket_of(day, by, week_start)
        if key not in keys:
            keys.append(key)
        day += timedelta(days=1)
    return [(key, reduce(groups[key], aggregation) if key in groups else None) for key in keys]


def check(result, wanted, zone, by):
    if by == "total":
        assert result == pytest.approx(wanted)
        return
    assert [point.start.date() for point in result] == [key for key, _ in wanted]
    for point, (key, value) in zip(result, wanted, strict=True):
        assert point.start.tzinfo is not None
        assert point.start.astimezone(zone).date() == key
        assert point.value == pytest.approx(value), key


# ---------------------------------------------------------------- every aggregation, bucket and zone

SCENARIOS = {
    "utc": ("UTC", date(2026, 3, 1), date(2026, 3, 20)),
    "new-york-spring-forward": ("America/New_York", date(2026, 3, 2), date(2026, 3, 15)),
    "new-york-fall-back": ("America/New_York", date(2026, 10, 26), date(2026, 11, 8)),
    "kolkata-month-turn": ("Asia/Kolkata", date(2026, 3, 25), date(2026, 4, 5)),
    "kathmandu": ("Asia/Kathmandu", date(2026, 2, 27), date(2026, 4, 6)),
}


@pytest.mark.parametrize("by", ["total", "day", "week", "month"])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_aggregations_match_the_datapoints(stored, scenario, by):
    zone_name, first, last = SCENARIOS[scenario]
    zone = ZoneInfo(zone_name)
    metric = stored()
    current = timeframes.custom(first, last, zone_name)
    for aggregation in AGGREGATIONS:
        result = queries.aggregate(metric, current, by, aggregation=aggregation)
        check(result, expected(zone, first, last, by, aggregation), zone, by)


@pytest.mark.parametrize("aggregation", AGGREGATIONS)
def test_sunday_weeks_across_dst(stored, aggregation):
    zone = ZoneInfo("America/New_York")
    metric = stored()
    first, last = date(2026, 3, 3), date(2026, 3, 24)
    current = timeframes.custom(first, last, zone, week_start="sunday")
    result = queries.aggregate(metric, current, "week", aggregation=aggregation)
    check(result, expected(zone, first, last, "week", aggregation, week_start=6), zone, "week")


def test_one_dimension_and_each_dimension(stored):
    zone = ZoneInfo("Asia/Kolkata")
    metric = stored()
    first, last = date(2026, 3, 25), date(2026, 4, 2)
    current = timeframes.custom(first, last, zone)
    for aggregation in ("sum", "latest", "count"):
        south = queries.aggregate(metric, current, "day", aggregation=aggregation, dimension="south")
        check(south, expected(zone, first, last, "day", aggregation, dimension="south"), zone, "day")
        split = queries.aggregate(metric, current, "total", aggregation=aggregation, by_dimension=True)
        assert set(split) == {"north", "south"}
        for dim, value in split.items():
            assert value == pytest.approx(expected(zone, first, last, "total", aggregation, dimension=dim))
        per_day = queries.aggregate(metric, current, "day", aggregation=aggregation, by_dimension=True)
        check(per_day["north"], expected(zone, first, last, "day", aggregation, dimension="north"), zone, "day")


def test_the_metrics_own_aggregation_is_the_default(stored):
    metric = stored(aggregation="max")
    current = timeframes.custom(date(2026, 3, 1), date(2026, 3, 3), "UTC")
    assert queries.aggregate(metric, current) == expected(UTC, date(2026, 3, 1), date(2026, 3, 3), "total", "max")
    assert queries.aggregate(metric.pk, current) == queries.aggregate(metric, current)


def test_each_call_is_one_query(stored, django_assert_num_queries):
    metric = stored()
    current = timeframes.custom(date(2026, 3, 1), date(2026, 3, 31), "America/New_York", week_start="sunday")
    for aggregation in AGGREGATIONS:
        for by in queries.BY:
            with django_assert_num_queries(1):
                queries.aggregate(metric, current, by, aggregation=aggregation)


# ---------------------------------------------------------------- DST days, explicitly


def test_count_per_day_sees_the_23_and_25_hour_days(db):
    metric = make_metric(aggregation="count")
    hours = []
    for start in (datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 10, 31, tzinfo=UTC)):
        hours += [start + timedelta(hours=h) for h in range(4 * 24)]
    datapoints(metric, [(t, 1) for t in hours])
    spring = queries.aggregate(metric, timeframes.custom(date(2026, 3, 7), date(2026, 3, 9), "America/New_York"), "day")
    assert [p.value for p in spring] == [24, 23, 24]
    fall = queries.aggregate(
        metric, timeframes.custom(date(2026, 10, 31), date(2026, 11, 2), "America/New_York"), "day"
    )
    assert [p.value for p in fall] == [24, 25, 24]
    assert fall[1].start == datetime(2026, 11, 1, tzinfo=ZoneInfo("America/New_York"))
    assert queries.aggregate(metric, timeframes.custom(date(2026, 3, 8), date(2026, 3, 8), "Asia/Kolkata")) == 24


def test_a_day_whose_midnight_dst_skips(db):
    # Chile springs forward at midnight: 6 September 2026 starts at 01:00 and has 23 hours.
    metric = make_metric(aggregation="count")
    start = datetime(2026, 9, 5, 4, tzinfo=UTC)  # 5 September 00:00 in Santiago
    hours = [start + timedelta(hours=h) for h in range(3 * 24 - 1)]
    datapoints(metric, [(t, 1) for t in hours])
    days = queries.aggregate(metric, timeframes.custom(date(2026, 9, 5), date(2026, 9, 7), "America/Santiago"), "day")
    assert [p.value for p in days] == [24, 23, 24]
    assert days[1].start.hour == 1 and days[1].start.date() == date(2026, 9, 6)


# ---------------------------------------------------------------- Latest value


def test_latest_is_the_value_with_the_latest_timestamp_not_the_last_stored(db):
    metric = make_metric(aggregation="latest")
    day = datetime(2026, 5, 4, tzinfo=UTC)
    add(metric, day + timedelta(hours=22), 7.0)  # the latest, stored first
    add(metric, day + timedelta(hours=3), 100.0)
    add(metric, day + timedelta(hours=1), -5.0)
    add(metric, day + timedelta(days=1, hours=1), 42.0)  # the next day
    current = timeframes.custom(date(2026, 5, 4), date(2026, 5, 4), "UTC")
    assert queries.aggregate(metric, current) == 7.0
    two_days = timeframes.custom(date(2026, 5, 4), date(2026, 5, 6), "UTC")
    assert [p.value for p in queries.aggregate(metric, two_days, "day")] == [7.0, 42.0, None]
    assert queries.aggregate(metric, two_days) == 42.0


def test_latest_per_bucket_follows_the_local_day(db):
    metric = make_metric(aggregation="latest")
    add(metric, datetime(2026, 5, 4, 18, 0, tzinfo=UTC), 1.0)  # 23:30 on the 4th in Kolkata
    add(metric, datetime(2026, 5, 4, 18, 45, tzinfo=UTC), 2.0)  # 00:15 on the 5th in Kolkata
    kolkata = timeframes.custom(date(2026, 5, 4), date(2026, 5, 5), "Asia/Kolkata")
    assert [p.value for p in queries.aggregate(metric, kolkata, "day")] == [1.0, 2.0]
    utc = timeframes.custom(date(2026, 5, 4), date(2026, 5, 5), "UTC")
    assert [p.value for p in queries.aggregate(metric, utc, "day")] == [2.0, None]


def test_latest_adds_up_a_snapshot_of_dimensions(db):
    metric = make_metric(aggregation="latest")
    earlier, later = datetime(2026, 5, 4, 9, tzinfo=UTC), datetime(2026, 5, 4, 10, tzinfo=UTC)
    add(metric, earlier, 50.0, "open")
    add(metric, earlier, 5.0, "waiting")
    add(metric, later, 30.0, "open")
    add(metric, later, 8.0, "waiting")
    add(metric, datetime(2026, 5, 4, 8, tzinfo=UTC), 99.0, "closed")  # gone from the latest snapshot
    current = timeframes.custom(date(2026, 5, 4), date(2026, 5, 4), "UTC")
    assert queries.aggregate(metric, current) == 38.0
    assert queries.aggregate(metric, current, by_dimension=True) == {"closed": 99.0, "open": 30.0, "waiting": 8.0}
    assert queries.aggregate(metric, current, dimension="open") == 30.0
    assert queries.totals([metric], current, previous=None) == {metric.pk: 38.0}
    assert queries.series([metric], current, "day") == {metric.pk: queries.aggregate(metric, current, "day")}


# ---------------------------------------------------------------- empty and wrong


def test_empty_buckets_and_ranges_are_none(db):
    metric = make_metric(aggregation="count")
    add(metric, datetime(2026, 5, 5, 12, tzinfo=UTC), 1.0)
    current = timeframes.custom(date(2026, 5, 4), date(2026, 5, 6), "UTC")
    assert [p.value for p in queries.aggregate(metric, current, "day")] == [None, 1, None]
    nothing = timeframes.custom(date(2026, 6, 1), date(2026, 6, 30), "UTC")
    for aggregation in AGGREGATIONS:
        assert queries.aggregate(metric, nothing, aggregation=aggregation) is None
        assert {p.value for p in queries.aggregate(metric, nothing, "week", aggregation=aggregation)} == {None}
    assert queries.aggregate(metric, nothing, by_dimension=True) == {}


def test_the_range_end_is_exclusive(db):
    metric = make_metric()
    add(metric, datetime(2026, 5, 4, 0, 0, tzinfo=UTC), 1.0)  # the first instant: in
    add(metric, datetime(2026, 5, 5, 0, 0, tzinfo=UTC), 10.0)  # the end: out
    assert queries.aggregate(metric, timeframes.custom(date(2026, 5, 4), date(2026, 5, 4), "UTC")) == 1.0


def test_other_metrics_do_not_leak_in(db):
    one, two = make_metric("One"), make_metric("Two")
    add(one, datetime(2026, 5, 4, 1, tzinfo=UTC), 1.0)
    add(two, datetime(2026, 5, 4, 1, tzinfo=UTC), 1000.0)
    assert queries.aggregate(one, timeframes.custom(date(2026, 5, 4), date(2026, 5, 4), "UTC")) == 1.0


def test_bad_arguments(db):
    metric = make_metric()
    current = timeframes.custom(date(2026, 5, 4), date(2026, 5, 4), "UTC")
    with pytest.raises(ValueError, match="grouping"):
        queries.aggregate(metric, current, "hour")
    with pytest.raises(ValueError, match="aggregation"):
        queries.aggregate(metric, current, aggregation="median")


def test_value_and_previous(db):
    metric = make_metric()
    add(metric, datetime(2026, 5, 4, 1, tzinfo=UTC), 3.0)
    add(metric, datetime(2026, 5, 3, 1, tzinfo=UTC), 2.0)
    current = timeframes.resolve("today", "UTC", datetime.combine(date(2026, 5, 4), time(12), tzinfo=UTC))
    assert queries.value_and_previous(metric, current) == (3.0, 2.0)


# ---------------------------------------------------------------- many metrics at once


@pytest.fixture
def six(stored):
    """One metric per aggregation on shifted copies of the same points, and one without data."""
    window = [p for p in POINTS if datetime(2026, 2, 26, tzinfo=UTC) <= p[0] < datetime(2026, 3, 20, tzinfo=UTC)]
    metrics = []
    for n, aggregation in enumerate(AGGREGATIONS):
        shifted = [(t + timedelta(minutes=7 * n), v + n, d) for t, v, d in window]
        metrics.append(stored(aggregation, name=f"M{n}", points=shifted))
    metrics.append(make_metric(name="Empty", aggregation="latest"))
    return metrics


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kolkata"])
def test_totals_for_many_metrics_equal_aggregate(six, zone, django_assert_max_num_queries):
    now = datetime(2026, 3, 15, 13, 10, tzinfo=UTC)
    for preset in ("last_7_days", "this_month", "last_week", "today"):
        current = timeframes.resolve(preset, zone, now)
        with django_assert_max_num_queries(2):
            both = queries.totals(six, current)
        for metric in six:
            assert both[metric.pk] == pytest.approx(queries.value_and_previous(metric, current)), (preset, metric)
        only = queries.totals(six, current, previous=None)
        assert only == {pk: pair[0] for pk, pair in both.items()}
    assert both[six[-1].pk] == (None, None)
    assert queries.totals([], current) == {}


@pytest.mark.parametrize("by", ["day", "week", "month"])
def test_series_for_many_metrics_equal_aggregate(six, by, django_assert_max_num_queries):
    current = timeframes.custom(date(2026, 3, 1), date(2026, 3, 18), "America/New_York", week_start="sunday")
    with django_assert_max_num_queries(2):
        charts = queries.series(six, current, by)
    for metric in six:
        expected_points = queries.aggregate(metric, current, by)
        assert [p.start for p in charts[metric.pk]] == [p.start for p in expected_points]
        assert [p.value for p in charts[metric.pk]] == pytest.approx([p.value for p in expected_points]), metric
    assert {p.value for p in charts[six[-1].pk]} == {None}
    with pytest.raises(ValueError, match="bucket"):
        queries.series(six, current, "total")
