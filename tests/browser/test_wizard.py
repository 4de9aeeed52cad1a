"""A newcomer analyst builds "Deals won (amount)" in Chromium, without typing JSONata or VTQL."""

import os
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from builder.models import Metric
from tests.browser.journeys import write_won_deals_query
from tests.connections.factories import vtiger_connection

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _shot(page, name):
    """Screenshots for a human look: WIZARD_SCREENSHOTS=dir pytest tests/browser/test_wizard.py."""
    folder = os.environ.get("WIZARD_SCREENSHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, f"{name}.png"), full_page=True)


def _expected_total(sandbox, tz="UTC"):
    """Won deal amounts with a closing date in the preview range (the last 30 days, today included)."""
    today = datetime.now(UTC).date()
    start, end = (today - timedelta(days=29)).isoformat(), today.isoformat()
    rows = [
        row
        for row in sandbox.dataset.records("Potentials")
        if row["sales_stage"] == "Closed Won" and start <= row["closingdate"] <= end
    ]
    return len(rows), sum(float(row["amount"]) for row in rows)


def test_newcomer_builds_deals_won_amount(page, login, analyst_user, sandbox):
    connection = vtiger_connection(sandbox.url, name="Vtiger")
    count, total = _expected_total(sandbox)
    assert count > 0, "the sandbox has deals won in the last 30 days"

    login(analyst_user)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Builder").click()
    expect(page.get_by_role("heading", name="Metric Builder")).to_be_visible()
    page.get_by_label("Connection").select_option(str(connection.uuid))
    page.get_by_role("button", name="Start building").click()

    # Step 1: the VTQL helper writes the query.
    expect(page.get_by_role("heading", name="Prepare API Request")).to_be_visible()
    expect(page.get_by_role("link", name="API Docs")).to_be_visible()
    write_won_deals_query(page)
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_test_id("json-tree")).to_be_visible()
    expect(page.locator('[data-meta="status"]')).to_have_text("200")
    # From the first Send request on, the response sits beside the steps.
    expect(page.locator(".wizard.split")).to_be_visible()
    _shot(page, "1-request")
    page.get_by_role("button", name="Next: Date field").click()

    # Step 2: the date comes from closingdate.
    expect(page.get_by_role("heading", name="Date field")).to_be_visible()
    page.get_by_label("Use a field from response").check()
    page.locator('input[name="field"][value="closingdate"]').check()
    expect(page.get_by_label("Format")).to_have_value("YYYY-MM-DD")
    _shot(page, "2-date")
    page.get_by_role("button", name="Next: JSONata").click()

    # Step 3: the generated expression is kept; the preview adds up the won deals.
    expect(page.get_by_role("heading", name="JSONata")).to_be_visible()
    editor = page.locator(".CodeMirror")
    expect(editor).to_be_visible()
    expect(editor).to_contain_text('result.{"date": closingdate, "value": $number(amount)}')
    expect(page.get_by_test_id("datapoint-count")).to_have_text(str(count))
    shown = page.get_by_test_id("datapoint-total").inner_text()
    assert float(shown.replace(",", "")) == pytest.approx(total, abs=0.01)
    _shot(page, "3-expression")
    page.get_by_role("button", name="Next: Name your metric").click()

    # Step 4 and Save.
    page.get_by_label("Name your metric").fill("Deals won (amount)")
    page.get_by_label("Data Aggregation").select_option("sum")
    page.get_by_label("Number format").select_option("currency")
    page.get_by_label("Trending UP is positive").check()
    _shot(page, "4-name")
    page.get_by_role("button", name="Save metric").click()
    page.wait_for_url("**/metrics/*/")
    metric = Metric.objects.get(name="Deals won (amount)")
    assert page.url.endswith(reverse("builder:metric", args=[metric.uuid]))
    assert metric.expression == 'result.{"date": closingdate, "value": $number(amount)}'
    assert metric.date_mode == "field" and metric.date_field == "closingdate" and metric.number_format == "currency"


def test_live_evaluation_marks_the_error_in_the_editor(page, login, analyst_user, sandbox):
    from builder.wizard_drafts import new_draft

    connection = vtiger_connection(sandbox.url, name="Vtiger")
    draft = new_draft(analyst_user, connection)
    draft.definition["request"]["params"] = [["query", "SELECT amount FROM Potentials;"]]
    draft.save()
    login(analyst_user)
    page.goto(reverse("builder:request", args=[draft.uuid]))
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_test_id("json-tree")).to_be_visible()
    page.goto(reverse("builder:expression", args=[draft.uuid]))
    expect(page.get_by_test_id("datapoint-count")).to_have_text("1")
    page.locator(".CodeMirror").click()
    page.keyboard.press("End")
    page.keyboard.type(" +")
    expect(page.get_by_test_id("expression-error")).to_contain_text("S0")
    expect(page.locator(".cm-jsonata-error")).to_have_count(1)
