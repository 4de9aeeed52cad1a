"""The Metrics screen and a metric's values, chart data, CSV and JSON, through the test client."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from syncs.uses import add_use
from tests.factories import MetricFactory, datapoints

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def metric(db, analyst_user):
    return MetricFactory(name="Deals won (amount)", owner=analyst_user, number_format="currency", current=True)


def _points(metric, values_by_day):
    datapoints(metric, values_by_day, synced_at=NOW)


def test_empty_screen_says_what_to_do_next(analyst_client):
    page = analyst_client.get(reverse("home")).content.decode()
    assert "No metrics on this screen yet" in page
    assert "Open the Builder" in page


def test_metrics_not_on_screen_yet_point_to_add_to_metrics_screen(analyst_client, metric):
    page = analyst_client.get(reverse("home")).content.decode()
    assert "Add to Metrics screen" in page
    assert metric.name not in page


@time_machine.travel(NOW, tick=False)
def test_screen_shows_last_month_value_and_a_green_rise(analyst_client, metric):
    feb = [(datetime(2026, 2, d, 10, tzinfo=UTC), 100.0) for d in (1, 10, 28)]
    jan = [(datetime(2026, 1, d, 10, tzinfo=UTC), 50.0) for d in (5, 20)]
    march = [(datetime(2026, 3, 2, 10, tzinfo=UTC), 999.0)]
    _points(metric, feb + jan + march)
    add_use(metric, "screen")

    page = analyst_client.get(reverse("home"), {"range": "last_month"}).content.decode()
    assert "300.00" in page  # 3 × 100 in February
    assert "change-green" in page
    assert "+200.0%" in page  # against January's 100


@time_machine.travel(NOW, tick=False)
def test_a_rise_is_red_when_down_is_favourable(analyst_client, metric):
    metric.favourable_trend = "down"
    metric.save()
    _points(metric, [(datetime(2026, 2, 3, tzinfo=UTC), 10.0), (datetime(2026, 1, 3, tzinfo=UTC), 5.0)])
    add_use(metric, "screen")
    page = analyst_client.get(reverse("home"), {"range": "last_month"}).content.decode()
    assert "change-red" in page


@time_machine.travel(NOW, tick=False)
def test_days_start_at_midnight_in_the_viewers_zone(analyst_client, analyst_user, metric):
    analyst_user.profile.time_zone = "Asia/Kolkata"
    analyst_user.profile.save()
    # 2026-03-14 19:00 UTC is already 15 March 00:30 in Kolkata: today, not yesterday.
    _points(metric, [(datetime(2026, 3, 14, 19, 0, tzinfo=UTC), 7.0), (datetime(2026, 3, 14, 18, 0, tzinfo=UTC), 3.0)])
    add_use(metric, "screen")
    today = analyst_client.get(reverse("home"), {"range": "today"}, headers={"HX-Request": "true"})
    assert "<html" not in today.content.decode()
    assert ">$7.00<" in today.content.decode()
    yesterday = analyst_client.get(reverse("home"), {"range": "yesterday"}).content.decode()
    assert ">$3.00<" in yesterday


def test_custom_range_errors_are_explained(analyst_client, metric):
    add_use(metric, "screen")
    page = analyst_client.get(reverse("home"), {"range": "custom", "start": "2026-03-10", "end": "2026-03-01"})
    assert "The To date is before the From date." in page.content.decode()
    missing = analyst_client.get(reverse("home"), {"range": "custom", "start": "2026-03-10"})
    assert "needs a From date and a To date" in missing.content.decode()


@time_machine.travel(NOW, tick=False)
def test_metric_values_chart_data_csv_and_json(analyst_client, metric):
    days = [(NOW - timedelta(days=n), float(n)) for n in range(1, 6)]
    _points(metric, days)
    query = {"range": "last_7_days"}

    reading = analyst_client.get(reverse("dashboards:reading", args=[metric.uuid]), query).content.decode()
    assert 'tile-value">$15.00' in reading  # 1 + 2 + 3 + 4 + 5
    chart = json.loads(reading.split(f'id="chart-{metric.uuid.hex}" type="application/json">')[1].split("</script>")[0])
    assert len(chart["labels"]) == 7
    assert sum(v for v in chart["values"] if v) == 15

    rows = list(
        csv.reader(
            io.StringIO(analyst_client.get(reverse("dashboards:csv", args=[metric.uuid]), query).content.decode())
        )
    )
    assert rows[0][0] == "timestamp_utc"
    value = rows[0].index("value_USD")  # a currency metric's values carry their currency
    assert sorted(float(r[value]) for r in rows[1:]) == [1.0, 2.0, 3.0, 4.0, 5.0]

    data = analyst_client.get(reverse("dashboards:json", args=[metric.uuid]), query).json()
    assert data["metric"] == metric.name and data["currency"] == "USD"
    assert len(data["datapoints"]) == 5


def test_reading_views_need_a_role(client, outsider_user, metric):
    urls = [
        reverse("home"),
        reverse("dashboards:reading", args=[metric.uuid]),
        reverse("dashboards:csv", args=[metric.uuid]),
        reverse("dashboards:json", args=[metric.uuid]),
    ]
    for url in urls:
        assert client.get(url).status_code == 302, url  # anonymous: to the login page
    client.force_login(outsider_user)
    for url in urls:
        response = client.get(url)
        assert response.status_code == 403, url
        assert b"Ask an admin" in response.content


def test_navigation_counts_unread_notifications(analyst_client, analyst_user):
    from notifications.models import Notification

    Notification.objects.create(user=analyst_user, text="Deals won went above 10,000")
    Notification.objects.create(user=analyst_user, text="Seen already", read=True)
    page = analyst_client.get(reverse("home")).content.decode()
    assert 'Notifications <span class="badge badge-count">1</span>' in page
