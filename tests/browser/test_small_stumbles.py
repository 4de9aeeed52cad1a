"""Stumble 8's small items in Chromium (issue 13), each as the analyst met it:

- the Syncs panel named a board "Databoard 3" (the kind and the board's primary key): it names
  the board and links to it;
- the saved metrics (with Import and Export) were linked from nowhere in the navigation;
- a UTC viewer's CSV repeated its timestamp column (``timestamp_utc,timestamp_UTC``).
"""

import csv
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from dashboards.models import Databoard, Tile
from tests.factories import MetricFactory, datapoints

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_syncs_panel_names_the_databoard_a_metric_is_on(page, login, analyst_user):
    metric = MetricFactory(name="Won deal amount", current=True, owner=analyst_user)
    # Boards before it, so the board's primary key is neither 1 nor the tile's.
    for name in ("Ops", "Support"):
        Databoard.objects.create(name=name, owner=analyst_user)
    board = Databoard.objects.create(name="Sales overview", owner=analyst_user)
    board.add_tile(metric, Tile.Kind.NUMBER, "last_30_days")

    login(analyst_user)
    page.goto(reverse("builder:metric", args=[metric.uuid]))
    in_use = page.locator("#sync-panel tr", has_text="In use")
    expect(in_use).to_contain_text("Sales overview")
    expect(in_use).not_to_contain_text(f"Databoard {board.pk}")

    in_use.get_by_role("link", name="Sales overview").click()
    page.wait_for_url(f"**{reverse('dashboards:databoard', args=[board.uuid])}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sales overview")


def test_the_navigation_leads_to_the_saved_metrics_with_import_and_export(page, login, analyst_user):
    metric = MetricFactory(name="Won deal amount", current=True, owner=analyst_user)
    login(analyst_user)
    nav = page.get_by_role("navigation", name="Main")

    nav.get_by_role("link", name="Saved metrics").click()
    page.wait_for_url(f"**{reverse('builder:metric_list')}")
    expect(nav.get_by_role("link", name="Saved metrics")).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("heading", level=1)).to_have_text("Saved metrics")
    expect(page.get_by_role("link", name=metric.name)).to_be_visible()
    expect(page.get_by_role("link", name="Import", exact=True)).to_have_attribute("href", reverse("builder:import"))
    expect(page.get_by_role("link", name="Export all")).to_have_attribute("href", reverse("builder:export"))

    page.get_by_role("link", name="Import", exact=True).click()
    page.wait_for_url(f"**{reverse('builder:import')}")


@pytest.mark.parametrize("zone", ["UTC", "Etc/UTC"])
def test_a_utc_viewers_csv_download_has_one_timestamp_column(page, login, analyst_user, tmp_path, zone):
    analyst_user.profile.time_zone = zone
    analyst_user.profile.save()
    metric = MetricFactory(name="Won deal amount", current=True, owner=analyst_user)
    when = (timezone.now() - timedelta(days=1)).replace(microsecond=0)
    datapoints(metric, [(when, 2.5)])

    login(analyst_user)
    page.goto(reverse("builder:metric", args=[metric.uuid]))
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    saved = tmp_path / "download.csv"
    download_info.value.save_as(saved)

    with saved.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows == [["timestamp_utc", "value", "dimension"], [when.isoformat(), "2.5", ""]]
