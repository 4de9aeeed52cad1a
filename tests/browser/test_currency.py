"""A currency per metric in Chromium (issue 13, item 8): the analyst picks Currency and EUR on the
Name step, and the metric's card on the Metrics screen shows the value with "€"."""

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from builder.models import Metric
from builder.wizard_drafts import draft_for_metric
from syncs.uses import add_use
from tests.connections.factories import vtiger_connection
from tests.factories import MetricFactory, datapoints

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_currency_chosen_on_the_name_step_shows_on_the_metrics_screen(page, login, analyst_user):
    # One current value (no history to backfill), on the Metrics screen, shown as a plain number.
    metric = MetricFactory(
        name="Won deal amount", current=True, connection=vtiger_connection(name="Vtiger"), owner=analyst_user
    )
    datapoints(metric, [(timezone.now(), 1234.5)])
    add_use(metric, "screen")
    draft = draft_for_metric(metric, analyst_user)

    login(analyst_user)
    page.goto(reverse("builder:name", args=[draft.uuid]))
    page.get_by_label("Number format").select_option("currency")
    page.get_by_label("Currency", exact=True).select_option("EUR")
    page.get_by_role("button", name="Save metric").click()
    page.wait_for_url(f"**{reverse('builder:metric', args=[metric.uuid])}")
    assert Metric.objects.get(pk=metric.pk).currency == "EUR"

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Metrics", exact=True).click()
    page.get_by_label("Date range").select_option("today")
    tile = page.locator(f'[data-metric="{metric.uuid}"]')
    expect(tile.locator(".tile-value")).to_have_text("€1,234.50")
