"""A newcomer reads a metric: Metrics screen, Last month, goal, alert and a databoard, in Chromium."""

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from builder import timeframes
from builder.models import Metric
from dashboards.models import Alert, Databoard, Goal
from syncs.models import Datapoint, SyncState

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _in_use(metric) -> bool:
    return SyncState.objects.filter(metric=metric, in_use=True).exists()


def _metric(name, trend="up"):
    return Metric.objects.create(
        name=name, endpoint="query", expression="x", aggregation="sum", number_format="number", favourable_trend=trend
    )


def _spread(metric, current, value, count=3):
    """`count` datapoints of `value` inside the range `current`."""
    step = (current.end - current.start) / (count + 1)
    Datapoint.objects.bulk_create(
        Datapoint(metric=metric, timestamp=current.start + step * (i + 1), value=value, synced_at=current.end)
        for i in range(count)
    )


def test_newcomer_reads_a_metric_sets_a_goal_and_an_alert_and_builds_a_board(page, login, analyst_user):
    deals = _metric("Deals won")
    leads = _metric("New leads")
    now = datetime.now(UTC)
    last_month = timeframes.resolve("last_month", "UTC", now)
    _spread(deals, last_month, 40.0)  # 120 last month
    _spread(deals, timeframes.previous(last_month), 25.0)  # 75 the month before: up, and up is good
    _spread(leads, timeframes.resolve("last_30_days", "UTC", now), 5.0)

    login(analyst_user)
    # The metric page: Add to Metrics screen starts its syncs.
    page.goto(f"/builder/metrics/{deals.uuid}/")
    page.get_by_role("button", name="Add to Metrics screen").click()
    expect(page.get_by_role("button", name="Remove from Metrics screen")).to_be_visible()
    assert _in_use(deals)

    # The Metrics screen at Last month: value and a green comparison.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Metrics", exact=True).click()
    page.get_by_label("Date range").select_option("last_month")
    tile = page.locator(f'[data-metric="{deals.uuid}"]')
    expect(tile.locator(".tile-value")).to_have_text("120")
    expect(tile.locator(".change")).to_have_class(re.compile("change-green"))
    assert "+60.0%" in tile.locator(".change").inner_text()
    expect(page).to_have_url(re.compile(r"range=last_month"))  # htmx pushes the URL after the swap

    # A goal and an alert from the metric page.
    tile.get_by_role("link", name="Deals won").click()
    page.get_by_role("link", name="Goals").click()
    page.get_by_label("Target").fill("500")
    page.get_by_label("Period").select_option("month")
    page.get_by_role("button", name="Set goal").click()
    expect(page.get_by_text("Goal set.")).to_be_visible()
    assert Goal.objects.get(metric=deals).target == 500

    page.goto(f"/builder/metrics/{deals.uuid}/")
    page.get_by_role("link", name="Alerts").click()
    page.get_by_label("When the value").select_option("above")
    page.get_by_label("Threshold").fill("1000")
    page.get_by_role("button", name="Add alert").click()
    expect(page.locator("#alerts-panel")).to_contain_text("1,000")
    assert Alert.objects.get(metric=deals).threshold == 1000
    # Second thoughts: edit it.
    page.locator("#alerts-panel").get_by_role("link", name="Edit").click()
    page.get_by_label("Threshold").fill("1500")
    page.get_by_role("button", name="Save alert").click()
    expect(page.get_by_text("Alert changed: Deals won goes above 1,500 (Today).")).to_be_visible()
    expect(page.locator("#alerts-panel")).to_contain_text("1,500")
    assert Alert.objects.get(metric=deals).threshold == 1500

    # A databoard with two tiles.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Databoards").click()
    page.get_by_label("Databoard name").fill("Sales")
    page.get_by_role("button", name="Create databoard").click()
    expect(page.get_by_text("This databoard is empty")).to_be_visible()
    for metric, kind in ((deals, "bar"), (leads, "line")):
        page.get_by_label("Metric").select_option(label=metric.name)
        page.get_by_label("Show as").select_option(kind)
        page.get_by_label("Date range").select_option("last_30_days")
        page.get_by_role("button", name="Add tile").click()
    tiles = page.locator("[data-tile]")
    expect(tiles).to_have_count(2)
    expect(tiles.nth(1)).to_contain_text("New leads")
    expect(tiles.nth(1).locator("canvas")).to_be_visible()
    board = Databoard.objects.get(name="Sales")
    assert [t.metric for t in board.tiles.all()] == [deals, leads]
    assert _in_use(leads)
