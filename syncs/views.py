"""The metric's sync panel (status, in use, Sync now, backfill progress, run records).

The metric page includes the panel with ``hx-get`` (and a plain link to the full page). A
plain POST redirects back to the panel; an htmx POST re-renders the fragment. Progress
fragments poll while work runs and stop polling with HTTP 286; each poll also swaps the panel's
facts ("Last synced"), actions and run records out of band, so they follow the work without a
reload, and the last one says ``metric-synced`` (``HX-Trigger``) for the rest of the page.
"""

from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.roles import member_required
from builder.models import Metric
from syncs import services, tasks, uses
from syncs.models import SyncRun, SyncState, Use
from syncs.signals import describe_uses

RUNS_SHOWN = 20
STOP_POLLING = 286  # htmx stops polling on this status
FINISHED_EVENT = "metric-synced"  # sent with the last poll's answer: the metric's card may reload


def _metric_or_404(uuid):
    return get_object_or_404(Metric.objects.select_related("connection", "owner"), uuid=uuid)


def _panel_context(metric, token=""):
    if metric.is_calculated:
        return _calculated_context(metric)
    sync_state = services.sync_state_for(metric)
    runs = list(SyncRun.objects.filter(metric=metric).order_by("-started_at", "-pk")[:RUNS_SHOWN])
    return {
        "metric": metric,
        "sync_state": sync_state,
        "runs": runs,
        "on_screen": Use.objects.filter(metric=metric, kind=Use.Kind.SCREEN, ref="").exists(),
        "uses": _labelled(list(Use.objects.filter(metric=metric).order_by("kind", "ref"))),
        "token": token,
        "progress_run": _run_for_token(metric, token) if token else None,
    }


def _calculated_context(metric):
    """A calculated metric is never synced: the panel shows where it is used and its inputs' syncs."""
    pairs = metric.input_pairs()
    states = {s.metric_id: s for s in SyncState.objects.filter(metric_id__in=[source.pk for _, source in pairs])}
    return {
        "metric": metric,
        "sync_state": SyncState(metric=metric),  # unsaved: nothing runs for it
        "runs": [],
        "on_screen": Use.objects.filter(metric=metric, kind=Use.Kind.SCREEN, ref="").exists(),
        "uses": _labelled(list(Use.objects.filter(metric=metric).order_by("kind", "ref"))),
        "inputs": [
            {"name": name, "source": source, "sync_state": states.get(source.pk) or SyncState(metric=source)}
            for name, source in pairs
        ],
        "token": "",
        "progress_run": None,
    }


def _labelled(uses):
    """Each use with ``label`` and ``url``: the apps that own the places say what they are called."""
    known = {}
    for _receiver, answer in describe_uses.send(sender=Use, uses=uses):
        known.update(answer or {})
    for use in uses:
        use.label, use.url = known.get((use.kind, use.ref), (use.get_kind_display(), ""))
    return uses


def _run_for_token(metric, token):
    return SyncRun.objects.filter(metric=metric, token=token).order_by("-attempt", "-pk").first()


def _panel(request, metric, token="", status=200):
    context = _panel_context(metric, token)
    template = "syncs/panel.html#panel" if request.htmx else "syncs/panel.html"
    return render(request, template, context, status=status)


@require_GET
@member_required
def panel(request, uuid):
    return _panel(request, _metric_or_404(uuid), request.GET.get("token", ""))


@require_POST
@member_required
def screen_use(request, uuid):
    """Add to the Metrics screen, or remove from it (``action=remove``)."""
    metric = _metric_or_404(uuid)
    if request.POST.get("action") == "remove":
        uses.remove_use(metric, Use.Kind.SCREEN)
    else:
        uses.add_use(metric, Use.Kind.SCREEN)
    return _answer_post(request, metric)


@require_POST
@member_required
def sync_now(request, uuid):
    metric = _metric_or_404(uuid)
    if metric.is_calculated:  # never synced itself: its inputs are
        return _answer_post(request, metric)
    return _answer_post(request, metric, tasks.sync_now(metric))


@require_POST
@member_required
def resume(request, uuid):
    metric = _metric_or_404(uuid)
    if not metric.is_calculated:
        services.resume(metric)
    return _answer_post(request, metric)


@require_POST
@member_required
def pause(request, uuid):
    metric = _metric_or_404(uuid)
    if metric.is_calculated:
        return _answer_post(request, metric)
    services.sync_state_for(metric)
    services.pause(metric, f"{request.user.get_username()} paused it.", services.PausedBy.USER)
    return _answer_post(request, metric)


@require_GET
@member_required
def progress(request, uuid, token):
    """The Sync now progress: polls until the run under ``token`` finished, then stops with 286."""
    metric = _metric_or_404(uuid)
    context = _panel_context(metric, token)
    run = context["progress_run"]
    done = run is not None and run.status != SyncRun.Status.RUNNING and run.retry_at is None
    context.update(run=run, done=done)
    return _poll_answer(request, "syncs/panel.html#progress_live", context, done)


@require_GET
@member_required
def backfill(request, uuid):
    """The backfill progress bar: polls while the backfill runs, then stops with 286."""
    metric = _metric_or_404(uuid)
    context = _panel_context(metric)
    sync_state = context["sync_state"]
    done = not (sync_state.in_use and sync_state.backfill_running and not sync_state.is_paused)
    return _poll_answer(request, "syncs/panel.html#backfill_live", context, done)


def _poll_answer(request, template, context, done):
    """A progress poll's answer: 200 while the work runs; 286 (stop polling) and ``metric-synced`` when done."""
    response = render(request, template, context, status=STOP_POLLING if done else 200)
    if done:
        response["HX-Trigger"] = FINISHED_EVENT
    return response


def _answer_post(request, metric, token=""):
    """An htmx POST re-renders the panel; a plain one redirects to it (with the Sync now token to follow)."""
    if request.htmx:
        return _panel(request, metric, token)
    url = reverse("syncs:panel", args=[metric.uuid])
    return redirect(f"{url}?token={token}" if token else url)
