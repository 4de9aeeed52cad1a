"""An analyst builds Win rate from two metrics and reads it on a databoard, in Chromium."""

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from builder import timeframes
from builder.models import Metric
from dashboards.models import Databoard
from syncs.models import Datapoint, SyncState

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _metric(name):
    return Metric.objects.create(name=name, endpoint="query", expression="x", aggregation="count")


def _spread(metric, current, count):
    step = (current.end - current.start) / (count + 1)
    Datapoint.objects.bulk_create(
        Datapoint(metric=metric, timestamp=current.start + step * (i + 1), value=1, synced_at=current.end)
        for i in range(count)
    )


def test_build_win_rate_and_read_it_on_a_databoard(page, login, analyst_user):
    won = _metric("Deals won")
    created = _metric("Deals created")
    last_30_days = timeframes.resolve("last_30_days", "UTC", datetime.now(UTC))
    _spread(won, last_30_days, 3)
    _spread(created, last_30_days, 12)  # 3 of 12: 25 %

    login(analyst_user)
    page.goto("/builder/metrics/")
    page.get_by_role("link", name="+ New calculated metric").click()
    expect(page.get_by_role("heading", name="New calculated metric")).to_be_visible()
    page.wait_for_load_state("networkidle")  # its script, which suggests the inputs' names
    page.get_by_label("Input 1", exact=True).select_option(label="Deals won")
    name_1 = page.get_by_label("Name of input 1 in the formula")
    expect(name_1).to_have_value("deals_won")  # suggested from the metric's name
    name_1.fill("won")
    page.get_by_label("Input 2", exact=True).select_option(label="Deals created")
    page.get_by_label("Name of input 2 in the formula").fill("created")
    page.get_by_role("textbox", name="Formula", exact=True).fill("won / lost × 100")
    page.get_by_role("textbox", name="Name", exact=True).fill("Win rate")
    page.get_by_label("Number format").select_option("percent")
    page.get_by_role("button", name="Create calculated metric").click()
    # A typo in the formula: a clear message, nothing saved.
    expect(page.get_by_text("Unknown input lost: the inputs are won, created.")).to_be_visible()
    assert not Metric.objects.filter(name="Win rate").exists()
    page.get_by_role("textbox", name="Formula", exact=True).fill("won / created × 100")
    page.get_by_role("button", name="Create calculated metric").click()

    expect(page.get_by_role("heading", name="Win rate", level=1)).to_be_visible()
    expect(page.get_by_test_id("formula")).to_contain_text("won / created × 100")
    expect(page.get_by_test_id("formula").get_by_role("link", name="Deals won")).to_be_visible()
    expect(page.get_by_test_id("calculated-sync")).to_be_visible()
    rate = Metric.objects.get(name="Win rate")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Databoards").click()
    page.get_by_label("Databoard name").fill("Sales")
    page.get_by_role("button", name="Create databoard").click()
    page.get_by_label("Metric").select_option(label="Win rate")
    page.get_by_label("Date range").select_option("last_30_days")
    page.get_by_role("button", name="Add tile").click()
    tile = page.locator("[data-tile]")
    expect(tile).to_have_count(1)
    expect(tile.locator(".tile-value")).to_have_text("25.0%")
    assert [t.metric for t in Databoard.objects.get(name="Sales").tiles.all()] == [rate]
    # On the board, its inputs sync; it never does itself.
    assert set(SyncState.objects.filter(in_use=True).values_list("metric_id", flat=True)) == {won.pk, created.pk}
