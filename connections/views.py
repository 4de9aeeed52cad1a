"""Data Manager: admins list, connect, test, edit and delete connections.

Views stay thin: forms validate, `services` tests credentials and saves, and
every view here is for admins only (`admin_required` answers 403 to analysts).
"""

from django.contrib import messages
from django.db.models import Count
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.roles import admin_required
from connections import integrations, services
from connections.models import Connection


def _integration_or_404(slug):
    integration = integrations.get(slug)
    if integration is None:
        raise Http404("No such integration.")
    return integration


def _connection_or_404(uuid):
    return get_object_or_404(Connection, uuid=uuid)


@admin_required
def connection_list(request):
    # The reverse relation is declared by builder.Metric; counting through it imports nothing from there.
    connections = Connection.objects.annotate(metric_count=Count("metrics")).order_by("name")
    return render(request, "connections/list.html", {"connections": connections})


@admin_required
def catalogue(request):
    query = request.GET.get("q", "").strip()
    found = integrations.search(query) if query else list(integrations.REGISTRY.values())
    context = {"query": query, "integrations": found}
    if request.htmx:
        return render(request, "connections/catalogue.html#results", context)
    return render(request, "connections/catalogue.html", context)


@admin_required
def integration_detail(request, slug):
    integration = _integration_or_404(slug)
    return render(request, "connections/integration.html", {"integration": integration})


@admin_required
def connect(request, slug):
    integration = _integration_or_404(slug)
    form = integration.form_class(request.POST or None)
    outcome = None
    if request.method == "POST" and form.is_valid():
        connection, outcome = services.create_connection(integration, form.cleaned_data, request.user)
        if connection is not None:
            messages.success(request, outcome.message)
            return redirect("connections:detail", uuid=connection.uuid)
    return render(
        request,
        "connections/connect.html",
        {"integration": integration, "form": form, "outcome": outcome},
    )


@admin_required
def connection_detail(request, uuid):
    connection = _connection_or_404(uuid)
    return render(
        request,
        "connections/detail.html",
        {"connection": connection, "integration": integrations.get(connection.integration)},
    )


@admin_required
def connection_edit(request, uuid):
    connection = _connection_or_404(uuid)
    integration = integrations.get(connection.integration)
    form = integration.form_class(request.POST or None, instance=connection)
    outcome = None
    if request.method == "POST" and form.is_valid():
        # A stored secret never follows a changed address: the blank secret fields are refused.
        for field in services.secrets_to_reenter(connection, form.cleaned_data):
            form.add_error(field, services.reenter_message(form.fields[field].label))
    if request.method == "POST" and form.is_valid():
        outcome = services.update_connection(connection, form.cleaned_data)
        if outcome.ok:
            messages.success(request, outcome.message)
            return redirect("connections:detail", uuid=connection.uuid)
    return render(
        request,
        "connections/edit.html",
        {"connection": connection, "integration": integration, "form": form, "outcome": outcome},
    )


@admin_required
@require_POST
def connection_test(request, uuid):
    connection = _connection_or_404(uuid)
    outcome = services.test_connection(connection)
    if request.htmx:
        return render(request, "connections/detail.html#status", {"connection": connection, "outcome": outcome})
    (messages.success if outcome.ok else messages.error)(request, outcome.message)
    return redirect("connections:detail", uuid=connection.uuid)


@admin_required
def connection_delete(request, uuid):
    connection = _connection_or_404(uuid)
    if request.method == "POST":
        name = connection.name
        services.delete_connection(connection)
        messages.success(request, f"Connection “{name}” deleted.")
        return redirect("connections:list")
    return render(request, "connections/delete.html", {"connection": connection})
