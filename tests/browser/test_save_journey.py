"""Saving in Chromium: a confirmation, the metric on the Metrics screen and syncing; Browser Back after
Save leads to the metric (no 404, no second metric); unticked, the metric page says how to start."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from builder.models import Draft, Metric
from builder.wizard_drafts import _definition_of
from syncs.models import SyncState, Use
from tests.connections.factories import vtiger_connection
from tests.factories import MetricFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _draft_at_the_name_step(user):
    """A new metric's draft with steps 1-3 done (one current value: no history to backfill)."""
    template = MetricFactory(name="Template", current=True, connection=vtiger_connection(name="Vtiger"), owner=user)
    definition = _definition_of(template)
    template.delete()
    definition["name"] = ""
    return Draft.objects.create(owner=user, definition=definition)


def _save_as(page, name):
    page.get_by_label("Name your metric").fill(name)
    page.get_by_label("Data Aggregation").select_option("latest")
    page.get_by_role("button", name="Save metric").click()


def test_save_confirms_and_the_metric_is_on_the_metrics_screen_syncing(page, login, analyst_user):
    draft = _draft_at_the_name_step(analyst_user)
    login(analyst_user)
    page.goto(reverse("builder:name", args=[draft.uuid]))
    expect(page.get_by_label("Add to the Metrics screen and start syncing")).to_be_checked()
    _save_as(page, "Open leads")

    page.wait_for_url("**/builder/metrics/*/")
    metric = Metric.objects.get(name="Open leads")
    assert page.url.endswith(reverse("builder:metric", args=[metric.uuid]))
    expect(page.get_by_role("status").filter(has_text="Saved “Open leads”")).to_contain_text(
        "It is on the Metrics screen and its first sync is on its way."
    )
    panel = page.locator("#sync-panel")
    expect(panel.get_by_role("button", name="Remove from Metrics screen")).to_be_visible()
    expect(panel.get_by_role("link", name="Metrics screen")).to_be_visible()
    assert SyncState.objects.get(metric=metric).in_use

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Metrics", exact=True).click()
    expect(page.locator(f'[data-metric="{metric.uuid}"]')).to_contain_text("Open leads")


def test_back_after_save_leads_to_the_metric_and_makes_no_second_metric(page, login, analyst_user):
    draft = _draft_at_the_name_step(analyst_user)
    login(analyst_user)
    page.goto(reverse("builder:expression", args=[draft.uuid]))
    page.goto(reverse("builder:name", args=[draft.uuid]))
    _save_as(page, "Open leads")
    page.wait_for_url("**/builder/metrics/*/")
    metric = Metric.objects.get(name="Open leads")
    metric_url = reverse("builder:metric", args=[metric.uuid])

    # Browser Back: the name step is asked for again and sends the analyst on to the metric.
    page.go_back()
    page.wait_for_url(f"**{metric_url}")
    expect(page.get_by_text("This draft was already saved as “Open leads”: here it is.")).to_be_visible()
    expect(page.get_by_text("Page not found")).to_have_count(0)
    expect(page.get_by_text("This field is required.")).to_have_count(0)
    # Back once more (the expression step) does the same; nothing is saved twice.
    page.go_back()
    page.wait_for_url(f"**{metric_url}")
    expect(page.get_by_role("heading", name="Open leads")).to_be_visible()
    assert Metric.objects.count() == 1


def test_unticked_the_metric_page_says_how_to_start_syncing(page, login, analyst_user):
    draft = _draft_at_the_name_step(analyst_user)
    login(analyst_user)
    page.goto(reverse("builder:name", args=[draft.uuid]))
    page.get_by_label("Add to the Metrics screen and start syncing").uncheck()
    _save_as(page, "Quiet leads")

    page.wait_for_url("**/builder/metrics/*/")
    metric = Metric.objects.get(name="Quiet leads")
    notice = page.get_by_test_id("not-syncing")
    expect(notice).to_contain_text(
        "Not syncing: add it to the Metrics screen, a databoard, a goal, an alert or a scorecard."
    )
    for link in ("Add to a databoard", "Set a goal", "Add an alert", "Add to a scorecard"):
        expect(notice.get_by_role("link", name=link)).to_be_visible()
    assert not Use.objects.filter(metric=metric).exists()

    notice.get_by_role("button", name="Add to Metrics screen").click()
    expect(page.get_by_role("button", name="Remove from Metrics screen")).to_be_visible()
    expect(page.get_by_test_id("not-syncing")).to_have_count(0)
    assert Use.objects.filter(metric=metric, kind="screen").exists()
