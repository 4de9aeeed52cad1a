"""Breakdowns everywhere a metric goes (issue 14, breakdowns item 4): databoard tiles by dimension
(bar, table, donut) and of one dimension, goals and alerts on one dimension, scorecards' top
dimensions, the forms' checks, and the queries a databoard costs.

Every expected number is computed here from the datapoints the test stores, not read back
through the code under test.
"""

import html
import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from builder.models import Kind, Metric
from connections.models import ReferenceLabel
from dashboards import alerts, scorecards
from dashboards.models import Alert, Databoard, Goal, Scorecard, Tile
from dashboards.views.goals import progress_of
from tests.connections.factories import VtigerConnectionFactory
from tests.factories import MetricFactory, datapoints

NOW = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)  # a Monday: last week is 9-15 March
LAST_30_DAYS = (datetime(2026, 2, 15, tzinfo=UTC), datetime(2026, 3, 17, tzinfo=UTC))  # [start, end) at UTC

# Leads by source: how many each source brought in on each day of March (count metric).
SOURCES = {
    "Web Site": 9,
    "Cold Call": 7,
    "Partner": 6,
    "Trade Show": 5,
    "Existing Customer": 4,
    "Employee": 4,
    "Direct Mail": 3,
    "Conference": 3,
    "Self Generated": 2,
    "Public Relations": 2,
    "Word of mouth": 1,
    "Campaign": 1,
}


def lead_points():
    """(timestamp, value, source) rows: each source's leads spread over 1-15 March, and in the
    week of 2-8 March (the previous week) one lead less per source that has more than one."""
    rows = []
    for index, (source, count) in enumerate(SOURCES.items()):
        for n in range(count):
            rows.append((datetime(2026, 3, 9 + n % 7, 8 + index % 10, n, tzinfo=UTC), 1, source))
        for n in range(count - 1):
            rows.append((datetime(2026, 3, 2 + n % 7, 10, n, tzinfo=UTC), 1, source))
    return rows


def counted(rows, start, end):
    """{source: number of rows in [start, end)}: the expected breakdown of a Count metric."""
    return Counter(source for when, _, source in rows if start <= when < end)


def ranked(found: Counter):
    return sorted(found.items(), key=lambda item: (-item[1], item[0]))


@pytest.fixture
def leads(db, analyst_user):
    metric = MetricFactory(name="New leads", aggregation="count", owner=analyst_user, current=True)
    rows = lead_points()
    datapoints(metric, rows, synced_at=NOW - timedelta(days=200))
    metric.rows = rows
    return metric


@pytest.fixture
def revenue(db, analyst_user):
    """A metric without dimensions."""
    metric = MetricFactory(name="Revenue", owner=analyst_user, current=True)
    datapoints(metric, [(datetime(2026, 3, 10, 9, tzinfo=UTC), 2500)], synced_at=NOW)
    return metric


@pytest.fixture
def board(db, analyst_user):
    return Databoard.objects.create(name="Sales", owner=analyst_user)


def add_tile(client, board, metric, kind, date_range="last_30_days", dimension=""):
    data = {"metric": metric.pk, "kind": kind, "date_range": date_range, "dimension": dimension}
    return client.post(reverse("dashboards:tile_add", args=[board.uuid]), data)


def tile_html(page: str, tile: Tile) -> str:
    return page.split(f'data-tile="{tile.pk}"')[1].split("</article>")[0]


def chart_json(page: str, tile: Tile) -> dict:
    found = re.search(rf'<script id="{tile.chart_id}" type="application/json">(.*?)</script>', page, re.S)
    return json.loads(found.group(1))


def expected_lines(found: Counter, top=10):
    """The top ``top`` (label, value) lines and "Other" with the rest's total."""
    lines = ranked(found)
    shown = lines[:top]
    if len(lines) > top:
        shown.append(("Other", sum(value for _, value in lines[top:])))
    return shown


# ---------------------------------------------------------------- tiles by dimension


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize("kind", ["dim_bar", "dim_donut"])
def test_a_chart_by_dimension_draws_the_top_ten_and_other(analyst_client, board, leads, kind):
    assert add_tile(analyst_client, board, leads, kind).status_code == 302
    tile = Tile.objects.get()
    assert (tile.kind, tile.dimension) == (kind, "")

    page = analyst_client.get(reverse("dashboards:databoard", args=[board.uuid])).content.decode()
    expected = expected_lines(counted(leads.rows, *LAST_30_DAYS))
    data = chart_json(page, tile)
    assert list(zip(data["labels"], data["values"], strict=True)) == expected
    assert data["labels"][-1] == "Other" and len(data["labels"]) == 11
    assert f'data-kind="{kind}"' in tile_html(page, tile)


@time_machine.travel(NOW, tick=False)
def test_a_table_by_dimension_lists_value_share_and_change(analyst_client, board, leads):
    add_tile(analyst_client, board, leads, "dim_table", date_range="last_week")
    tile = Tile.objects.get()
    board_page = analyst_client.get(reverse("dashboards:databoard", args=[board.uuid])).content.decode()
    page = html.unescape(tile_html(board_page, tile))

    now = counted(leads.rows, datetime(2026, 3, 9, tzinfo=UTC), datetime(2026, 3, 16, tzinfo=UTC))
    before = counted(leads.rows, datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC))
    total = sum(now.values())
    rows = re.findall(r"<tr data-key=\"([^\"]+)\">(.*?)</tr>", page, re.S)
    assert [key for key, _ in rows] == [source for source, _ in ranked(now)][:10]
    for key, row in rows:
        cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        assert cells[0] == key
        assert cells[1] == str(now[key])
        assert cells[2] == f"{now[key] / total * 100:.1f}%"
        change = now[key] - before[key]
        assert cells[3] == f"+{change / before[key] * 100:.1f}% (+{change})"
    other = re.search(r'<tr class="breakdown-other" data-other="2">(.*?)</tr>', page, re.S).group(1)
    rest = sum(value for _, value in ranked(now)[10:])
    assert ">Other<" in other and f">{rest}<" in other


@time_machine.travel(NOW, tick=False)
def test_a_tile_of_one_dimension_shows_that_dimension_alone(analyst_client, board, leads):
    add_tile(analyst_client, board, leads, "number", date_range="last_week", dimension="Cold Call")
    add_tile(analyst_client, board, leads, "line", dimension="Partner")
    number, line = Tile.objects.order_by("position")
    assert number.dimension == "Cold Call"
    page = analyst_client.get(reverse("dashboards:databoard", args=[board.uuid])).content.decode()

    week = counted(leads.rows, datetime(2026, 3, 9, tzinfo=UTC), datetime(2026, 3, 16, tzinfo=UTC))
    before = counted(leads.rows, datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC))
    shown = tile_html(page, number)
    link = reverse("dashboards:reading", args=[leads.uuid]) + "?range=last_week&amp;dimension=Cold%20Call"
    assert f'data-dimension="Cold Call"><a href="{link}">Cold Call</a>' in shown  # the metric page's reading of it
    assert analyst_client.get(html.unescape(link)).status_code == 200
    assert f'<p class="tile-value">{week["Cold Call"]}</p>' in shown  # 7, not the metric's 47
    assert f"(+{week['Cold Call'] - before['Cold Call']})" in shown

    data = chart_json(page, line)
    per_day = Counter(when.date().isoformat() for when, _, source in leads.rows if source == "Partner")
    day = datetime(2026, 2, 15, tzinfo=UTC)
    expected = [per_day.get((day + timedelta(days=n)).date().isoformat(), 0) for n in range(30)]
    assert data["values"] == expected and sum(expected) == 11


# ---------------------------------------------------------------- goals and alerts on one dimension


@time_machine.travel(NOW, tick=False)
def test_a_goal_on_one_dimension_counts_that_dimension(analyst_client, analyst_user, leads):
    url = reverse("dashboards:goals", args=[leads.uuid])
    form = analyst_client.get(url).content.decode()
    assert '<option value="Web Site">Web Site</option>' in form  # the metric's dimensions to choose from
    response = analyst_client.post(url, {"target": "20", "period": "month", "dimension": "Web Site"})
    assert response.status_code == 302
    goal = Goal.objects.get()
    assert goal.dimension == "Web Site"

    march = counted(leads.rows, datetime(2026, 3, 1, tzinfo=UTC), NOW)
    _, result = progress_of(goal, "UTC")
    assert result.value == march["Web Site"] == 17
    page = html.unescape(analyst_client.get(url).content.decode())
    row = page.split(f'data-goal="{goal.pk}"')[1].split("</tr>")[0]
    assert "<td>Web Site</td>" in row and "85%" in row  # 17 of 20


@time_machine.travel(NOW, tick=False)
def test_an_alert_on_one_dimension_triggers_on_its_value_not_the_totals(analyst_client, analyst_user, leads):
    url = reverse("dashboards:alerts", args=[leads.uuid])
    month = counted(leads.rows, datetime(2026, 3, 1, tzinfo=UTC), NOW)
    assert sum(month.values()) > 50 and month["Trade Show"] < 10
    data = {"condition": "below", "threshold": "10", "date_range": "this_month"}
    analyst_client.post(url, {**data, "dimension": "Trade Show"})
    analyst_client.post(url, data)  # the whole metric: far above 8
    on_source, whole = Alert.objects.order_by("pk")
    assert on_source.dimension == "Trade Show" and on_source.triggered
    assert on_source.last_value == month["Trade Show"]
    assert not whole.triggered and whole.last_value == sum(month.values())

    news = f"New leads (Trade Show) went below 10: {month['Trade Show']} this month"
    assert on_source.events.get().message == news
    email = mail.outbox[0]
    assert email.subject == f"Alert: {news}"
    assert "Alert: New leads (Trade Show) goes below 10 (This month)." in email.body
    page = html.unescape(analyst_client.get(url).content.decode())
    assert "New leads (Trade Show) goes below 10 (This month)" in page

    # Above the threshold again for that dimension alone: the episode ends.
    datapoints(leads, [(NOW - timedelta(hours=1), 1, "Trade Show")] * 5)
    assert alerts.evaluate(on_source) is None
    on_source.refresh_from_db()
    assert not on_source.triggered and on_source.last_value == month["Trade Show"] + 5


@time_machine.travel(NOW, tick=False)
def test_a_change_alert_on_one_dimension_compares_that_dimension(analyst_user, leads):
    alert = Alert.objects.create(
        metric=leads,
        condition="change",
        threshold=10,
        date_range="last_week",
        created_by=analyst_user,
        dimension="Partner",
    )
    reading = alerts.read(alert)
    week = counted(leads.rows, datetime(2026, 3, 9, tzinfo=UTC), datetime(2026, 3, 16, tzinfo=UTC))
    before = counted(leads.rows, datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC))
    assert (reading.value, reading.comparison.previous) == (week["Partner"], before["Partner"]) == (6, 5)
    assert reading.holds  # +20%
    assert alerts.message(alert, reading).startswith("New leads (Partner) rose by 20.0% (more than 10%)")


# ---------------------------------------------------------------- scorecards


@time_machine.travel(NOW, tick=False)
def test_a_scorecard_lists_a_metrics_top_five_dimensions(analyst_user, leads, revenue):
    card = Scorecard.objects.create(name="Weekly", frequency="weekly", owner=analyst_user)
    card.metrics.set([leads, revenue])
    card.recipients.set([analyst_user])
    digest = scorecards.build(card)

    week = counted(leads.rows, datetime(2026, 3, 9, tzinfo=UTC), datetime(2026, 3, 16, tzinfo=UTC))
    before = counted(leads.rows, datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC))
    lead_row, revenue_row = digest.rows
    assert lead_row.value == sum(week.values())
    top = ranked(week)[:5]
    assert [(row.name, row.value) for row in lead_row.dimensions] == top
    assert [row.comparison.previous for row in lead_row.dimensions] == [before[source] for source, _ in top]
    assert revenue_row.dimensions == ()  # no dimensions: its line alone

    rendered = scorecards.render(card)
    first, count = top[0]
    change = (count - before[first]) / before[first] * 100
    assert f"    - {first}: {count}   +{change:.1f}% better" in rendered.text
    assert f"{ranked(week)[5][0]}:" not in rendered.text  # the sixth is not listed
    assert rendered.html.count("data-dimension-of=") == 5


@time_machine.travel(NOW, tick=False)
def test_a_calculated_metric_keeps_its_line_without_dimensions(analyst_user, leads):
    """Leads per partner lead: calculated from two metrics, it has no dimensions of its own."""
    partners = MetricFactory(name="Partner leads", aggregation="count", current=True)
    datapoints(partners, [(when, 1) for when, _, source in leads.rows if source == "Partner"])
    ratio = Metric.objects.create(name="Leads per partner lead", kind=Kind.CALCULATED, formula="leads / partners")
    ratio.set_inputs([("leads", leads), ("partners", partners)])
    card = Scorecard.objects.create(name="Weekly", frequency="weekly", owner=analyst_user)
    card.metrics.set([leads, ratio])
    ratio_row, lead_row = scorecards.build(card).rows  # by name

    week = counted(leads.rows, datetime(2026, 3, 9, tzinfo=UTC), datetime(2026, 3, 16, tzinfo=UTC))
    assert ratio_row.value == pytest.approx(sum(week.values()) / week["Partner"])
    assert ratio_row.dimensions == ()
    assert len(lead_row.dimensions) == 5


# ---------------------------------------------------------------- the forms


@time_machine.travel(NOW, tick=False)
def test_an_unknown_dimension_is_refused_with_the_metrics_name(analyst_client, board, leads):
    response = add_tile(analyst_client, board, leads, "number", dimension="Carrier Pigeon")
    page = html.unescape(response.content.decode())
    message = "“Carrier Pigeon” is not a dimension of New leads: none of its datapoints carries it."
    assert response.status_code == 200 and message in page
    goal = analyst_client.post(
        reverse("dashboards:goals", args=[leads.uuid]),
        {"target": "5", "period": "month", "dimension": "Carrier Pigeon"},
    )
    assert message in html.unescape(goal.content.decode())
    alert = analyst_client.post(
        reverse("dashboards:alerts", args=[leads.uuid]),
        {"condition": "above", "threshold": "5", "date_range": "today", "dimension": "Carrier Pigeon"},
    )
    assert message in html.unescape(alert.content.decode())
    assert not Tile.objects.exists() and not Goal.objects.exists() and not Alert.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_a_tile_by_dimension_needs_dimensions_and_shows_them_all(analyst_client, board, leads, revenue):
    page = html.unescape(add_tile(analyst_client, board, revenue, "dim_donut").content.decode())
    assert "Revenue has no dimensions in its data: show it as a Number, Line chart or Bar chart" in page
    page = html.unescape(add_tile(analyst_client, board, leads, "dim_table", dimension="Web Site").content.decode())
    assert "A tile by dimension shows every dimension: leave Dimension at “The whole metric”" in page
    assert not Tile.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_a_donut_needs_parts_of_a_whole(analyst_client, board, analyst_user):
    """An average by dimension is no slice of a whole: a bar chart or a table shows it, without shares."""
    speed = MetricFactory(name="Days to close", aggregation="average", owner=analyst_user, current=True)
    datapoints(speed, [(datetime(2026, 3, 10, tzinfo=UTC), 4, "Ada"), (datetime(2026, 3, 11, tzinfo=UTC), 8, "Ben")])
    page = html.unescape(add_tile(analyst_client, board, speed, "dim_donut").content.decode())
    assert "A donut shows the parts of a whole, and the average of Days to close is not the sum" in page
    assert not Tile.objects.exists()
    add_tile(analyst_client, board, speed, "dim_table")
    shown = tile_html(
        analyst_client.get(reverse("dashboards:databoard", args=[board.uuid])).content.decode(), Tile.objects.get()
    )
    assert ">Share<" not in shown
    assert re.search(r'data-key="Ben">\s*<th scope="row"><a href="[^"]+dimension=Ben">Ben</a></th>\s*<td>8</td>', shown)


@time_machine.travel(NOW, tick=False)
def test_choosing_a_metric_fills_the_dimension_select(analyst_client, board, leads, revenue):
    url = reverse("dashboards:databoard", args=[board.uuid])

    def fields_for(metric):
        response = analyst_client.get(url, {"tile_dimension": "1", "metric": metric.pk}, HTTP_HX_REQUEST="true")
        return response.content.decode().strip()

    fields = fields_for(leads)
    assert fields.startswith('<div id="tile-dimension">') and 'name="metric"' not in fields
    assert dimension_options(fields) == ["", *sorted(SOURCES, key=str.casefold)]
    assert dimension_options(fields_for(revenue)) == [""]


def dimension_options(page: str) -> list[str]:
    select = page.split('name="dimension"')[1].split("</select>")[0]
    return re.findall(r'<option value="([^"]*)"', select)


@time_machine.travel(NOW, tick=False)
def test_a_reference_dimension_reads_as_its_label_and_keeps_its_key(analyst_client, analyst_user, board):
    deals = MetricFactory(name="Deals won", owner=analyst_user, current=True)
    deals.connection = VtigerConnectionFactory()
    deals.save()
    datapoints(
        deals, [(datetime(2026, 3, 10, tzinfo=UTC), 500, "19x5"), (datetime(2026, 3, 11, tzinfo=UTC), 200, "19x6")]
    )
    ReferenceLabel.objects.create(connection=deals.connection, key="19x5", label="Ada Admin", fetched_at=NOW)
    goals_page = analyst_client.get(reverse("dashboards:goals", args=[deals.uuid])).content.decode()
    assert (
        '<option value="19x5">Ada Admin</option>' in goals_page and '<option value="19x6">19x6</option>' in goals_page
    )

    add_tile(analyst_client, board, deals, "dim_donut")
    add_tile(analyst_client, board, deals, "number", dimension="19x5")
    donut, number = Tile.objects.order_by("position")
    assert number.dimension == "19x5"  # the key is stored, the label shown
    page = analyst_client.get(reverse("dashboards:databoard", args=[board.uuid])).content.decode()
    data = chart_json(page, donut)
    assert list(zip(data["labels"], data["values"], strict=True)) == [("Ada Admin", 500), ("19x6", 200)]
    assert '&amp;dimension=19x5">Ada Admin</a>' in tile_html(page, number)

    alert = Alert.objects.create(
        metric=deals,
        condition="above",
        threshold=100,
        date_range="this_month",
        created_by=analyst_user,
        dimension="19x5",
    )
    assert alerts.evaluate(alert).message == "Deals won (Ada Admin) went above 100: 500 this month"


# ---------------------------------------------------------------- queries


def _board_with(board, metrics, kinds):
    for metric, kind, dimension in kinds:
        board.add_tile(metrics[metric], kind, "last_30_days", dimension)


@time_machine.travel(NOW, tick=False)
def test_a_boards_queries_are_pinned(analyst_client, board, leads, revenue, django_assert_num_queries):
    metrics = {"leads": leads, "revenue": revenue}
    url = reverse("dashboards:databoard", args=[board.uuid])
    _board_with(board, metrics, [("leads", "number", ""), ("revenue", "line", "")])
    analyst_client.get(url)  # the session and the user, warmed up like any later visit
    with django_assert_num_queries(BASE_QUERIES):
        analyst_client.get(url)
    # A tile by dimension is one query (current and previous period together), a tile of one
    # dimension two (its value and previous value, its series).
    _board_with(board, metrics, [("leads", "dim_bar", ""), ("leads", "dim_donut", ""), ("leads", "dim_table", "")])
    with django_assert_num_queries(BASE_QUERIES + 3):
        analyst_client.get(url)
    _board_with(board, metrics, [("leads", "number", "Web Site"), ("leads", "line", "Partner")])
    with django_assert_num_queries(BASE_QUERIES + 3 + 2 * 2):
        analyst_client.get(url)


# The page of a board of plain tiles: the session, the user, their profile and roles (2), the
# board, its tiles with their metrics, the totals, the series, whether any metric exists, the
# unread notifications and the Add a tile form's metrics.
BASE_QUERIES = 12
