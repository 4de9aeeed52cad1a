"""Saved metrics: the list, the metric page, Edit/Duplicate/Delete, the gallery, export and import.

Every view is for members (admins and analysts); metrics are shared by the team, so any member
may open, copy, edit or delete any metric. Nothing here renders a connection's credentials:
the pages show a connection's name and integration only.
"""

import json
import uuid as uuid_lib
from datetime import UTC, datetime

from django.contrib import messages
from django.db import transaction
from django.db.models import ProtectedError
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_http_methods, require_POST

from accounts.roles import is_admin, member_required
from builder import definitions, portability
from builder import gallery as gallery_items
from builder import pagination as pagination_types
from builder.models import Metric
from builder.wizard_drafts import draft_for_metric
from connections.models import Connection

MAX_UPLOAD_BYTES = 5 * 1024 * 1024


def _metric_or_404(uuid):
    return get_object_or_404(Metric.objects.select_related("connection", "owner"), uuid=uuid)


def _request_summary(metric):
    """The request as the metric page shows it: method, endpoint, params, headers, body, pagination."""
    pagination = dict(metric.pagination or {"type": "none"})
    kind = pagination.pop("type", "none")
    return {
        "method": metric.method,
        "endpoint": metric.endpoint,
        "params": metric.params or [],
        "headers": metric.headers or [],
        "body": None if metric.body is None else json.dumps(metric.body, indent=2, ensure_ascii=False),
        "pagination": kind,
        "pagination_label": pagination_types.TYPE_LABELS.get(kind, kind),
        "pagination_options": sorted(pagination.items()),
    }


@member_required
def metric_list(request):
    metrics = Metric.objects.select_related("connection").order_by("name")
    return render(request, "builder/metrics/list.html", {"metrics": metrics})


@member_required
def metric_detail(request, uuid):
    metric = _metric_or_404(uuid)
    if metric.is_calculated:
        context = {"metric": metric, "inputs": metric.input_pairs()}
    else:
        context = {"metric": metric, "request_summary": _request_summary(metric)}
    context["needed_by"] = metric.needed_by()
    return render(request, "builder/metrics/detail.html", context)


@member_required
@require_http_methods(["GET", "POST"])
def metric_edit(request, uuid):
    metric = _metric_or_404(uuid)
    if metric.is_calculated:
        return redirect("builder:calculated_edit", uuid=metric.uuid)
    if metric.connection_id is None:
        messages.warning(
            request,
            "This metric's connection was deleted: choose another connection in the first step before saving.",
        )
    draft = draft_for_metric(metric, request.user)
    return redirect(reverse("builder:request", args=[draft.uuid]))


@member_required
@require_POST
def metric_duplicate(request, uuid):
    metric = _metric_or_404(uuid)
    with transaction.atomic():
        copy = metric.copy(name=definitions.unique_name(metric.name), owner=request.user)
    messages.success(request, f"Created “{copy.name}”, a copy of “{metric.name}”.")
    return redirect("builder:metric", uuid=copy.uuid)


@member_required
@require_http_methods(["GET", "POST"])
def metric_delete(request, uuid):
    metric = _metric_or_404(uuid)
    needed_by = metric.needed_by()
    if request.method == "POST" and not needed_by:
        name = metric.name
        try:
            with transaction.atomic():
                metric.delete()
        except ProtectedError:  # a calculated metric took it as an input meanwhile
            needed_by = metric.needed_by()
        else:
            messages.success(request, f"Deleted the metric “{name}”.")
            return redirect("builder:metric_list")
    status = 409 if needed_by and request.method == "POST" else 200
    return render(request, "builder/metrics/delete.html", {"metric": metric, "needed_by": needed_by}, status=status)


# ---------------------------------------------------------------- gallery


def _vtiger_connections():
    return Connection.objects.filter(integration__in=Connection.VTIGER_INTEGRATIONS).order_by("name")


@member_required
def gallery(request):
    connections = list(_vtiger_connections())
    chosen = None
    wanted = request.GET.get("connection", "")
    if wanted:
        chosen = next((c for c in connections if str(c.uuid) == wanted), None)
        if chosen is None:
            messages.error(request, "That connection does not exist or is not a Vtiger connection: choose another.")
    elif len(connections) == 1:
        chosen = connections[0]
    context = {
        "connections": connections,
        "chosen": chosen,
        "items": gallery_items.ITEMS,
        "calculated_items": gallery_items.CALCULATED_ITEMS,
        "user_is_admin": is_admin(request.user),
    }
    return render(request, "builder/metrics/gallery.html", context)


@member_required
@require_POST
def gallery_create(request, slug):
    if gallery_items.get(slug) is None:
        raise Http404("There is no such pre-built metric.")
    try:
        connection = _vtiger_connections().filter(uuid=uuid_lib.UUID(request.POST.get("connection", ""))).first()
    except ValueError:
        connection = None
    if connection is None:
        messages.error(request, "Choose a Vtiger connection first.")
        return redirect("builder:gallery")
    try:
        metric = gallery_items.create_metric(slug, connection, owner=request.user)
    except gallery_items.GalleryError as exc:
        messages.error(request, f"The metric could not be created: {exc}")
        return redirect(f"{reverse('builder:gallery')}?connection={connection.uuid}")
    messages.success(request, f"Created “{metric.name}” on {connection.name}. Use Edit to change it in the wizard.")
    return redirect("builder:metric", uuid=metric.uuid)


# ---------------------------------------------------------------- export and import


@member_required
def export(request):
    wanted = request.GET.getlist("metric")
    metrics = Metric.objects.select_related("connection")
    if wanted:
        try:
            uuids = list(dict.fromkeys(uuid_lib.UUID(value) for value in wanted))
        except ValueError:
            return HttpResponseBadRequest("A metric to export is not a valid id.")
        found = {metric.uuid: metric for metric in metrics.filter(uuid__in=uuids)}
        if len(found) != len(uuids):
            raise Http404("A metric to export does not exist.")
        chosen = [found[value] for value in uuids]
    else:
        chosen = list(metrics.order_by("name"))
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    base = slugify(chosen[0].name) if len(chosen) == 1 else "metrics"
    response = HttpResponse(
        portability.dumps(portability.export_document(chosen)), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{base or "metric"}-{stamp}.json"'
    return response


@member_required
@require_http_methods(["GET", "POST"])
def import_definitions(request):
    context = {"errors": [], "rename": False, "text": ""}
    if request.method == "POST":
        upload = request.FILES.get("file")
        text = request.POST.get("text", "")
        rename = request.POST.get("rename") == "on"
        context.update(rename=rename, text=text)
        if upload is not None and upload.size > MAX_UPLOAD_BYTES:
            errors = [("", f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")]
        elif upload is None and not text.strip():
            errors = [("", "Choose a file to import, or paste its JSON.")]
        else:
            document, errors = portability.loads(upload.read() if upload is not None else text)
            if not errors:
                result = portability.import_document(document, owner=request.user, rename=rename)
                errors = result.errors
                if result.ok:
                    created = result.created
                    words = ", ".join(f"“{metric.name}”" for metric in created)
                    messages.success(
                        request, f"Imported {len(created)} metric{'s' if len(created) != 1 else ''}: {words}."
                    )
                    for old, new in result.renamed:
                        messages.info(request, f"“{old}” was renamed “{new}”: the name was taken.")
                    if len(created) == 1:
                        return redirect("builder:metric", uuid=created[0].uuid)
                    return redirect("builder:metric_list")
        context["errors"] = errors
        status = 400
    else:
        status = 200
    return render(request, "builder/metrics/import.html", context, status=status)
