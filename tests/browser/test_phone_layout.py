"""The wizard, the Metrics screen and a databoard on a 390 x 844 phone, in Chromium, and how
their sparse charts are drawn.

A phone user must never scroll sideways to reach a control, and the query box and the
JSONata editor must be wide enough to read a query (at least 300 px of a 390 px screen).
A sparse chart is drawn as zeros (Sum, Count) or as gaps with every lone value still visible
(Average, Min, Max, Latest value), never as broken fragments.
"""

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from builder.models import Aggregation, Metric
from dashboards.models import Databoard, Tile
from syncs.models import Datapoint
from tests.browser.journeys import write_won_deals_query
from tests.connections.factories import vtiger_connection
from tests.factories import MetricFactory, datapoints

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
USABLE = 300  # px: about 35 characters of a query in the box's font


# The elements reaching past the screen's right edge whose parent does not: where to look.
OVERFLOWING = """() => [...document.querySelectorAll("body *")]
  .filter(e => e.getBoundingClientRect().right > innerWidth + 0.5
    && e.parentElement.getBoundingClientRect().right <= innerWidth + 0.5)
  .map(e => e.tagName.toLowerCase() + (e.className && typeof e.className === "string" ? "." + e.className : "")
    + " " + Math.round(e.getBoundingClientRect().right) + "px")"""


def _no_sideways_scroll(page, where):
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], (
        f"{where}: the page is {width} px wide on a {PHONE['width']} px phone: {page.evaluate(OVERFLOWING)}"
    )


def _width(locator) -> float:
    return locator.bounding_box()["width"]


def test_the_wizard_fits_a_phone(page, login, analyst_user, sandbox):
    connection = vtiger_connection(sandbox.url, name="Vtiger")
    page.set_viewport_size(PHONE)
    login(analyst_user)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Builder").click()
    expect(page.get_by_role("heading", name="Metric Builder")).to_be_visible()
    _no_sideways_scroll(page, "Builder")
    page.get_by_label("Connection").select_option(str(connection.uuid))
    page.get_by_role("button", name="Start building").click()

    expect(page.get_by_role("heading", name="Prepare API Request")).to_be_visible()
    _no_sideways_scroll(page, "Prepare API Request")
    query = write_won_deals_query(page)
    _no_sideways_scroll(page, "Prepare API Request with the VTQL helper's fields")
    assert _width(query) >= USABLE, f"the query box is {_width(query)} px wide"
    page.get_by_role("button", name="Send request").click()
    expect(page.locator('[data-meta="status"]')).to_have_text("200")
    _no_sideways_scroll(page, "Prepare API Request with the response")
    assert _width(page.get_by_label("Parameter 1 value")) >= USABLE
    page.get_by_role("button", name="Next: Date field").click()

    expect(page.get_by_role("heading", name="Date field")).to_be_visible()
    page.get_by_label("Use a field from response").check()
    page.locator('input[name="field"][value="closingdate"]').check()
    _no_sideways_scroll(page, "Date field")
    page.get_by_role("button", name="Next: JSONata").click()

    expect(page.get_by_role("heading", name="JSONata")).to_be_visible()
    editor = page.locator(".CodeMirror")
    expect(editor).to_contain_text("closingdate")
    _no_sideways_scroll(page, "JSONata")
    assert _width(editor) >= USABLE, f"the editor is {_width(editor)} px wide"
    page.get_by_role("button", name="Next: Name your metric").click()

    expect(page.get_by_label("Name your metric")).to_be_visible()
    _no_sideways_scroll(page, "Name your metric")
    page.get_by_label("Name your metric").fill("Deals won (amount)")
    page.get_by_role("button", name="Save metric").click()
    page.wait_for_url("**/metrics/*/")
    _no_sideways_scroll(page, "the saved metric")


def _metric_with_sparse_days(name):
    metric = Metric.objects.create(
        name=name, endpoint="query", expression="x", aggregation="sum", number_format="currency"
    )
    now = datetime.now(UTC)
    Datapoint.objects.bulk_create(
        Datapoint(metric=metric, timestamp=now - timedelta(days=days), value=1234567.5, synced_at=now)
        for days in (2, 9, 10)
    )
    return metric


def test_the_metrics_screen_and_a_databoard_fit_a_phone(page, login, analyst_user):
    deals = _metric_with_sparse_days("Deals won with a long name that must wrap on a phone")
    board = Databoard.objects.create(name="Sales board", owner=analyst_user)
    for kind in Tile.Kind.values:
        board.add_tile(deals, kind, "last_30_days")
    page.set_viewport_size(PHONE)
    login(analyst_user)

    page.goto(f"/builder/metrics/{deals.uuid}/")
    _no_sideways_scroll(page, "the metric page")
    page.get_by_role("button", name="Add to Metrics screen").click()
    expect(page.get_by_role("button", name="Remove from Metrics screen")).to_be_visible()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Metrics", exact=True).click()
    expect(page.locator(f'[data-metric="{deals.uuid}"] canvas')).to_be_visible()
    _no_sideways_scroll(page, "the Metrics screen")

    page.goto(f"/dashboards/boards/{board.uuid}/")
    expect(page.get_by_role("heading", name="Sales board")).to_be_visible()
    _no_sideways_scroll(page, "the databoard")

    page.goto(f"/dashboards/metrics/{deals.uuid}/reading/")
    _no_sideways_scroll(page, "the metric's values")


# The values Chart.js draws for a tile's chart, and the radius of each point.
DRAWN = """(uuid) => {
  const chart = Chart.getChart(document.querySelector(`[data-metric="${uuid}"] canvas`));
  return {values: chart.data.datasets[0].data, radii: chart.getDatasetMeta(0).data.map(p => p.options.radius)};
}"""


def test_a_sparse_chart_draws_zeros_or_gaps_with_lone_values_visible(page, login, analyst_user):
    now = datetime.now(UTC)
    sparse = [(now - timedelta(days=days), 8.0) for days in (3, 10, 11)]  # 3 days ago alone, 10 and 11 together
    won = MetricFactory(current=True, name="Won amount", aggregation=Aggregation.SUM, used_on="screen")
    average = MetricFactory(current=True, name="Average deal", aggregation=Aggregation.AVERAGE, used_on="screen")
    datapoints(won, sparse)
    datapoints(average, sparse)
    login(analyst_user)
    page.goto("/?range=last_30_days")

    won_chart = page.evaluate(DRAWN, str(won.uuid))
    assert len(won_chart["values"]) == 30
    assert None not in won_chart["values"] and won_chart["values"].count(0) == 27

    average_chart = page.evaluate(DRAWN, str(average.uuid))
    values, radii = average_chart["values"], average_chart["radii"]
    assert len(values) == 30 and values.count(None) == 27
    lone = values.index(8.0, 20)  # 3 days ago, with a gap on either side
    assert values[lone - 1] is None and values[lone + 1] is None
    assert radii[lone] > 0, "a value alone between two gaps must show as a point"
    assert all(radius == 0 for index, radius in enumerate(radii) if index != lone), "a sparkline shows no other points"
