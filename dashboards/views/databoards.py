"""Databoards: named databoards of metric tiles, each tile with its own date range.

Every member sees every databoard; its owner (or an admin) renames it, deletes it and adds, moves
and removes its tiles (``Databoard.add_tile``, ``move_tile``, ``remove_tile``).
"""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.roles import may_change, member_required, require_owner
from builder import timeframes
from builder.models import Metric
from dashboards import tiles
from dashboards.forms import DataboardForm, TileForm
from dashboards.models import Databoard


def _databoard_or_404(uuid):
    return get_object_or_404(Databoard, uuid=uuid)


def _changeable_databoard(request, uuid):
    """The databoard, if the user may change it (404 when it does not exist, 403 when not theirs)."""
    databoard = _databoard_or_404(uuid)
    require_owner(request.user, databoard.owner_id, "databoard")
    return databoard


def _tiles(databoard, tz):
    """(tile, what it shows, its dimension's label) in databoard order (``dashboards.tiles``)."""
    found = databoard.tiles.select_related("metric", "metric__sync_state", "metric__connection")
    return tiles.read(found, tz)


@member_required
def databoard_list(request):
    databoards = Databoard.objects.all()
    return render(request, "dashboards/databoards/list.html", {"databoards": databoards, "form": DataboardForm()})


@member_required
@require_POST
def databoard_create(request):
    form = DataboardForm(request.POST)
    if not form.is_valid():
        context = {"databoards": Databoard.objects.all(), "form": form}
        return render(request, "dashboards/databoards/list.html", context)
    databoard = form.save(commit=False)
    databoard.owner = request.user
    databoard.save()
    return redirect("dashboards:databoard", uuid=databoard.uuid)


@member_required
def databoard_detail(request, uuid, tile_form=None):
    databoard = _databoard_or_404(uuid)
    if request.htmx and request.GET.get("tile_dimension"):
        # The Add a tile form's Dimension select, filled for the metric just chosen.
        context = {"databoard": databoard, "tile_form": TileForm(initial={"metric": request.GET.get("metric")})}
        return render(request, "dashboards/databoards/detail.html#tile-dimension", context)
    context = {
        "databoard": databoard,
        "tiles": _tiles(databoard, timeframes.user_zone(request.user)),
        "tile_form": tile_form or TileForm(),
        "rename_form": DataboardForm(instance=databoard),
        "has_metrics": Metric.objects.exists(),
        "can_change": may_change(request.user, databoard.owner_id),
    }
    if request.htmx and tile_form is None:
        return render(request, "dashboards/databoards/detail.html#grid", context)
    return render(request, "dashboards/databoards/detail.html", context)


@member_required
@require_POST
def databoard_rename(request, uuid):
    databoard = _changeable_databoard(request, uuid)
    form = DataboardForm(request.POST, instance=databoard)
    if form.is_valid():
        form.save()
        messages.success(request, f"Databoard renamed to “{databoard.name}”.")
    else:
        messages.error(request, "Enter a name for the databoard.")
    return redirect("dashboards:databoard", uuid=databoard.uuid)


@member_required
def databoard_delete(request, uuid):
    databoard = _changeable_databoard(request, uuid)
    if request.method == "POST":
        name = databoard.name
        databoard.delete()
        messages.success(request, f"Databoard “{name}” deleted. Its metrics and their data are kept.")
        return redirect("dashboards:databoards")
    return render(request, "dashboards/databoards/delete.html", {"databoard": databoard})


@member_required
@require_POST
def tile_add(request, uuid):
    databoard = _changeable_databoard(request, uuid)
    form = TileForm(request.POST)
    if not form.is_valid():
        return databoard_detail(request, uuid, tile_form=form)
    data = form.cleaned_data
    databoard.add_tile(data["metric"], data["kind"], data["date_range"], data["dimension"])
    return _back_to_databoard(request, databoard)


@member_required
@require_POST
def tile_remove(request, uuid, tile):
    databoard = _changeable_databoard(request, uuid)
    if not databoard.remove_tile(tile):
        raise Http404("No such tile on this databoard.")
    return _back_to_databoard(request, databoard)


@member_required
@require_POST
def tile_move(request, uuid, tile):
    """Swap a tile with its neighbour: direction=up (earlier) or down (later)."""
    databoard = _changeable_databoard(request, uuid)
    if not databoard.move_tile(tile, up=request.POST.get("direction") == "up"):
        return redirect("dashboards:databoard", uuid=databoard.uuid)
    return _back_to_databoard(request, databoard)


def _back_to_databoard(request, databoard):
    if request.htmx:
        request.method = "GET"
        return databoard_detail(request, databoard.uuid)
    return redirect("dashboards:databoard", uuid=databoard.uuid)
