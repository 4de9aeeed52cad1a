"""Boards and goals: their owner or an admin changes and deletes them; every other member only reads
them (403, as alerts and scorecards answer), and does not see the buttons."""

import pytest
from django.test import Client
from django.urls import reverse

from dashboards.models import Databoard, Goal, Tile
from tests.factories import MetricFactory, UserFactory


@pytest.fixture
def metric(db):
    return MetricFactory(name="Revenue", current=True)


@pytest.fixture
def board(analyst_user, metric):
    board = Databoard.objects.create(name="Alan's board", owner=analyst_user)
    Tile.objects.create(databoard=board, metric=metric, position=1)
    Tile.objects.create(databoard=board, metric=metric, position=2, kind="bar")
    return board


@pytest.fixture
def goal(analyst_user, metric):
    return Goal.objects.create(metric=metric, target=1000, created_by=analyst_user)


@pytest.fixture
def clients(analyst_user, admin_user):
    """A client per role towards a thing Alan (an analyst) owns."""
    other = UserFactory(username="grace", role="analyst")
    out = {}
    for name, user in (("owner", analyst_user), ("other analyst", other), ("admin", admin_user)):
        out[name] = Client()
        out[name].force_login(user)
    return out


def _tile_ids(board):
    return list(board.tiles.order_by("position").values_list("pk", flat=True))


BOARD_ACTIONS = {
    "rename": lambda b: (reverse("dashboards:databoard_rename", args=[b.uuid]), {"name": "Renamed"}),
    "delete": lambda b: (reverse("dashboards:databoard_delete", args=[b.uuid]), {}),
    "add a tile": lambda b: (
        reverse("dashboards:tile_add", args=[b.uuid]),
        {"metric": b.tiles.first().metric_id, "kind": "number", "date_range": "this_month"},
    ),
    "remove a tile": lambda b: (reverse("dashboards:tile_remove", args=[b.uuid, _tile_ids(b)[0]]), {}),
    "reorder": lambda b: (reverse("dashboards:tile_move", args=[b.uuid, _tile_ids(b)[0]]), {"direction": "down"}),
}


def _board_state(board):
    board = Databoard.objects.filter(pk=board.pk).first()
    return board and (board.name, _tile_ids(board))


@pytest.mark.parametrize("action", BOARD_ACTIONS)
@pytest.mark.parametrize("who", ["owner", "other analyst", "admin"])
def test_board_changes_by_owner_and_admin_only(clients, board, action, who):
    url, data = BOARD_ACTIONS[action](board)
    before = _board_state(board)
    response = clients[who].post(url, data)
    if who == "other analyst":
        assert response.status_code == 403
        assert "owner, or an admin, can change or delete it" in response.content.decode()
        assert _board_state(board) == before, "nothing changed"
    else:
        assert response.status_code == 302
        assert _board_state(board) != before


@pytest.mark.parametrize("who", ["owner", "other analyst", "admin"])
def test_everyone_reads_a_board_only_its_owner_and_admins_see_the_buttons(clients, board, who):
    response = clients[who].get(reverse("dashboards:databoard", args=[board.uuid]))
    page = response.content.decode()
    assert response.status_code == 200 and "Alan&#x27;s board" in page
    buttons = [
        reverse("dashboards:databoard_rename", args=[board.uuid]),
        reverse("dashboards:databoard_delete", args=[board.uuid]),
        reverse("dashboards:tile_add", args=[board.uuid]),
        reverse("dashboards:tile_move", args=[board.uuid, _tile_ids(board)[0]]),
        reverse("dashboards:tile_remove", args=[board.uuid, _tile_ids(board)[0]]),
    ]
    shown = [url for url in buttons if url in page]
    assert shown == ([] if who == "other analyst" else buttons)
    delete_page = clients[who].get(reverse("dashboards:databoard_delete", args=[board.uuid]))
    assert delete_page.status_code == (403 if who == "other analyst" else 200)


def test_an_ownerless_board_is_changed_by_admins_only(clients, board):
    Databoard.objects.filter(pk=board.pk).update(owner=None)  # its owner's account was deleted
    url = reverse("dashboards:databoard_rename", args=[board.uuid])
    assert clients["other analyst"].post(url, {"name": "Mine now"}).status_code == 403
    assert clients["admin"].post(url, {"name": "Kept"}).status_code == 302


@pytest.mark.parametrize("who", ["owner", "other analyst", "admin"])
def test_goal_removed_by_its_creator_and_admins_only(clients, goal, who):
    url = reverse("dashboards:goal_delete", args=[goal.metric.uuid, goal.pk])
    confirm = clients[who].get(url)
    response = clients[who].post(url)
    if who == "other analyst":
        assert confirm.status_code == response.status_code == 403
        assert "owner, or an admin, can change or delete it" in response.content.decode()
        assert Goal.objects.filter(pk=goal.pk).exists()
    else:
        assert confirm.status_code == 200 and response.status_code == 302
        assert not Goal.objects.filter(pk=goal.pk).exists()


@pytest.mark.parametrize("who", ["owner", "other analyst", "admin"])
def test_everyone_reads_goals_only_the_creator_and_admins_see_remove(clients, goal, who):
    page = clients[who].get(reverse("dashboards:goals", args=[goal.metric.uuid])).content.decode()
    assert f'data-goal="{goal.pk}"' in page
    remove = reverse("dashboards:goal_delete", args=[goal.metric.uuid, goal.pk])
    assert (remove in page) == (who != "other analyst")


def test_any_member_sets_a_goal_of_their_own(clients, goal):
    url = reverse("dashboards:goals", args=[goal.metric.uuid])
    assert clients["other analyst"].post(url, {"target": "5", "period": "month"}).status_code == 302
    mine = Goal.objects.exclude(pk=goal.pk).get()
    remove = reverse("dashboards:goal_delete", args=[goal.metric.uuid, mine.pk])
    assert clients["other analyst"].post(remove).status_code == 302
