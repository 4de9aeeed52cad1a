"""Breakdowns by dimension, checked against values computed here from the datapoints created.

The oracle below reads the datapoints with nothing but ``astimezone`` and dates: a local date in
the range, a value per dimension, the top ten, and "Other" reduced over its own points (never
over the per-dimension results). Two zones where points near midnight UTC fall on different
days (New York and Tokyo), every aggregation, a metric with 25 dimensions. Runs on SQLite
without DATABASE_URL and on PostgreSQL with it.
"""

import csv
import io
import json
import re
from datetime import UTC, date, datetime, timedelta
from io import StringIO
from statistics import fmean
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from builder import timeframes
from builder.models import Aggregation
from dashboards import breakdowns, queries
from dashboards.templatetags.metric_format import metric_value
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


# ---------------------------------------------------------------- the metric page

RANGE = {"range": "custom", "start": FIRST.isoformat(), "end": LAST.isoformat()}


def reading_page(client, metric, **extra):
    response = client.get(reverse("dashboards:reading", args=[metric.uuid]), {**RANGE, **extra})
    assert response.status_code == 200
    return response.content.decode()


def table_rows(page):
    """The breakdown table's rows as text: [dimension, value, share, change]."""
    table = page.split('class="data breakdown-table"')[1].split("</table>")[0]
    body = table.split("<tbody>")[1]
    rows = []
    for row in body.split("</tr>")[:-1]:
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        rows.append([" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in cells])
    return rows


def test_the_metric_page_shows_the_breakdown(analyst_client, stored):
    metric = stored("sum")
    page = reading_page(analyst_client, metric)
    wanted, total = oracle(POINTS, ZoneInfo("UTC"), "sum")
    rows = table_rows(page)
    assert len(rows) == 11 and rows[-1][0] == "Other (16 dimensions)"
    assert [row[0] for row in rows[:10]] == [key or "(none)" for key, *_ in wanted[:10]]
    for row, (_, value, share, previous) in zip(rows, wanted, strict=True):
        assert row[1] == metric_value(value)
        assert row[2] == f"{share:.1f}%"
        assert f"{(value - previous) / abs(previous) * 100:+.1f}%" in row[3]
    # A dimension is a link that keeps the range.
    link = re.search(r'href="([^"]*dimension=source\+01[^"]*)"', page).group(1)
    assert "range=custom" in link and "start=2026-03-11" in link
    chart = json.loads(
        page.split(f'id="breakdown-chart-{metric.uuid.hex}" type="application/json">')[1].split("</script>")[0]
    )
    assert chart["stacked"] and len(chart["datasets"]) == 11 and len(chart["labels"]) == 10
    assert 'data-kind="stacked-bar"' in page


def test_one_dimension_by_url(analyst_client, stored):
    metric = stored("sum")
    page = reading_page(analyst_client, metric, dimension="source 03")
    value, _ = breakdowns.dimension_value(metric, current_range("UTC"), "source 03")
    assert f'tile-value">{metric_value(value)}' in page
    assert "Values: source 03" in page and "Show all dimensions" in page
    assert "breakdown-table" not in page
    assert '<input type="hidden" name="dimension" value="source 03">' in page  # kept when the range changes
    chart = json.loads(page.split(f'id="chart-{metric.uuid.hex}" type="application/json">')[1].split("</script>")[0])
    wanted = [reduce(rows_of(POINTS, UTC, day, day, {"source 03"}), "sum") or 0 for day in
              (FIRST + timedelta(days=n) for n in range(10))]  # fmt: skip
    assert chart["values"] == pytest.approx(wanted)


def test_an_unknown_dimension_is_said_and_all_are_shown(analyst_client, stored):
    metric = stored("sum")
    page = reading_page(analyst_client, metric, dimension="Nowhere")
    assert "“Nowhere” is not a dimension of Leads sum: showing all its dimensions." in page
    assert "breakdown-table" in page


def test_htmx_gets_the_fragment_with_its_breakdown(analyst_client, stored):
    metric = stored("sum")
    response = analyst_client.get(
        reverse("dashboards:reading", args=[metric.uuid]), RANGE, headers={"HX-Request": "true"}
    )
    page = response.content.decode()
    assert "<html" not in page and len(table_rows(page)) == 11


def test_one_dimension_shows_no_breakdown(analyst_client, stored):
    metric = stored("sum", points=[(datetime(2026, 3, 12, 12, tzinfo=UTC), 3.0, "only")])
    page = reading_page(analyst_client, metric)
    assert "breakdown-table" not in page and "Breakdown" not in page


def test_no_shares_for_an_average(analyst_client, stored):
    page = reading_page(analyst_client, stored("average"))
    assert '<th scope="col">Share</th>' not in page and "No shares for average" in page
    assert all(len(row) == 3 for row in table_rows(page))


def test_the_page_needs_a_role(client, outsider_user, stored):
    metric = stored("sum")
    client.force_login(outsider_user)
    for name in ("dashboards:reading", "dashboards:csv", "dashboards:json"):
        response = client.get(
            reverse(name, args=[metric.uuid]), {**RANGE, "dimension": "source 01", "by_dimension": "1"}
        )
        assert response.status_code == 403, name


def test_the_page_reads_the_same_number_of_queries_for_3_or_25_dimensions(analyst_client, stored):
    few = stored("sum", points=[p for p in POINTS if p[2] in ("source 01", "source 02", "source 03")])
    many = stored("count")
    counts = []
    for metric in (few, many):
        with CaptureQueriesContext(connection) as queries_run:
            reading_page(analyst_client, metric)
        counts.append(len(queries_run))
    assert counts[0] == counts[1]
    with CaptureQueriesContext(connection) as picked:
        reading_page(analyst_client, many, dimension="source 04")
    assert len(picked) <= counts[1]


# ---------------------------------------------------------------- exports and the command


def test_breakdown_csv_and_json(analyst_client, stored):
    metric = stored("sum", number_format="currency", currency="EUR")
    url = reverse("dashboards:csv", args=[metric.uuid])
    response = analyst_client.get(url, {**RANGE, "by_dimension": "1"})
    assert "by dimension" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == [
        "dimension", "label", "value_EUR", "previous_value_EUR", "change_EUR", "change_percent", "share_percent"
    ]  # fmt: skip
    wanted, _ = oracle(POINTS, ZoneInfo("UTC"), "sum", top=100)
    assert [row[0] for row in rows[1:]] == [key for key, *_ in wanted]  # every dimension, no Other
    for row, (key, value, _, previous) in zip(rows[1:], wanted, strict=True):
        assert row[1] == (key or "(none)")
        assert (float(row[2]) if row[2] else None) == approx(value)  # "retired": no value now
        assert float(row[3]) == pytest.approx(previous)

    data = analyst_client.get(reverse("dashboards:json", args=[metric.uuid]), {**RANGE, "by_dimension": "1"}).json()
    assert data["currency"] == "EUR" and data["value"] == pytest.approx(sum(v for _, v, *_ in wanted if v))
    first = data["dimensions"][0]
    assert first["dimension"] == wanted[0][0] and first["value"] == pytest.approx(wanted[0][1])
    assert first["change"] == pytest.approx(wanted[0][1] - wanted[0][3])


def test_csv_and_json_of_one_dimension(analyst_client, stored):
    metric = stored("sum")
    response = analyst_client.get(reverse("dashboards:csv", args=[metric.uuid]), {**RANGE, "dimension": "source 05"})
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["timestamp_utc", "value", "dimension"]  # not a currency: a plain value column
    assert {row[2] for row in rows[1:]} == {"source 05"}
    assert len(rows) - 1 == len(rows_of(POINTS, UTC, FIRST, LAST, {"source 05"}))
    data = analyst_client.get(
        reverse("dashboards:json", args=[metric.uuid]), {**RANGE, "dimension": "source 05"}
    ).json()
    assert data["dimension"] == "source 05" and data["currency"] is None
    assert sum(p["value"] for p in data["datapoints"]) == pytest.approx(
        reduce(rows_of(POINTS, UTC, FIRST, LAST, {"source 05"}), "sum")
    )
    bad = analyst_client.get(reverse("dashboards:csv", args=[metric.uuid]), {**RANGE, "dimension": "Nowhere"})
    assert bad.status_code == 400 and "“Nowhere” is not a dimension of Leads sum" in bad.content.decode()


def run(*args):
    out = StringIO()
    call_command("metric_values", *args, stdout=out)
    return out.getvalue()


DATES = ("--from", FIRST.isoformat(), "--to", LAST.isoformat())


@pytest.mark.parametrize("zone_name", ZONES)
def test_the_command_by_dimension(stored, zone_name):
    metric = stored("average")
    wanted, total = oracle(POINTS, ZoneInfo(zone_name), "average", top=100)
    payload = json.loads(run(metric.name, *DATES, "--tz", zone_name, "--by-dimension", "--json"))
    assert payload["value"] == pytest.approx(total) and payload["currency"] is None
    assert [d["dimension"] for d in payload["dimensions"]] == [key for key, *_ in wanted]
    for record, (_, value, _, previous) in zip(payload["dimensions"], wanted, strict=True):
        assert record["value"] == approx(value) and record["previous_value"] == approx(previous)
    lines = run(metric.name, *DATES, "--tz", zone_name, "--by-dimension").splitlines()
    assert lines[0].startswith(f"Leads average (Average) by dimension from {FIRST} to {LAST} in {zone_name}")
    assert lines[1].split()[:2] == (wanted[0][0] or "(none)").split() and len(lines) == 2 + len(wanted)
    assert lines[-1].startswith("26 dimensions; the metric:")


def test_the_command_for_one_dimension(stored):
    metric = stored("sum")
    payload = json.loads(run(metric.name, *DATES, "--tz", "Asia/Tokyo", "--dimension", "source 09", "--json"))
    tokyo = ZoneInfo("Asia/Tokyo")
    assert payload["dimension"] == "source 09" and payload["label"] == "source 09"
    assert payload["value"] == pytest.approx(reduce(rows_of(POINTS, tokyo, FIRST, LAST, {"source 09"}), "sum"))
    text = run(metric.name, *DATES, "--tz", "Asia/Tokyo", "--dimension", "source 09", "--by", "day")
    assert text.startswith("Leads sum (Sum), source 09 alone, from 2026-03-11 to 2026-03-20 in Asia/Tokyo, by day:")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dimension", "Nowhere"], "Leads sum has no dimension 'Nowhere'"),
        (["--by-dimension", "--dimension", "source 01"], "not both"),
        (["--by-dimension", "--by", "day"], "leave --by out"),
    ],
)
def test_the_command_refuses_in_words(stored, args, message):
    stored("sum")
    with pytest.raises(CommandError, match=message):
        run("Leads sum", *DATES, *args)


# ---------------------------------------------------------------- after a real sync from the sandbox

SOURCES_QUERY = (
    "SELECT createdtime, leadsource FROM Leads WHERE createdtime >= '{{start}}' AND createdtime <= '{{end}}' "
    "ORDER BY id;"
)


@pytest.mark.parametrize("zone_name", ZONES)
def test_leads_by_source_after_a_sync_match_the_sandbox_records(sandbox, vtiger, zone_name):
    metric = MetricFactory(
        name="Leads by source",
        connection=vtiger,
        owner=None,
        aggregation="count",
        params=[["query", SOURCES_QUERY]],
        expression='result.{"value": 1, "date": createdtime, "dimension": leadsource}',
    )
    today = sandbox.dataset.today
    first, last = today - timedelta(days=40), today - timedelta(days=11)
    call_command("sync_metric", metric.name, "--from", (first - timedelta(days=30)).isoformat(),
                 "--to", last.isoformat(), stdout=StringIO())  # fmt: skip
    zone = ZoneInfo(zone_name)
    current = timeframes.custom(first + timedelta(days=15), last, zone_name)
    before = timeframes.previous(current)

    def counts(period):
        found = {}
        for row in sandbox.dataset.records("Leads"):
            created = datetime.strptime(row["createdtime"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
            if period.first_day <= created.astimezone(zone).date() <= period.last_day:
                key = row["leadsource"] or ""
                found[key] = found.get(key, 0) + 1
        return found

    now, then = counts(current), counts(before)
    assert len(now) > 3, "the sandbox has leads from several sources"
    result = breakdowns.breakdown(metric, current, top=None)
    assert {line.key: line.value for line in result.lines if line.value} == now
    assert {line.key: line.previous for line in result.lines if line.previous} == then
    assert result.value == sum(now.values())
    assert sum(line.share for line in result.lines if line.share) == pytest.approx(100)


@pytest.mark.parametrize("aggregation", ["sum", "average", "latest"])
def test_sunday_weeks_by_dimension_in_new_york(stored, aggregation):
    zone = ZoneInfo("America/New_York")
    metric = stored(aggregation)
    current = timeframes.custom(FIRST, LAST, zone, week_start="sunday")
    result = breakdowns.series_by_dimension(metric, current, "week")
    sundays = sorted({day - timedelta(days=(day.weekday() - 6) % 7) for day in
                      (FIRST + timedelta(days=n) for n in range(10))})  # fmt: skip
    assert [start.date() for start in result.starts] == sundays
    top = {line.key for line in result.lines if not line.is_other}
    for line in result.lines:
        keys = set(KEYS) - top if line.is_other else {line.key}
        for point, sunday in zip(line.points, sundays, strict=True):
            week = (max(sunday, FIRST), min(sunday + timedelta(days=6), LAST))
            assert point.value == approx(reduce(rows_of(POINTS, zone, *week, keys), aggregation)), (line.key, sunday)
