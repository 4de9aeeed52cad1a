"""A newcomer reads a metric by dimension in Chromium: the Breakdown table (top 10 and Other), the
stacked chart, one dimension picked from the table (its value alone, kept when the range changes)
and the way back to every dimension.

The expected numbers are computed here from the datapoints the test stores.
"""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.factories import MetricFactory, UserFactory, datapoints

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SOURCES = ["Web Site", "Trade Show", "Cold Call", "Partner", "Referral", "Email", "Webinar", "Ads",
           "Direct Mail", "Conference", "Press", "Word of mouth", "Existing Customer"]  # fmt: skip
FIRST = date(2026, 3, 11)
RANGE = "?range=custom&start=2026-03-11&end=2026-03-20"


def starts_with(number):
    """The value as the page writes it, then its change."""
    return re.compile(rf"^\s*{number:,}\s")


def leads():
    """Per source, a few leads a day (more for the first sources), each a datapoint of value 1."""
    points = []
    for index, source in enumerate(SOURCES):
        for day in range(10):
            for n in range((len(SOURCES) - index + day) % 5 + (len(SOURCES) - index)):
                points.append((datetime(2026, 3, 11, 9, tzinfo=UTC) + timedelta(days=day, minutes=n), 1.0, source))
    return points


def test_a_newcomer_reads_leads_by_source_and_picks_one(page, login):
    metric = MetricFactory(name="New leads", current=True, aggregation="count", number_format="number")
    points = leads()
    datapoints(metric, points)
    counts = {source: sum(1 for *_, s in points if s == source) for source in SOURCES}
    ranked = sorted(SOURCES, key=lambda s: (-counts[s], s))
    total = len(points)

    login(UserFactory(username="nia", role="analyst"))
    page.goto(f"/dashboards/metrics/{metric.uuid}/reading/{RANGE}")
    reading = page.locator("#metric-reading")
    expect(reading.locator(".tile-value")).to_have_text(starts_with(total))

    table = reading.locator("table.breakdown-table")
    expect(table).to_be_visible()
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(11)  # the top 10 and Other
    first = rows.nth(0)
    expect(first.locator("th")).to_have_text(ranked[0])
    expect(first.locator("td").nth(0)).to_have_text(f"{counts[ranked[0]]:,}")
    expect(first.locator("td").nth(1)).to_have_text(f"{counts[ranked[0]] / total * 100:.1f}%")
    other = sum(counts[s] for s in ranked[10:])
    expect(rows.nth(10).locator("th")).to_have_text("Other (3 dimensions)")
    expect(rows.nth(10).locator("td").nth(0)).to_have_text(f"{other:,}")

    # The stacked chart: one dataset per line, stacked (counts add up).
    canvas = reading.locator('canvas[data-kind="stacked-bar"]')
    expect(canvas).to_have_attribute("data-drawn", "1")
    drawn = canvas.evaluate(
        "c => { const chart = Chart.getChart(c); return [chart.data.datasets.length, chart.options.scales.y.stacked,"
        " chart.data.datasets.map(d => d.data.reduce((a, b) => a + b, 0))]; }"
    )
    assert drawn[0] == 11 and drawn[1] is True
    assert drawn[2] == [counts[s] for s in ranked[:10]] + [other]

    # Pick the third source from the table: its value alone, in the URL with the range.
    pick = ranked[2]
    table.get_by_role("link", name=pick, exact=True).click()
    expect(reading.get_by_role("heading", name=f"Values: {pick}")).to_be_visible()
    expect(page.locator("#metric-reading .tile-value")).to_have_text(starts_with(counts[pick]))
    expect(page).to_have_url(re.compile(r"dimension=" + pick.replace(" ", r"(\+|%20)")))
    expect(page).to_have_url(re.compile(r"start=2026-03-11"))
    expect(page.locator("table.breakdown-table")).to_have_count(0)
    line = page.locator('#metric-reading canvas[data-kind="line"]')
    expect(line).to_have_attribute("data-drawn", "1")  # drawn again after the swap
    per_day = [
        sum(1 for when, _, s in points if s == pick and when.date() == FIRST + timedelta(days=n)) for n in range(10)
    ]
    assert line.evaluate("c => Chart.getChart(c).data.datasets[0].data") == per_day

    # Another range keeps the dimension; then back to every dimension.
    page.get_by_label("From").fill("2026-03-15")
    page.get_by_role("button", name="Show").click()
    since = sum(1 for when, _, s in points if s == pick and when.date() >= date(2026, 3, 15))
    expect(page.locator("#metric-reading .tile-value")).to_have_text(starts_with(since))
    expect(page.get_by_role("heading", name=f"Values: {pick}")).to_be_visible()
    page.get_by_role("link", name="Show all dimensions").click()
    expect(page.locator("table.breakdown-table tbody tr")).to_have_count(11)
    expect(page.locator('#metric-reading canvas[data-kind="stacked-bar"]')).to_have_attribute("data-drawn", "1")
    expect(page).not_to_have_url(re.compile(r"dimension="))
