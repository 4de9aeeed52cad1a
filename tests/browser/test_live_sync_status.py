"""Sync now in Chromium, with a real worker: "Last synced" and the run records follow the sync
on the metric page without a reload, and the page hears ``metric-synced`` when it is done."""

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from syncs.models import SyncRun
from tests.syncs.conftest import leads_metric, workers  # noqa: F401 - workers is the fixture this test uses

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

HEARD = """
window.heardMetricSynced = 0;
document.body.addEventListener("metric-synced", function () { window.heardMetricSynced += 1; });
"""


def test_sync_now_updates_last_synced_and_the_run_records_without_a_reload(page, login, analyst_user, workers, vtiger):  # noqa: F811 - the fixture imported above
    workers.start()
    metric = leads_metric(vtiger, owner=analyst_user)
    login(analyst_user)
    page.goto(reverse("builder:metric", args=[metric.uuid]))
    panel = page.locator("#sync-panel")
    last_synced = panel.locator("tr", has_text="Last synced")
    runs = panel.locator("table.sync-runs tbody tr")
    expect(last_synced).to_contain_text("Never")
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
    assert page.evaluate("window.heardMetricSynced") == 1
    assert loads == [], "the page was never reloaded"
