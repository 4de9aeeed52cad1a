"""Sync now in Chromium, with a real worker: "Last synced", the run records and the values card
follow the sync on the metric page without a reload, and the page hears ``metric-synced`` when it is done."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from builder import timeframes
from dashboards.templatetags.metric_format import metric_value
from syncs.models import Datapoint, SyncRun
from tests.syncs.conftest import leads_metric, workers  # noqa: F401 - workers is the fixture this test uses

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

HEARD = """
window.heardMetricSynced = 0;
document.body.addEventListener("metric-synced", function () { window.heardMetricSynced += 1; });
"""


def starts_with(shown):
    """The card's value, then its comparison ("29 no comparable data")."""
    return re.compile(rf"^\s*{re.escape(shown)}(\s|$)")


def test_sync_now_updates_last_synced_runs_and_card_without_a_reload(page, login, analyst_user, workers, vtiger):  # noqa: F811 - the imported fixture
    workers.start()
    metric = leads_metric(vtiger, owner=analyst_user)
    login(analyst_user)
    page.goto(reverse("builder:metric", args=[metric.uuid]))
    panel = page.locator("#sync-panel")
    last_synced = panel.locator("tr", has_text="Last synced")
    runs = panel.locator("table.sync-runs tbody tr")
    card = page.locator("#metric-reading")
    value = card.locator(".tile-value")
    expect(last_synced).to_contain_text("Never")
    expect(value).to_have_text(starts_with("—"))
    # A range of the analyst's own: the values reload for it, not for the default (the last 30 days).
    card.get_by_label("Date range").select_option("last_7_days")
    expect(card).to_contain_text("over last 7 days")
    expect(value).to_have_text(starts_with("—"))
    expect(runs).to_have_text(["No syncs yet."])
    page.evaluate(HEARD)
    loads = []
    page.on("load", lambda loaded: loads.append(loaded.url))

    panel.get_by_role("button", name="Sync now").click()

    expect(panel.locator("#sync-progress")).to_contain_text("Sync now: succeeded", timeout=30_000)
    run = SyncRun.objects.get(metric=metric)
    expect(last_synced).not_to_contain_text("Never")
    expect(last_synced).to_contain_text(timezone.localtime(run.metric.sync_state.last_synced_at).strftime("%Y-%m-%d"))
    expect(runs).to_have_count(1)
    expect(runs.first).to_contain_text("Sync now")
    expect(runs.first).to_contain_text("Succeeded")
    expect(runs.first).to_contain_text(str(run.datapoints_written))
    # The card's value, from the datapoints the sync stored: those in the card's range, one per lead.
    shown = timeframes.resolve("last_7_days", timeframes.user_zone(analyst_user))
    stored = Datapoint.objects.filter(metric=metric).values_list("timestamp", "value")
    in_range = [v for when, v in stored if shown.start <= when < shown.end]
    assert in_range, "the sandbox has leads in the range, so the card has a value to show"
    expect(card.get_by_label("Date range")).to_have_value("last_7_days")
    expect(card).to_contain_text("over last 7 days")
    expect(value).to_have_text(starts_with(metric_value(sum(in_range), metric.number_format, metric.currency)))
    assert page.evaluate("window.heardMetricSynced") == 1
    assert loads == [], "the page was never reloaded"
