"""The sync panel (htmx and plain), Sync now with progress, notifications, and `manage.py sync_metric`."""

import json
from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from builder import timeframes
from conftest import wait_for
from notifications.models import Notification
from syncs import services
from syncs.models import Datapoint, SyncRun, SyncState
from tests.factories import SyncRunFactory
from tests.syncs.conftest import expected_leads, leads_metric

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.mark.django_db
def test_panel_needs_a_member(client, outsider_user, vtiger):
    metric = leads_metric(vtiger)
    url = reverse("syncs:panel", args=[metric.uuid])
    assert client.get(url).status_code == 302
    client.force_login(outsider_user)
    assert client.get(url).status_code == 403


@pytest.mark.django_db
def test_add_and_remove_from_the_metrics_screen(analyst_client, vtiger):
    metric = leads_metric(vtiger)
    url = reverse("syncs:screen_use", args=[metric.uuid])
    response = analyst_client.post(url, **HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Remove from Metrics screen" in body and "<html" not in body, "the fragment only"
    assert "0 of 3 windows" in body, "the backfill progress bar"
    assert SyncState.objects.get(metric=metric).in_use
    response = analyst_client.post(url, {"action": "remove"})
    assert response.status_code == 302, "a plain POST redirects"
    assert not SyncState.objects.get(metric=metric).in_use
    page = analyst_client.get(reverse("syncs:panel", args=[metric.uuid])).content.decode()
    assert "Add to Metrics screen" in page and "Not in use" in page and "<html" in page


@pytest.mark.django_db
def test_panel_shows_run_records_paused_reason_and_cap_warning(analyst_client, vtiger):
    metric = leads_metric(vtiger, used_on="screen")
    services.pause(metric, "its last 3 syncs failed. The last error: boom.")
    SyncRunFactory(
        metric=metric,
        finished_at=timezone.now(),
        status="partial",
        pages=100,
        requests=100,
        datapoints_written=5000,
        cap_hit=True,
        warning="Stopped at the 100-page limit while more pages remained",
    )
    body = analyst_client.get(reverse("syncs:panel", args=[metric.uuid])).content.decode()
    assert "Paused because its last 3 syncs failed" in body
    assert "Resume syncs" in body
    assert "Stopped at the 100-page limit" in body and "5000" in body


@pytest.mark.django_db
def test_backfill_fragment_stops_polling_when_done(analyst_client, vtiger):
    metric = leads_metric(vtiger, used_on="screen")
    url = reverse("syncs:backfill", args=[metric.uuid])
    response = analyst_client.get(url, **HTMX)
    assert response.status_code == 200 and 'hx-trigger="every 2s"' in response.content.decode()
    SyncState.objects.filter(metric=metric).update(backfill_done_windows=3)
    response = analyst_client.get(url, **HTMX)
    assert response.status_code == 286 and "hx-trigger" not in response.content.decode()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_sync_now_shows_progress_until_done(analyst_client, workers, sandbox, vtiger):
    workers.start()
    metric = leads_metric(vtiger)
    response = analyst_client.post(reverse("syncs:sync_now", args=[metric.uuid]), **HTMX)
    body = response.content.decode()
    assert "Sync now: waiting for a worker" in body and "/progress/" in body
    token = body.split("/progress/")[1].split("/")[0]
    progress = reverse("syncs:progress", args=[metric.uuid, token])
    final = wait_for(lambda: (r := analyst_client.get(progress, **HTMX)).status_code == 286 and r, timeout=30)
    assert "succeeded" in final.content.decode()
    assert Datapoint.objects.filter(metric=metric).count() > 0


@pytest.mark.django_db
def test_a_plain_sync_now_redirects_to_its_panel_and_token(analyst_client, vtiger, django_capture_on_commit_callbacks):
    metric = leads_metric(vtiger)
    with django_capture_on_commit_callbacks() as queued:
        response = analyst_client.post(reverse("syncs:sync_now", args=[metric.uuid]))
    assert response.status_code == 302
    panel, token = response.url.split("?token=")
    assert panel == reverse("syncs:panel", args=[metric.uuid]) and token.startswith("now-")
    assert len(queued) == 1, "the sync is queued after commit"


@pytest.mark.django_db
def test_notifications_list_and_mark_read(analyst_client, analyst_user):
    Notification.objects.create(user=analyst_user, text="Syncs of the metric “X” are paused")
    body = analyst_client.get(reverse("notifications:list")).content.decode()
    assert "are paused" in body and 'class="unread"' in body
    analyst_client.post(reverse("notifications:read"))
    assert not Notification.objects.filter(read=False).exists()


@pytest.mark.django_db
def test_sync_metric_command_prints_the_run_record(sandbox, vtiger):
    metric = leads_metric(vtiger)
    out = StringIO()
    call_command("sync_metric", metric.name, stdout=out)
    text = out.getvalue()
    assert "sync of 'New leads': succeeded" in text and "datapoints written" in text

    out = StringIO()
    call_command("sync_metric", str(metric.pk), "--from", "2025-01-01", "--to", "2025-01-31", "--json", stdout=out)
    record = json.loads(out.getvalue())
    assert record["status"] == "succeeded"
    # 1 to 31 January, whole in every zone: from 1 January at UTC+14 to 31 January at UTC-12.
    assert record["window_start"].startswith("2024-12-31T10:00:00")
    window = timeframes.Window(
        start=timeframes.start_of_day(date(2025, 1, 1), "UTC") - timedelta(hours=14),
        end=timeframes.start_of_day(date(2025, 2, 1), "UTC") + timedelta(hours=12) - timeframes.RESOLUTION,
        tz="UTC",
    )
    assert record["datapoints_written"] == len(expected_leads(sandbox, window))


@pytest.mark.django_db
def test_sync_metric_command_bad_arguments(vtiger):
    metric = leads_metric(vtiger)
    with pytest.raises(CommandError, match="No metric is named"):
        call_command("sync_metric", "Nope")
    with pytest.raises(CommandError, match="not a date"):
        call_command("sync_metric", metric.name, "--from", "01/02/2025")
    with pytest.raises(CommandError, match="before --from"):
        call_command("sync_metric", metric.name, "--from", "2025-02-01", "--to", "2025-01-01")
    assert not SyncRun.objects.exists(), "nothing half-written"


@pytest.mark.django_db
def test_sync_metric_command_failure_exits_non_zero(sandbox, vtiger):
    metric = leads_metric(vtiger)
    sandbox.configure(error_rate=1)
    out = StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("sync_metric", metric.name, stdout=out)
    assert exit_.value.code == 1
    assert "Error: The server answered HTTP 503" in out.getvalue()


@pytest.mark.django_db
def test_sync_now_progress_polls_while_its_run_will_be_retried(analyst_client, vtiger):
    """Whether a failed run will be tried again is read from ``retry_at``, not from its words."""
    metric = leads_metric(vtiger)
    finished = timezone.now()
    SyncRunFactory(
        metric=metric, token="now-a", status="failed", finished_at=finished, retry_at=finished + timedelta(seconds=4)
    )
    said = "Trying again, said once."
    SyncRunFactory(metric=metric, token="now-b", status="failed", finished_at=finished, error=said)

    waiting = analyst_client.get(reverse("syncs:progress", args=[metric.uuid, "now-a"]), **HTMX)
    assert waiting.status_code == 200 and 'hx-trigger="every 1s"' in waiting.content.decode()
    final = analyst_client.get(reverse("syncs:progress", args=[metric.uuid, "now-b"]), **HTMX)
    assert final.status_code == 286 and "hx-trigger" not in final.content.decode()
    assert "Sync now: failed" in final.content.decode()


@pytest.mark.django_db
def test_each_progress_poll_swaps_last_synced_and_the_run_records_and_the_last_one_says_so(analyst_client, vtiger):
    """The panel follows a Sync now without a reload: every poll carries the facts, actions and run
    records out of band; the last one stops polling and sends ``metric-synced`` for the rest of the page."""
    metric = leads_metric(vtiger, used_on="screen")
    progress = reverse("syncs:progress", args=[metric.uuid, "now-c"])
    SyncRunFactory(metric=metric, token="now-c", status="running", pages=2)

    running = analyst_client.get(progress, **HTMX)
    body = running.content.decode()
    assert running.status_code == 200 and "HX-Trigger" not in running
    assert 'id="sync-facts" hx-swap-oob="true"' in body and 'id="sync-runs" hx-swap-oob="true"' in body
    assert 'id="sync-actions" hx-swap-oob="true"' in body and "Never" in body

    synced_at = timezone.now().replace(microsecond=0)
    SyncRun.objects.filter(token="now-c").update(status="succeeded", finished_at=synced_at, datapoints_written=7)
    SyncState.objects.filter(metric=metric).update(last_synced_at=synced_at)
    done = analyst_client.get(progress, **HTMX)
    body = done.content.decode()
    assert done.status_code == 286 and done["HX-Trigger"] == "metric-synced"
    assert timezone.localtime(synced_at).strftime("%Y-%m-%d %H:%M:%S") in body and "Never" not in body
    assert "Sync now: succeeded, 7 datapoints written" in body


@pytest.mark.django_db
def test_each_backfill_poll_swaps_the_run_records_and_the_last_one_says_so(analyst_client, vtiger):
    metric = leads_metric(vtiger, used_on="screen")
    url = reverse("syncs:backfill", args=[metric.uuid])
    SyncRunFactory(metric=metric, kind="backfill", status="succeeded", finished_at=timezone.now(), pages=4)

    running = analyst_client.get(url, **HTMX)
    body = running.content.decode()
    assert running.status_code == 200 and "HX-Trigger" not in running
    assert 'id="sync-runs" hx-swap-oob="true"' in body and "Backfill" in body

    SyncState.objects.filter(metric=metric).update(backfill_done_windows=3)
    done = analyst_client.get(url, **HTMX)
    assert done.status_code == 286 and done["HX-Trigger"] == "metric-synced"
    assert 'id="sync-facts" hx-swap-oob="true"' in done.content.decode()
