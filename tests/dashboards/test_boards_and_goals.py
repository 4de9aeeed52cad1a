"""Databoards (tiles, order, ranges) and goals, and how each keeps its metrics in use."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse

from dashboards.models import Databoard, Goal, Scorecard, Tile
from syncs.models import Use
from syncs.uses import in_use
from tests.factories import DatapointFactory, MetricFactory, datapoints

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


def _metric(name, **extra):
    return MetricFactory(name=name, current=True, **extra)


@pytest.fixture
def leads(db):
    return _metric("New leads", aggregation="count")


@pytest.fixture
def revenue(db):
    return _metric("Revenue", number_format="currency")


def test_create_rename_and_delete_a_board(analyst_client):
    response = analyst_client.post(reverse("dashboards:board_create"), {"name": "Sales"})
    board = Databoard.objects.get()
    assert response["Location"] == reverse("dashboards:board", args=[board.uuid])
    assert "This board is empty" in analyst_client.get(response["Location"]).content.decode()

    analyst_client.post(reverse("dashboards:board_rename", args=[board.uuid]), {"name": "Sales team"})
    board.refresh_from_db()
    assert board.name == "Sales team"

    confirm = analyst_client.get(reverse("dashboards:board_delete", args=[board.uuid]))
    assert "Delete “Sales team”?" in confirm.content.decode()
    analyst_client.post(reverse("dashboards:board_delete", args=[board.uuid]))
    assert not Databoard.objects.exists()


def test_board_name_is_required(analyst_client):
    response = analyst_client.post(reverse("dashboards:board_create"), {"name": ""})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not Databoard.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_tiles_each_with_their_own_range_and_kind(analyst_client, analyst_user, leads, revenue):
    board = Databoard.objects.create(name="Sales", owner=analyst_user)
    leads_days = [(datetime(2026, 3, 14, 9, tzinfo=UTC), 1), (datetime(2026, 3, 10, 9, tzinfo=UTC), 1)]
    datapoints(leads, leads_days, synced_at=NOW)
    datapoints(revenue, [(datetime(2026, 2, 10, 9, tzinfo=UTC), 2500)], synced_at=NOW)
    url = reverse("dashboards:tile_add", args=[board.uuid])
    analyst_client.post(url, {"metric": leads.pk, "kind": "number", "date_range": "yesterday"})
    analyst_client.post(url, {"metric": revenue.pk, "kind": "bar", "date_range": "last_month"})

    page = analyst_client.get(reverse("dashboards:board", args=[board.uuid])).content.decode()
    first, second = page.split('data-tile="')[1:3]
    assert first.count("New leads") and ">1<" in first  # only yesterday's lead
    assert "Revenue" in second and "2,500.00" in second
    assert 'data-kind="bar"' in second
    # The chart's data sit beside it, under the id the canvas names.
    tile = Tile.objects.get(metric=revenue)
    assert f'data-chart="{tile.chart_id}"' in second
    assert f'id="{tile.chart_id}" type="application/json"' in second


def test_tile_form_errors_are_shown_and_nothing_is_added(analyst_client, analyst_user, leads):
    board = Databoard.objects.create(name="Sales", owner=analyst_user)
    response = analyst_client.post(reverse("dashboards:tile_add", args=[board.uuid]), {"kind": "line"})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not Tile.objects.exists()


def test_reorder_and_remove_tiles(analyst_client, analyst_user, leads, revenue):
    board = Databoard.objects.create(name="Sales", owner=analyst_user)
    a = Tile.objects.create(board=board, metric=leads, position=1)
    b = Tile.objects.create(board=board, metric=revenue, position=2)
    response = analyst_client.post(
        reverse("dashboards:tile_move", args=[board.uuid, b.pk]), {"direction": "up"}, headers={"HX-Request": "true"}
    )
    assert 'id="board-grid"' in response.content.decode()
    assert "<html" not in response.content.decode()
    assert list(board.tiles.values_list("pk", flat=True)) == [b.pk, a.pk]

    analyst_client.post(reverse("dashboards:tile_remove", args=[board.uuid, b.pk]))
    assert list(board.tiles.values_list("pk", flat=True)) == [a.pk]


def test_tiles_goals_and_scorecards_keep_metrics_in_use(db, leads, revenue):
    board = Databoard.objects.create(name="Sales")
    first = Tile.objects.create(board=board, metric=leads)
    second = Tile.objects.create(board=board, metric=leads, kind="line")
    assert in_use(leads)
    first.delete()
    assert in_use(leads), "the other tile still shows it"
    second.delete()
    assert not in_use(leads)

    goal = Goal.objects.create(metric=revenue, target=1000)
    assert in_use(revenue)
    goal.delete()
    assert not in_use(revenue)

    card = Scorecard.objects.create(name="Weekly")
    card.metrics.add(leads, revenue)
    assert in_use(leads) and in_use(revenue)
    card.metrics.remove(leads)
    assert not in_use(leads) and in_use(revenue)
    card.delete()
    assert not in_use(revenue)
    assert not Use.objects.exists()

    board.tiles.create(metric=revenue)
    board.delete()
    assert not in_use(revenue)


@time_machine.travel(NOW, tick=False)
def test_goal_progress_on_the_goals_page(analyst_client, revenue):
    DatapointFactory(metric=revenue, timestamp=datetime(2026, 3, 3, tzinfo=UTC), value=600, synced_at=NOW)
    response = analyst_client.post(
        reverse("dashboards:goals", args=[revenue.uuid]), {"target": "1000", "period": "month"}
    )
    assert response.status_code == 302
    page = analyst_client.get(reverse("dashboards:goals", args=[revenue.uuid])).content.decode()
    assert "600.00" in page
    # 14.5 of 31 days gone: 1,000 × 14.5/31 ≈ 468 expected by now, so 600 is on track.
    assert "On track" in page
    assert "60%" in page


def test_goal_form_errors(analyst_client, revenue):
    response = analyst_client.post(
        reverse("dashboards:goals", args=[revenue.uuid]),
        {"target": "10", "period": "custom", "start_date": "2026-03-10", "end_date": "2026-03-01"},
    )
    assert "The To date is before the From date." in response.content.decode()
    response = analyst_client.post(
        reverse("dashboards:goals", args=[revenue.uuid]), {"target": "lots", "period": "month"}
    )
    assert "Enter a number." in response.content.decode()
    assert not Goal.objects.exists()


def test_board_and_goal_views_need_a_role(client, outsider_user, revenue):
    board = Databoard.objects.create(name="Sales")
    client.force_login(outsider_user)
    for url in (
        reverse("dashboards:boards"),
        reverse("dashboards:board", args=[board.uuid]),
        reverse("dashboards:goals", args=[revenue.uuid]),
    ):
        assert client.get(url).status_code == 403, url
