"""Breakdowns by dimension, checked against values computed here from the datapoints created.

The oracle below reads the datapoints with nothing but ``astimezone`` and dates: a local date in
the range, a value per dimension, the top ten, and "Other" reduced over its own points (never
over the per-dimension results). Two zones where points near midnight UTC fall on different
days (New York and Tokyo), every aggregation, a metric with 25 dimensions. Runs on SQLite
without DATABASE_URL and on PostgreSQL with it.
"""

from datetime import UTC, date, datetime, timedelta
from statistics import fmean
from zoneinfo import ZoneInfo

import pytest

from builder import timeframes
from builder.models import Aggregation
from dashboards import breakdowns, queries
from tests.factories import MetricFactory, datapoints

AGGREGATIONS = Aggregation.values
ZONES = ["America/New_York", "Asia/Tokyo"]
FIRST, LAST = date(2026, 3, 11), date(2026, 3, 20)  # a custom 10 days; the previous: 1 to 10 March
PREVIOUS_FIRST, PREVIOUS_LAST = date(2026, 3, 1), date(2026, 3, 10)
KEYS = ["", *(f"source {n:02d}" for n in range(1, 25))]  # 25 dimensions, the blank one included
# Hours of the day (UTC): 23:30 and 00:30 UTC are different days in New York and in Tokyo; 15:30
# UTC is already the next day in Tokyo; 04:30 UTC is still the day before in New York.
HOURS = [(23, 30), (0, 30), (15, 30), (4, 30), (12, 0)]
NEWEST = datetime(2026, 3, 20, 12, 30, tzinfo=UTC)  # 20 March in both zones, and in UTC


def generate():
    """Uneven values per dimension and day; some instants shared by several dimensions (Latest
    value meets ties), a dimension that exists only in the previous period."""
    points = []
    for index, key in enumerate(KEYS):
        day = date(2026, 2, 28)
        step = 0
        while day <= date(2026, 3, 20):
            hour, minute = HOURS[(step + index) % len(HOURS)]
            instant = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
            if (step + index) % 3 != 1 and instant < NEWEST:  # gaps: not every dimension every day
                value = ((index * 37 + step * 11) % 53) - 7 + 0.25 * (step % 4) + (30 - index)
                points.append((instant, value, key))
            step += 1
            day += timedelta(days=1)
    # The newest instant of the ranges, shared by three dimensions (one in the top, two not).
    points += [(NEWEST, 500.0, "source 01"), (NEWEST, 7.0, "source 20"), (NEWEST, 2.0, "source 22")]
    points.append((datetime(2026, 3, 5, 12, tzinfo=UTC), 40.0, "retired"))  # previous period only
    return points


POINTS = generate()


@pytest.fixture
def stored(db):
    def store(aggregation="sum", points=POINTS, **extra):
        metric = MetricFactory(name=f"Leads {aggregation}", aggregation=aggregation, current=True, **extra)
        datapoints(metric, reversed(points), synced_at=datetime(2026, 3, 25, tzinfo=UTC))
        return metric

    return store


# ---------------------------------------------------------------- the independent oracle


def reduce(rows, aggregation):
    values = [v for _, v in rows]
    if not rows:
        return None
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


def rows_of(points, zone, first, last, keys=None):
    return [
        (instant, value)
        for instant, value, key in points
        if first <= instant.astimezone(zone).date() <= last and (keys is None or key in keys)
    ]


def per_dimension(points, zone, first, last):
    found = {}
    for instant, value, key in points:
        if first <= instant.astimezone(zone).date() <= last:
            found.setdefault(key, []).append((instant, value))
    return found


def oracle(points, zone, aggregation, top=10):
    """[(key, value, share, previous)] for the top lines, then ("Other", ...) for the rest."""
    now = per_dimension(points, zone, FIRST, LAST)
    then = per_dimension(points, zone, PREVIOUS_FIRST, PREVIOUS_LAST)
    values = {key: reduce(rows, aggregation) for key, rows in now.items()}
    ranked = sorted(values, key=lambda key: (-values[key], key)) + sorted(set(then) - set(now))
    shown, rest = ranked[:top], ranked[top:]
    everything = rows_of(points, zone, FIRST, LAST)
    total = reduce(everything, aggregation)
    newest = max(t for t, _ in everything)

    def share(rows):
        if not rows or aggregation not in ("sum", "count", "latest"):
            return None
        if aggregation == "latest" and max(t for t, _ in rows) != newest:
            return None
        return reduce(rows, aggregation) / total * 100

    lines = [(key, reduce(now.get(key, []), aggregation), share(now.get(key, [])),
              reduce(then.get(key, []), aggregation)) for key in shown]  # fmt: skip
    if rest:
        other_now = rows_of(points, zone, FIRST, LAST, set(rest))
        other_then = rows_of(points, zone, PREVIOUS_FIRST, PREVIOUS_LAST, set(rest))
        lines.append((None, reduce(other_now, aggregation), share(other_now), reduce(other_then, aggregation)))
    return lines, total


def approx(value):
    return None if value is None else pytest.approx(value)


def current_range(zone_name):
    return timeframes.custom(FIRST, LAST, zone_name)


# ---------------------------------------------------------------- the table


@pytest.mark.parametrize("zone_name", ZONES)
@pytest.mark.parametrize("aggregation", AGGREGATIONS)
def test_breakdown_matches_the_datapoints(stored, zone_name, aggregation):
    metric = stored(aggregation)
    result = breakdowns.breakdown(metric, current_range(zone_name))
    wanted, total = oracle(POINTS, ZoneInfo(zone_name), aggregation)

    assert [line.key for line in result.lines] == [key for key, *_ in wanted]
    assert len(result.lines) == 11 and result.other.dimensions == 16  # "retired" (before only) too
    assert result.dimensions == 25 and result.several
    for line, (key, value, share, previous) in zip(result.lines, wanted, strict=True):
        assert line.value == approx(value), key
        assert line.share == approx(share), key
        assert line.previous == approx(previous), key
        if value is not None and previous is not None:
            assert line.change == pytest.approx(value - previous), key
    # The whole metric is the same number the screens read.
    assert result.value == approx(total) and result.value == approx(queries.aggregate(metric, result.range))
    assert result.previous_value == approx(queries.aggregate(metric, timeframes.previous(result.range)))
    if aggregation in ("sum", "count"):
        assert sum(line.share for line in result.lines) == pytest.approx(100)


def test_the_zones_disagree_about_days_near_midnight(stored):
    """Without this the two zones could pass with the same numbers, proving nothing about zones."""
    metric = stored("sum")
    new_york, tokyo = (breakdowns.breakdown(metric, current_range(zone)) for zone in ZONES)
    assert new_york.value != pytest.approx(tokyo.value)
    assert {line.key: line.value for line in new_york.lines} != {line.key: line.value for line in tokyo.lines}


def test_other_of_an_average_is_the_average_of_its_points(stored):
    metric = stored("average")
    result = breakdowns.breakdown(metric, current_range("UTC"))
    rest = {key for key in KEYS if key not in {line.key for line in result.lines}}
    points = [(t, v) for t, v, key in POINTS if key in rest and FIRST <= t.date() <= LAST]
    assert result.other.value == pytest.approx(fmean(v for _, v in points))
    averages = [fmean(v for t, v, key in POINTS if key == k and FIRST <= t.date() <= LAST) for k in rest]
    assert result.other.value != pytest.approx(fmean(averages))  # the wrong answer, which differs here


def test_other_of_a_latest_value_is_its_latest_point(stored):
    metric = stored("latest")
    result = breakdowns.breakdown(metric, current_range("UTC"))
    # 20 March 12:30 UTC is the newest instant: source 20 and source 22 are in Other (7 + 2),
    # source 01 is a line of its own (500); the metric's latest value is the three together.
    assert result.other.value == pytest.approx(9.0)
    assert result.value == pytest.approx(509.0)
    top = {line.key: line for line in result.lines}
    assert top["source 01"].value == 500.0 and top["source 01"].share == pytest.approx(500 / 509 * 100)
    assert result.other.share == pytest.approx(9 / 509 * 100)
    older = [line for line in result.lines if not line.is_other and line.key != "source 01"]
    assert all(line.share is None for line in older)  # not part of the latest snapshot


@pytest.mark.parametrize("aggregation", ["average", "min", "max"])
def test_no_share_where_a_share_means_nothing(stored, aggregation):
    result = breakdowns.breakdown(stored(aggregation), current_range("UTC"))
    assert not result.shares and all(line.share is None for line in result.lines)


def test_every_dimension_without_other_and_without_previous(stored):
    metric = stored("sum")
    result = breakdowns.breakdown(metric, current_range("UTC"), top=None, previous=False)
    assert result.other is None and len(result.lines) == 25  # "retired" has no data now
    assert all(line.comparison is None for line in result.lines) and result.previous_range is None
    everything = breakdowns.breakdown(metric, current_range("UTC"), top=None)
    assert len(everything.lines) == 26 and everything.lines[-1].key == "retired"
    assert everything.lines[-1].value is None and everything.lines[-1].previous == 40.0


def test_change_is_coloured_by_the_favourable_trend(stored):
    up, down = stored("sum"), stored("count", favourable_trend="down")
    for metric in (up, down):
        for line in breakdowns.breakdown(metric, current_range("UTC")).lines:
            compared = line.comparison
            if compared.direction in ("up", "down"):
                good = compared.direction == metric.favourable_trend
                assert compared.colour == ("green" if good else "red"), line.key


def test_a_history_that_does_not_reach_back_colours_nothing(stored):
    result = breakdowns.breakdown(stored("sum"), current_range("UTC"), comparable=False)
    assert {line.comparison.colour for line in result.lines} == {"grey"}
    assert all(line.change is None for line in result.lines)


def test_labels_the_blank_dimension_and_keeps_raw_keys(stored):
    result = breakdowns.breakdown(stored("sum"), current_range("UTC"), top=None)
    labels = {line.key: line.label for line in result.lines}
    assert labels[""] == "(none)" and labels["source 03"] == "source 03"
    assert breakdowns.label_of("19x5", {"19x5": "Ada Admin"}) == "Ada Admin"
    assert breakdowns.label_of("19x6", {"19x5": "Ada Admin"}) == "19x6"


def test_a_metric_with_one_dimension_is_not_several(stored):
    metric = stored("sum", points=[(datetime(2026, 3, 12, 12, tzinfo=UTC), 3.0, "")])
    result = breakdowns.breakdown(metric, current_range("UTC"))
    assert not result.several and [line.key for line in result.lines] == [""]
    assert result.lines[0].share == pytest.approx(100)


def test_calendar_dates_are_the_same_dates_in_every_zone(db):
    metric = MetricFactory(closing=True, current=False, name="Won amount")
    assert queries.is_calendar(metric)
    # Calendar dates are stored as midnight UTC of each date.
    points = [
        (datetime(2026, 3, d, tzinfo=UTC), float(d * (k + 1)), f"stage {k}") for d in range(1, 21) for k in range(3)
    ]
    datapoints(metric, points)
    results = [breakdowns.breakdown(metric, current_range(zone)) for zone in ZONES]
    for result in results:
        for line in result.lines:
            k = int(line.key.split()[1])
            assert line.value == pytest.approx(sum(d * (k + 1) for d in range(11, 21)))
            assert line.previous == pytest.approx(sum(d * (k + 1) for d in range(1, 11)))
    assert results[0].lines == results[1].lines


# ---------------------------------------------------------------- the stacked chart


@pytest.mark.parametrize("zone_name", ZONES)
@pytest.mark.parametrize("aggregation", AGGREGATIONS)
def test_series_by_dimension_matches_the_datapoints(stored, zone_name, aggregation):
    zone = ZoneInfo(zone_name)
    metric = stored(aggregation)
    result = breakdowns.series_by_dimension(metric, current_range(zone_name), "day")
    wanted, _ = oracle(POINTS, zone, aggregation)
    top = [key for key, *_ in wanted if key is not None]
    assert [line.key for line in result.lines] == [*top, None]  # ranked as the table
    rest = set(KEYS) - set(top)
    days = [FIRST + timedelta(days=n) for n in range(10)]
    assert [start.astimezone(zone).date() for start in result.starts] == days
    for line in result.lines:
        keys = rest if line.is_other else {line.key}
        assert [point.start for point in line.points] == result.starts
        for point, day in zip(line.points, days, strict=True):
            assert point.value == approx(reduce(rows_of(POINTS, zone, day, day, keys), aggregation)), (line.key, day)


def test_the_chart_data_stacks_sums_and_fills_empty_days(stored):
    metric = stored("sum")
    series = breakdowns.series_by_dimension(metric, current_range("UTC"), "day")
    data = series.chart_data(now=datetime(2026, 3, 25, tzinfo=UTC))
    assert data["stacked"] is True and len(data["labels"]) == 10 and data["labels"][0] == "2026-03-11"
    assert [d["label"] for d in data["datasets"]][-1] == "Other"
    assert all(v is not None for d in data["datasets"] for v in d["values"])  # an empty day is 0 for a sum
    averages = breakdowns.series_by_dimension(stored("average"), current_range("UTC"), "week").chart_data()
    assert averages["stacked"] is False  # averages stand side by side, they do not add up


# ---------------------------------------------------------------- one dimension alone


@pytest.mark.parametrize("zone_name", ZONES)
@pytest.mark.parametrize("aggregation", AGGREGATIONS)
def test_one_dimension_alone(stored, zone_name, aggregation):
    zone = ZoneInfo(zone_name)
    metric = stored(aggregation)
    current = current_range(zone_name)
    value, previous = breakdowns.dimension_value(metric, current, "source 07")
    assert value == approx(reduce(rows_of(POINTS, zone, FIRST, LAST, {"source 07"}), aggregation))
    assert previous == approx(reduce(rows_of(POINTS, zone, PREVIOUS_FIRST, PREVIOUS_LAST, {"source 07"}), aggregation))
    assert breakdowns.dimension_value(metric, current, "source 07", previous=False) == (value, None)
    assert breakdowns.dimension_value(metric, current, "nowhere") == (None, None)
    series = breakdowns.dimension_series(metric, current, "source 07", "day")
    for point in series:
        day = point.start.astimezone(zone).date()
        assert point.value == approx(reduce(rows_of(POINTS, zone, day, day, {"source 07"}), aggregation))


def test_dimensions_and_names(stored):
    metric = stored("sum")
    listed = breakdowns.dimensions(metric)
    assert [key for key, _ in listed] == sorted([*KEYS[1:], "retired"])  # the blank one is the whole metric
    assert breakdowns.named(metric, "source 02") == f"{metric.name} (source 02)"
    assert breakdowns.named(metric, "") == metric.name


# ---------------------------------------------------------------- one query per metric and range


@pytest.mark.parametrize("aggregation", AGGREGATIONS)
def test_each_read_is_one_query_whatever_the_number_of_dimensions(stored, aggregation, django_assert_num_queries):
    metric = stored(aggregation)
    current = timeframes.custom(FIRST, LAST, "America/New_York", week_start="sunday")
    with django_assert_num_queries(1):
        breakdowns.breakdown(metric, current)  # the previous period in the same query
    with django_assert_num_queries(1):
        breakdowns.breakdown(metric, current, top=None, previous=False)
    for by in timeframes.BUCKETS:
        with django_assert_num_queries(1):
            breakdowns.series_by_dimension(metric, current, by)
    with django_assert_num_queries(1):
        breakdowns.dimension_value(metric, current, "source 03")
    with django_assert_num_queries(1):
        breakdowns.dimensions(metric)


def test_an_empty_range_has_no_lines(stored):
    metric = stored("latest")
    empty = timeframes.custom(date(2025, 1, 1), date(2025, 1, 3), "UTC")
    result = breakdowns.breakdown(metric, empty)
    assert result.lines == [] and result.value is None and not result.several
    assert breakdowns.series_by_dimension(metric, empty, "day").lines == []
