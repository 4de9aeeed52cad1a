"""The person's notifications, newest first, and "Mark all read"."""

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.roles import member_required
from notifications.models import latest, mark_all_read

SHOWN = 100


@require_GET
@member_required
def notification_list(request):
    return render(request, "notifications/list.html", {"notifications": latest(request.user, SHOWN)})


@require_POST
@member_required
def mark_read(request):
    mark_all_read(request.user)
    if request.htmx:
        return HttpResponse(status=204)
    return redirect("notifications:list")
