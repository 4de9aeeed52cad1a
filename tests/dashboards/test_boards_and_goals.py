"""Databoards (tiles, order, ranges) and goals, and how each keeps its metrics in use."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse

from dashboards.models import Databoard, Goal, Scorecard, Tile
from syncs.models import SyncState, Use
from tests.factories import DatapointFactory, MetricFactory, datapoints


def _in_use(metric) -> bool:
    return SyncState.objects.filter(metric=metric, in_use=True).exists()


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
    response = analyst_client.post(reverse("dashboards:databoard_create"), {"name": "Sales"})
    board = Databoard.objects.get()
    assert response["Location"] == reverse("dashboards:databoard", args=[board.uuid])
    assert "This databoard is empty" in analyst_client.get(response["Location"]).content.decode()

    analyst_client.post(reverse("dashboards:databoard_rename", args=[board.uuid]), {"name": "Sales team"})
    board.refresh_from_db()
    assert board.name == "Sales team"

    confirm = analyst_client.get(reverse("dashboards:databoard_delete", args=[board.uuid]))
    assert "Delete “Sales team”?" in confirm.content.decode()
    analyst_client.post(reverse("dashboards:databoard_delete", args=[board.uuid]))
    assert not Databoard.objects.exists()


def test_board_name_is_required(analyst_client):
    response = analyst_client.post(reverse("dashboards:databoard_create"), {"name": ""})
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

    page = analyst_client.get(reverse("dashboards:databoard", args=[board.uuid])).content.decode()
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
    a = Tile.objects.create(databoard=board, metric=leads, position=1)
    b = Tile.objects.create(databoard=board, metric=revenue, position=2)
    response = analyst_client.post(
        reverse("dashboards:tile_move", args=[board.uuid, b.pk]), {"direction": "up"}, headers={"HX-Request": "true"}
    )
    assert 'id="databoard-grid"' in response.content.decode()
    assert "<html" not in response.content.decode()
    assert list(board.tiles.values_list("pk", flat=True)) == [b.pk, a.pk]

    analyst_client.post(reverse("dashboards:tile_remove", args=[board.uuid, b.pk]))
    assert list(board.tiles.values_list("pk", flat=True)) == [a.pk]


def test_a_databoard_adds_each_tile_after_its_last(db, leads, revenue):
    databoard = Databoard.objects.create(name="Sales")
    first = databoard.add_tile(leads, Tile.Kind.NUMBER, "yesterday")
    databoard.tiles.filter(pk=first.pk).update(position=5)  # a gap, as a removed tile leaves
    second = databoard.add_tile(revenue, Tile.Kind.BAR, "last_month")
    assert (first.position, second.position) == (1, 6)
    assert (second.databoard, second.metric, second.kind, second.date_range) == (
        databoard,
        revenue,
        "bar",
        "last_month",
    )
    assert Databoard.objects.create(name="Empty").add_tile(leads, Tile.Kind.LINE, "today").position == 1


def test_a_databoard_moves_a_tile_past_its_neighbour_and_renumbers(db, leads, revenue):
    databoard = Databoard.objects.create(name="Sales")
    a, b, c = (Tile.objects.create(databoard=databoard, metric=leads, position=p) for p in (1, 4, 9))

    def order():
        return list(databoard.tiles.values_list("pk", "position"))

    assert databoard.move_tile(c.pk, up=True)
    assert order() == [(a.pk, 1), (c.pk, 2), (b.pk, 3)]
    assert databoard.move_tile(a.pk, up=False)
    assert order() == [(c.pk, 1), (a.pk, 2), (b.pk, 3)]
    # At either end it stays; a tile of another databoard is not moved.
    assert databoard.move_tile(c.pk, up=True) and databoard.move_tile(b.pk, up=False)
    assert order() == [(c.pk, 1), (a.pk, 2), (b.pk, 3)]
    other = Tile.objects.create(databoard=Databoard.objects.create(name="Other"), metric=revenue, position=7)
    assert not databoard.move_tile(other.pk, up=True)
    other.refresh_from_db()
    assert other.position == 7


def test_a_databoard_removes_only_its_own_tiles(db, leads, revenue):
    databoard = Databoard.objects.create(name="Sales")
    mine = databoard.add_tile(leads, Tile.Kind.NUMBER, "today")
    theirs = Databoard.objects.create(name="Other").add_tile(revenue, Tile.Kind.NUMBER, "today")
    assert not databoard.remove_tile(theirs.pk)
    assert Tile.objects.filter(pk=theirs.pk).exists()
    assert databoard.remove_tile(mine.pk)
    assert not databoard.tiles.exists()
    assert not Use.objects.filter(metric=leads).exists(), "the removed tile's use went with it"


def test_removing_a_tile_that_is_not_on_the_databoard_is_a_404(analyst_client, analyst_user, leads):
    databoard = Databoard.objects.create(name="Sales", owner=analyst_user)
    theirs = Databoard.objects.create(name="Other", owner=analyst_user).add_tile(leads, Tile.Kind.NUMBER, "today")
    response = analyst_client.post(reverse("dashboards:tile_remove", args=[databoard.uuid, theirs.pk]))
    assert response.status_code == 404
    assert Tile.objects.filter(pk=theirs.pk).exists()


def test_tiles_goals_and_scorecards_keep_metrics_in_use(db, leads, revenue):
    board = Databoard.objects.create(name="Sales")
    first = Tile.objects.create(databoard=board, metric=leads)
    second = Tile.objects.create(databoard=board, metric=leads, kind="line")
    assert _in_use(leads)
    first.delete()
    assert _in_use(leads), "the other tile still shows it"
    second.delete()
    assert not _in_use(leads)

    goal = Goal.objects.create(metric=revenue, target=1000)
    assert _in_use(revenue)
    goal.delete()
    assert not _in_use(revenue)

    card = Scorecard.objects.create(name="Weekly")
    card.metrics.add(leads, revenue)
    assert _in_use(leads) and _in_use(revenue)
    card.metrics.remove(leads)
    assert not _in_use(leads) and _in_use(revenue)
    card.delete()
    assert not _in_use(revenue)
    assert not Use.objects.exists()

    board.tiles.create(metric=revenue)
    board.delete()
    assert not _in_use(revenue)


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
        reverse("dashboards:databoards"),
        reverse("dashboards:databoard", args=[board.uuid]),
        reverse("dashboards:goals", args=[revenue.uuid]),
    ):
        assert client.get(url).status_code == 403, url
