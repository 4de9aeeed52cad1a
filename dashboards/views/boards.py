"""Databoards: named boards of metric tiles, each tile with its own date range.

Every member sees every board; its owner (or an admin) renames it, deletes it and adds, moves and
removes its tiles.
"""

from django import forms
from django.contrib import messages
from django.db import transaction
from django.db.models import Max
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.roles import may_change, member_required, require_owner
from builder import timeframes
from builder.models import Metric
from dashboards import reading
from dashboards.models import Databoard, Tile


class BoardForm(forms.ModelForm):
    class Meta:
        model = Databoard
        fields = ["name"]
        labels = {"name": "Board name"}


class TileForm(forms.ModelForm):
    metric = forms.ModelChoiceField(queryset=Metric.objects.order_by("name"), empty_label="Choose a metric")

    class Meta:
        model = Tile
        fields = ["metric", "kind", "date_range"]
        labels = {"kind": "Show as", "date_range": "Date range"}


def _board_or_404(uuid):
    return get_object_or_404(Databoard, uuid=uuid)


def _changeable_board(request, uuid):
    """The board, if the user may change it (404 when it does not exist, 403 when not theirs)."""
    board = _board_or_404(uuid)
    require_owner(request.user, board.owner_id, "board")
    return board


def _tile_summaries(board, tz):
    """(tile, summary) pairs in board order; tiles sharing a date range are read together."""
    tiles = list(board.tiles.select_related("metric", "metric__sync"))
    summaries = {}
    for date_range in {tile.date_range for tile in tiles}:
        same_range = [tile for tile in tiles if tile.date_range == date_range]
        found = reading.summarise_many([t.metric for t in same_range], timeframes.resolve(date_range, tz))
        summaries.update(zip((t.pk for t in same_range), found, strict=True))
    return [(tile, summaries[tile.pk]) for tile in tiles]


@member_required
def board_list(request):
    boards = Databoard.objects.all()
    return render(request, "dashboards/boards/list.html", {"boards": boards, "form": BoardForm()})


@member_required
@require_POST
def board_create(request):
    form = BoardForm(request.POST)
    if not form.is_valid():
        return render(request, "dashboards/boards/list.html", {"boards": Databoard.objects.all(), "form": form})
    board = form.save(commit=False)
    board.owner = request.user
    board.save()
    return redirect("dashboards:board", uuid=board.uuid)


@member_required
def board_detail(request, uuid, tile_form=None):
    board = _board_or_404(uuid)
    context = {
        "board": board,
        "tiles": _tile_summaries(board, timeframes.user_zone(request.user)),
        "tile_form": tile_form or TileForm(),
        "rename_form": BoardForm(instance=board),
        "has_metrics": Metric.objects.exists(),
        "can_change": may_change(request.user, board.owner_id),
    }
    if request.htmx and tile_form is None:
        return render(request, "dashboards/boards/detail.html#grid", context)
    return render(request, "dashboards/boards/detail.html", context)


@member_required
@require_POST
def board_rename(request, uuid):
    board = _changeable_board(request, uuid)
    form = BoardForm(request.POST, instance=board)
    if form.is_valid():
        form.save()
        messages.success(request, f"Board renamed to “{board.name}”.")
    else:
        messages.error(request, "Enter a name for the board.")
    return redirect("dashboards:board", uuid=board.uuid)


@member_required
def board_delete(request, uuid):
    board = _changeable_board(request, uuid)
    if request.method == "POST":
        name = board.name
        board.delete()
        messages.success(request, f"Board “{name}” deleted. Its metrics and their data are kept.")
        return redirect("dashboards:boards")
    return render(request, "dashboards/boards/delete.html", {"board": board})


@member_required
@require_POST
def tile_add(request, uuid):
    board = _changeable_board(request, uuid)
    form = TileForm(request.POST)
    if not form.is_valid():
        return board_detail(request, uuid, tile_form=form)
    tile = form.save(commit=False)
    tile.board = board
    tile.position = (board.tiles.aggregate(last=Max("position"))["last"] or 0) + 1
    tile.save()
    return _back_to_board(request, board)


@member_required
@require_POST
def tile_remove(request, uuid, tile):
    board = _changeable_board(request, uuid)
    get_object_or_404(Tile, pk=tile, board=board).delete()
    return _back_to_board(request, board)


@member_required
@require_POST
def tile_move(request, uuid, tile):
    """Swap a tile with its neighbour: direction=up (earlier) or down (later)."""
    board = _changeable_board(request, uuid)
    with transaction.atomic():
        tiles = list(board.tiles.select_for_update().order_by("position", "pk"))
        index = next((i for i, t in enumerate(tiles) if t.pk == tile), None)
        if index is None:
            return redirect("dashboards:board", uuid=board.uuid)
        other = index - 1 if request.POST.get("direction") == "up" else index + 1
        if 0 <= other < len(tiles):
            tiles[index], tiles[other] = tiles[other], tiles[index]
            for position, item in enumerate(tiles, start=1):
                if item.position != position:
                    item.position = position
                    item.save(update_fields=["position"])
    return _back_to_board(request, board)


def _back_to_board(request, board):
    if request.htmx:
        request.method = "GET"
        return board_detail(request, board.uuid)
    return redirect("dashboards:board", uuid=board.uuid)
