"""Issue 13's smaller items: the Syncs panel names where a metric is used (the board's name, not
"Databoard 3"), the navigation links to the saved metrics, and a UTC viewer's CSV has one
timestamp column."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from dashboards.models import Alert, Databoard, Goal, Scorecard, Tile
from tests.factories import MetricFactory, datapoints

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


def _uses_cell(html):
    row = re.search(r'<th scope="row">In use</th><td>(.*?)</td>', html, re.S).group(1)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()


def test_the_syncs_panel_names_each_place_the_metric_is_used(analyst_client):
    metric = MetricFactory(name="Revenue", current=True, used_on="screen")
    # Other boards first, so the tile's primary key is not the board's.
    for name in ("Ops", "Support"):
        Databoard.objects.create(name=name)
    board = Databoard.objects.create(name="Sales board")
    Tile.objects.create(databoard=board, metric=metric)
    goal = Goal.objects.create(metric=metric, target=1000)
    Alert.objects.create(metric=metric, condition="above", threshold=50)
    Alert.objects.create(metric=metric, condition="change", threshold=20)
    card = Scorecard.objects.create(name="Weekly numbers")
    card.metrics.add(metric)

    panel = analyst_client.get(reverse("syncs:panel", args=[metric.uuid]), **HX).content.decode()
    cell = _uses_cell(panel)
    for words in (
        "Metrics screen",
        "Databoard “Sales board”",
        "Goal of 1000 (this month)",
        "Alert when it goes above 50",
        "Alert when it changes by more than 20%",
        "Scorecard “Weekly numbers”",
    ):
        assert words in cell, (words, cell)
    assert not re.search(r"Databoard \d", cell) and not re.search(r"(Goal|Alert|Scorecard) \d", cell), cell
    for url in (
        reverse("dashboards:databoard", args=[board.uuid]),
        reverse("dashboards:goals", args=[metric.uuid]),
        reverse("dashboards:alerts", args=[metric.uuid]),
        reverse("dashboards:scorecard_preview", args=[card.uuid]),
    ):
        assert f'href="{url}"' in panel, url
    assert goal.pk  # (the goal's own words come from its target and period)


def test_the_board_name_is_escaped(analyst_client):
    metric = MetricFactory(name="Revenue", current=True)
    Tile.objects.create(databoard=Databoard.objects.create(name="<b>Sales</b>"), metric=metric)
    panel = analyst_client.get(reverse("syncs:panel", args=[metric.uuid]), **HX).content.decode()
    assert "&lt;b&gt;Sales&lt;/b&gt;" in panel and "<b>Sales</b>" not in panel


def test_the_navigation_links_to_the_saved_metrics(analyst_client):
    home = analyst_client.get(reverse("home")).content.decode()
    nav = re.search(r'<nav class="mainnav".*?</nav>', home, re.S).group(0)
    assert f'<a href="{reverse("builder:metric_list")}" >Saved metrics</a>' in nav
    listing = analyst_client.get(reverse("builder:metric_list")).content.decode()
    nav = re.search(r'<nav class="mainnav".*?</nav>', listing, re.S).group(0)
    assert f'<a href="{reverse("builder:metric_list")}" aria-current="page">Saved metrics</a>' in nav
    assert f'<a href="{reverse("builder:start")}" >Builder</a>' in nav
    assert reverse("builder:import") in listing
    builder = analyst_client.get(reverse("builder:start")).content.decode()
    nav = re.search(r'<nav class="mainnav".*?</nav>', builder, re.S).group(0)
    assert f'<a href="{reverse("builder:start")}" aria-current="page">Builder</a>' in nav


def _csv(client, metric):
    body = client.get(reverse("dashboards:csv", args=[metric.uuid]), {"range": "last_7_days"}).content.decode()
    return list(csv.reader(io.StringIO(body)))


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize("zone", ["UTC", "Etc/UTC"])
def test_a_utc_viewers_csv_has_one_timestamp_column(analyst_client, analyst_user, zone):
    analyst_user.profile.time_zone = zone
    analyst_user.profile.save()
    metric = MetricFactory(name="Revenue", current=True)
    datapoints(metric, [(NOW - timedelta(days=1), 2.5)])
    rows = _csv(analyst_client, metric)
    assert rows == [["timestamp_utc", "value", "dimension"], ["2026-03-14T12:00:00+00:00", "2.5", ""]]


@time_machine.travel(NOW, tick=False)
def test_another_zones_csv_keeps_both_timestamp_columns(analyst_client, analyst_user):
    analyst_user.profile.time_zone = "Asia/Kolkata"
    analyst_user.profile.save()
    metric = MetricFactory(name="Revenue", current=True)
    datapoints(metric, [(NOW - timedelta(days=1), 2.5)])
    rows = _csv(analyst_client, metric)
    assert rows[0] == ["timestamp_utc", "timestamp_Asia/Kolkata", "value", "dimension"]
    assert rows[1] == ["2026-03-14T12:00:00+00:00", "2026-03-14T17:30:00+05:30", "2.5", ""]
