"""Calendar dates in Chromium: a viewer in New York and a viewer in Tokyo read the same won amount
for October on the metric page, and the same days in its table.

The deals close on 30 September, 1 and 31 October and 1 November. Read as instants (midnight UTC)
New York would see 1 October as 30 September and 1 November as 31 October (261 instead of 350).
"""

import pytest
from playwright.sync_api import expect

from builder import dates
from tests.factories import MetricFactory, UserFactory, datapoints

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DEALS = [("2026-09-30", 7.0), ("2026-10-01", 100.0), ("2026-10-31", 250.0), ("2026-11-01", 11.0)]
OCTOBER = "?range=custom&start=2026-10-01&end=2026-10-31&by=day"


def viewer(username, zone):
    user = UserFactory(username=username, role="analyst")
    user.profile.time_zone = zone
    user.profile.save()
    return user


def test_new_york_and_tokyo_read_the_same_october(page, login):
    metric = MetricFactory(
        name="Won amount",
        connection=None,
        date_field="closingdate",
        date_format=dates.DATE,
        expression='result.{"value": $number(amount), "date": closingdate}',
        aggregation="sum",
        number_format="number",
    )
    assert metric.date_kind == "calendar"
    datapoints(metric, [(dates.parse(day, dates.DATE), value) for day, value in DEALS])

    seen = {}
    for username, zone in (("nadia", "America/New_York"), ("taro", "Asia/Tokyo")):
        login(viewer(username, zone))
        page.goto(f"/dashboards/metrics/{metric.uuid}/reading/{OCTOBER}")
        reading = page.locator("#metric-reading")
        expect(reading).to_contain_text(zone)  # the range is read in the viewer's own zone
        expect(reading.locator(".tile-value")).to_contain_text("350")
        reading.locator("summary", has_text="Table").click()  # the table by day, folded by default
        rows = reading.locator("table.data tbody tr")
        expect(rows.first).to_be_visible()
        days = {
            cells[0]: cells[1]
            for cells in (row.locator("td").all_inner_texts() for row in rows.all())
            if cells[1].strip() not in ("", "0", "—", "-")
        }
        seen[zone] = (reading.locator(".tile-value").inner_text().split()[0], days)
        page.context.clear_cookies()

    assert seen["America/New_York"] == seen["Asia/Tokyo"]
    assert seen["Asia/Tokyo"][1] == {"2026-10-01": "100", "2026-10-31": "250"}
