"""A currency per metric in Chromium (issue 13, item 8): the analyst picks Currency and EUR on the
Name step, and the metric's card on the Metrics screen shows the value with "€"; the Currency
select shows only while the number format is Currency (static/js/number-format.js), keeps its
choice when the format changes away and back, and stays visible without JavaScript."""

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from builder.models import Metric
from builder.wizard_drafts import draft_for_metric
from conftest import PASSWORD
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


def _metric_in_euros_shown_as_a_number(owner):
    """A saved metric whose currency is EUR while its number format is a plain number."""
    return MetricFactory(
        name="Won deal amount",
        current=True,
        connection=vtiger_connection(name="Vtiger"),
        owner=owner,
        number_format="number",
        currency="EUR",
    )


def test_the_currency_select_shows_only_for_the_currency_format_and_keeps_its_choice(page, login, analyst_user):
    metric = _metric_in_euros_shown_as_a_number(analyst_user)
    draft = draft_for_metric(metric, analyst_user)
    login(analyst_user)
    page.goto(reverse("builder:name", args=[draft.uuid]))
    number_format = page.get_by_label("Number format")
    currency = page.locator("select[name=currency]")
    expect(number_format).to_have_value("number")
    expect(currency).to_be_hidden()
    expect(page.get_by_text("Shown with the value when the number format is Currency.")).to_be_hidden()

    number_format.select_option("currency")
    expect(currency).to_be_visible()
    expect(page.get_by_label("Currency", exact=True)).to_have_value("EUR")  # the saved one
    currency.select_option("JPY")

    number_format.select_option("percent")
    expect(currency).to_be_hidden()
    number_format.select_option("currency")
    expect(currency).to_be_visible()
    expect(currency).to_have_value("JPY")  # what was chosen before the format changed away

    # Saved with another format, the hidden select still posts the currency: it is kept.
    number_format.select_option("number")
    expect(currency).to_be_hidden()
    page.get_by_role("button", name="Save metric").click()
    page.wait_for_url(f"**{reverse('builder:metric', args=[metric.uuid])}")
    saved = Metric.objects.get(pk=metric.pk)
    assert (saved.number_format, saved.currency) == ("number", "JPY")


def test_a_currency_metric_opens_with_its_currency_shown(page, login, analyst_user):
    metric = MetricFactory(
        name="Won deal amount",
        current=True,
        connection=vtiger_connection(name="Vtiger"),
        owner=analyst_user,
        number_format="currency",
        currency="GBP",
    )
    login(analyst_user)
    page.goto(reverse("builder:name", args=[draft_for_metric(metric, analyst_user).uuid]))
    expect(page.get_by_label("Currency", exact=True)).to_be_visible()
    expect(page.get_by_label("Currency", exact=True)).to_have_value("GBP")


def test_without_javascript_the_currency_select_stays_visible(browser, live_server, analyst_user):
    metric = _metric_in_euros_shown_as_a_number(analyst_user)
    draft = draft_for_metric(metric, analyst_user)
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill(analyst_user.get_username())
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/")
        page.goto(reverse("builder:name", args=[draft.uuid]))
        expect(page.get_by_label("Number format")).to_have_value("number")
        expect(page.get_by_label("Currency", exact=True)).to_be_visible()
        expect(page.get_by_label("Currency", exact=True)).to_have_value("EUR")
    finally:
        context.close()
