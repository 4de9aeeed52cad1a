"""Scorecards: list, create, edit, delete, a browser preview of the email, and Send now.

Every member sees every scorecard and its preview; its owner (or an admin) changes, deletes
or sends it.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from accounts.roles import may_change, member_required
from config import security
from dashboards import scorecards
from dashboards.forms import ScorecardForm
from dashboards.models import Scorecard


def _card(uuid):
    return get_object_or_404(Scorecard.objects.select_related("owner__profile"), uuid=uuid)


def _managed_card(request, uuid):
    card = _card(uuid)
    if not may_change(request.user, card.owner_id):
        raise PermissionDenied("Only the scorecard's owner, or an admin, can change or send it.")
    return card


@member_required
def scorecard_list(request):
    now = timezone.now()
    cards = Scorecard.objects.select_related("owner__profile").annotate(
        metric_count=Count("metrics", distinct=True), recipient_count=Count("recipients", distinct=True)
    )
    rows = [
        {
            "card": card,
            "next_send": scorecards.next_send_time(card, now),
            "zone": scorecards.zone_of(card),
            "can_manage": may_change(request.user, card.owner_id),
        }
        for card in cards
    ]
    return render(request, "dashboards/scorecards/list.html", {"rows": rows, "max_metrics": Scorecard.MAX_METRICS})


def _save(request, form, card=None):
    created = card is None
    card = form.save(commit=False)
    if created:
        card.owner = request.user
    card.save()
    form.save_m2m()  # metrics in or out of the card: their uses follow (dashboards.receivers)
    verb = "created" if created else "saved"
    messages.success(request, f"Scorecard “{card.name}” {verb}. Preview it below.")
    return redirect("dashboards:scorecard_preview", uuid=card.uuid)


@member_required
def scorecard_create(request):
    if request.method == "POST":
        form = ScorecardForm(request.POST)
        if form.is_valid():
            return _save(request, form)
    else:
        form = ScorecardForm(initial={"recipients": [request.user.pk] if request.user.email else []})
    return render(request, "dashboards/scorecards/form.html", {"form": form, "card": None})


@member_required
def scorecard_edit(request, uuid):
    card = _managed_card(request, uuid)
    if request.method == "POST":
        form = ScorecardForm(request.POST, instance=card)
        if form.is_valid():
            return _save(request, form, card)
    else:
        form = ScorecardForm(instance=card)
    return render(request, "dashboards/scorecards/form.html", {"form": form, "card": card})


@member_required
def scorecard_delete(request, uuid):
    card = _managed_card(request, uuid)
    if request.method != "POST":
        return render(request, "dashboards/scorecards/delete.html", {"card": card})
    name = card.name
    card.delete()
    messages.success(request, f"Scorecard “{name}” deleted.")
    return redirect("dashboards:scorecards")


@member_required
def scorecard_preview(request, uuid):
    """The email as its recipients would get it if it went now, rendered in the page."""
    card = _card(uuid)
    rendered = scorecards.render(card, timezone.now())
    context = {
        "card": card,
        "rendered": rendered,
        "zone": scorecards.zone_of(card),
        "recipients": card.recipients.order_by("username"),
        "next_send": scorecards.next_send_time(card),
        "can_manage": may_change(request.user, card.owner_id),
    }
    return render(request, "dashboards/scorecards/preview.html", context)


@member_required
@xframe_options_sameorigin
def scorecard_email(request, uuid):
    """The email's HTML alone, for the preview's sandboxed frame: inline styles, and nothing that runs."""
    card = _card(uuid)
    response = HttpResponse(scorecards.render(card, timezone.now()).html)
    response.headers[security.HEADER] = security.EMAIL_FRAME_POLICY
    return response


@require_POST
@member_required
def scorecard_send(request, uuid):
    card = _managed_card(request, uuid)
    delivery = scorecards.send(card, timezone.now())
    sent, failed = delivery.sent, delivery.failed
    if failed:
        messages.error(
            request,
            f"“{card.name}” could not be emailed to {failed} recipient{'s' if failed != 1 else ''} "
            f"(sent to {sent}): the mail server refused or did not answer. Check the email settings, "
            "then send it again.",
        )
    elif sent:
        messages.success(request, f"“{card.name}” sent to {sent} recipient{'s' if sent != 1 else ''}.")
    else:
        messages.warning(request, f"“{card.name}” went to nobody: add recipients with an email address.")
    return redirect("dashboards:scorecard_preview", uuid=card.uuid)
