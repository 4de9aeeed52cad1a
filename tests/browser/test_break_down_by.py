"""An analyst breaks new leads down by lead source on the JSONata step, in Chromium: the generated
expression takes the dimension, the preview shows the dimension column, and the metric is saved with it."""

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from builder.models import Metric
from tests.connections.factories import vtiger_connection

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BY_SOURCE = 'result.{"date": createdtime, "value": 1, "dimension": leadsource}'


def _leads_in_the_preview_range(sandbox):
    """Leads created in the last 30 days, today included (the preview's default range), by lead source."""
    start = (datetime.now(UTC).date() - timedelta(days=29)).isoformat()
    return Counter(row["leadsource"] for row in sandbox.dataset.records("Leads") if row["createdtime"] >= start)


def test_break_down_new_leads_by_lead_source(page, login, analyst_user, sandbox):
    connection = vtiger_connection(sandbox.url, name="Vtiger")
    by_source = _leads_in_the_preview_range(sandbox)
    assert len(by_source) > 2

    login(analyst_user)
    page.goto(reverse("builder:start"))
    page.get_by_label("Connection").select_option(str(connection.uuid))
    page.get_by_role("button", name="Start building").click()

    # Step 1: the VTQL helper writes new leads with their source.
    page.get_by_label("Module").select_option("Leads")
    page.get_by_role("button", name="Load fields").click()
    page.locator('input[name="vtql_fields"][value="leadsource"]').check()
    page.locator('input[name="vtql_fields"][value="createdtime"]').check()
    page.get_by_label("Date field (limited to the dynamic range)").select_option("createdtime")
    page.get_by_role("button", name="Write query").click()
    written = re.compile(r"^SELECT leadsource, createdtime FROM Leads")
    expect(page.get_by_label("Parameter 1 value")).to_have_value(written)
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_test_id("json-tree")).to_be_visible()
    page.get_by_role("button", name="Next: Date field").click()
    page.get_by_role("button", name="Next: JSONata").click()

    # Step 3: "Break down by: Lead Source" writes the dimension into the generated expression.
    expect(page.get_by_role("heading", name="JSONata")).to_be_visible()
    editor = page.locator(".CodeMirror")
    expect(editor).to_contain_text('result.{"date": createdtime, "value": 1}')
    breakdown = page.get_by_label("Break down by")
    expect(breakdown.locator("option[value=leadsource]")).to_have_text("Lead Source (leadsource)")
    expect(page.get_by_role("button", name="Apply")).to_have_count(0)  # with JavaScript, choosing applies
    breakdown.select_option(label="Lead Source (leadsource)")

    expect(editor).to_contain_text(BY_SOURCE)
    expect(page.get_by_label("Break down by")).to_have_value("leadsource")
    table = page.locator("table.datapoints")
    expect(table.locator("thead")).to_contain_text("Dimension")
    expect(page.get_by_test_id("datapoint-count")).to_have_text(str(sum(by_source.values())))
    top_source = max((source for source in by_source if source), key=lambda source: by_source[source])
    expect(table.locator("tbody td", has_text=top_source).first).to_be_visible()

    # A reload keeps the choice and the expression.
    page.reload()
    expect(page.get_by_label("Break down by")).to_have_value("leadsource")
    expect(page.locator(".CodeMirror")).to_contain_text(BY_SOURCE)

    page.get_by_role("button", name="Next: Name your metric").click()
    page.get_by_label("Name your metric").fill("New leads by source")
    page.get_by_label("Data Aggregation").select_option("sum")
    page.get_by_role("button", name="Save metric").click()
    page.wait_for_url("**/metrics/*/")
    metric = Metric.objects.get(name="New leads by source")
    assert metric.expression == BY_SOURCE
