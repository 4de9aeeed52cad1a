"""A donut of leads by source on a databoard, added through the Add a tile form and read in Chromium."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from builder.models import Metric
from dashboards.models import Databoard, Tile
from syncs.models import Datapoint

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# How many leads each source brought in during the last 30 days.
SOURCES = {"Web Site": 6, "Cold Call": 4, "Partner": 3, "Trade Show": 1}

# The labels and values Chart.js holds for a tile's chart.
CHART_DATA = """(tile) => {
  const chart = Chart.getChart(document.querySelector(`[data-tile="${tile}"] canvas`));
  return chart ? { type: chart.config.type, labels: chart.data.labels, values: chart.data.datasets[0].data } : null;
}"""


def test_a_donut_of_leads_by_source(page, login, analyst_user):
    leads = Metric.objects.create(name="New leads", endpoint="query", expression="x", aggregation="count")
    revenue = Metric.objects.create(name="Revenue", endpoint="query", expression="x", aggregation="sum")
    now = datetime.now(UTC)
    rows = [
        Datapoint(metric=leads, timestamp=now - timedelta(days=2, hours=n), value=1, dimension=source, synced_at=now)
        for source, count in SOURCES.items()
        for n in range(count)
    ]
    Datapoint.objects.bulk_create(rows)
    expected = Counter(row.dimension for row in rows).most_common()
    board = Databoard.objects.create(name="Sales", owner=analyst_user)

    login(analyst_user)
    page.goto(f"/dashboards/boards/{board.uuid}/")
    expect(page.get_by_text("This databoard is empty")).to_be_visible()
    dimension = page.get_by_label("Dimension")
    expect(dimension.locator("option")).to_have_count(1)  # no metric chosen yet: the whole metric

    # Choosing the metric fills the Dimension select with its sources (htmx).
    page.get_by_label("Metric").select_option(label="New leads")
    expect(dimension.locator("option")).to_have_count(1 + len(SOURCES))
    expect(dimension.locator("option").nth(1)).to_have_text("Cold Call")
    page.get_by_label("Show as").select_option(label="Donut by dimension")
    page.get_by_label("Date range").select_option("last_30_days")
    page.get_by_role("button", name="Add tile").click()

    tile = page.locator("[data-tile]")
    expect(tile).to_have_count(1)
    expect(tile).to_contain_text("New leads")
    expect(tile).to_contain_text("by dimension")
    expect(tile.locator("canvas")).to_be_visible()
    added = Tile.objects.get()
    assert (added.metric, added.kind, added.dimension) == (leads, "dim_donut", "")
    page.wait_for_function(
        "(tile) => Chart.getChart(document.querySelector(`[data-tile='${tile}'] canvas`))", arg=added.pk
    )
    drawn = page.evaluate(CHART_DATA, added.pk)
    assert drawn["type"] == "doughnut"
    assert list(zip(drawn["labels"], drawn["values"], strict=True)) == expected

    # A metric without dimensions cannot be a donut: the form says why and adds nothing.
    page.get_by_label("Metric").select_option(label="Revenue")
    expect(dimension.locator("option")).to_have_count(1)
    page.get_by_label("Show as").select_option(label="Donut by dimension")
    page.get_by_role("button", name="Add tile").click()
    expect(page.get_by_text("Revenue has no dimensions in its data")).to_be_visible()
    assert Tile.objects.count() == 1 and not Tile.objects.filter(metric=revenue).exists()
