"""Alerts: each condition, one notification per episode, evaluation after a sync, and the alert pages."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from dashboards import alerts
from dashboards.models import Alert, AlertEvent
from dashboards.receivers import evaluate_alerts_after_sync
from notifications.models import Notification
from syncs import storage
from syncs.models import SyncRun, SyncState, Use
from syncs.signals import sync_finished
from tests.factories import MetricFactory, SyncRunFactory, UserFactory, point

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)  # a Sunday


@pytest.fixture
def metric(db, analyst_user):
    return MetricFactory(name="Deals won (amount)", owner=analyst_user, current=True)


@pytest.fixture
def other_analyst(db):
    return UserFactory(username="grace", role="analyst")


def make_alert(metric, user, condition="above", threshold=10_000, date_range="today"):
    return Alert.objects.create(
        metric=metric, condition=condition, threshold=threshold, date_range=date_range, created_by=user
    )


def set_zone(user, zone):
    user.profile.time_zone = zone
    user.profile.save()


# ---------------------------------------------------------------- episodes


def test_one_event_email_and_notification_per_episode(metric, analyst_user):
    alert = make_alert(metric, analyst_user)
    morning = point(metric, NOW - timedelta(hours=2), 12_500)

    first = alerts.evaluate(alert, NOW)
    assert first is not None
    assert first.message == "Deals won (amount) went above 10,000: 12,500 today"
    assert first.value == 12_500
    alert.refresh_from_db()
    assert alert.triggered and alert.last_value == 12_500 and alert.last_evaluated_at == NOW
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alan@example.com"]
    assert "went above 10,000" in mail.outbox[0].subject
    assert Notification.objects.filter(user=analyst_user).count() == 1

    # Still above over several syncs: nothing more.
    point(metric, NOW - timedelta(hours=1), 100)
    for minutes in (5, 10, 15):
        assert alerts.evaluate(alert, NOW + timedelta(minutes=minutes)) is None
    assert AlertEvent.objects.count() == 1 and len(mail.outbox) == 1

    # Falls back below: the episode ends quietly.
    morning.value = 3_000
    morning.save()
    assert alerts.evaluate(alert, NOW + timedelta(minutes=20)) is None
    alert.refresh_from_db()
    assert not alert.triggered and alert.last_value == 3_100
    assert AlertEvent.objects.count() == 1 and len(mail.outbox) == 1

    # Up again: a second episode, told once more.
    point(metric, NOW + timedelta(minutes=25), 9_000)
    assert alerts.evaluate(alert, NOW + timedelta(minutes=30)) is not None
    assert alerts.evaluate(alert, NOW + timedelta(minutes=35)) is None
    assert AlertEvent.objects.filter(alert=alert).count() == 2
    assert len(mail.outbox) == 2
    assert Notification.objects.filter(user=analyst_user).count() == 2
    note = Notification.objects.filter(user=analyst_user).first()
    assert note.text == "Deals won (amount) went above 10,000: 12,100 today"
    assert note.url == reverse("dashboards:alerts", args=[metric.uuid])


def test_the_email_has_a_text_and_an_html_body(metric, analyst_user):
    alert = make_alert(metric, analyst_user)
    point(metric, NOW - timedelta(hours=1), 12_500)
    alerts.evaluate(alert, NOW)
    message = mail.outbox[0]
    assert "Deals won (amount) went above 10,000: 12,500 today" in message.body
    assert "goes above 10,000 (Today)" in message.body
    html, kind = message.alternatives[0]
    assert kind == "text/html"
    assert "Deals won (amount) went above 10,000: 12,500 today" in html
    assert f"/dashboards/metrics/{metric.uuid}/alerts/" in html
    assert "<style" not in html  # email clients: inline styles only


def test_a_stale_copy_cannot_start_the_same_episode_twice(metric, analyst_user):
    alert = make_alert(metric, analyst_user)
    stale = Alert.objects.get(pk=alert.pk)  # a second sync's copy, loaded before the first flips it
    point(metric, NOW - timedelta(hours=1), 12_500)
    assert alerts.evaluate(alert, NOW) is not None
    assert alerts.evaluate(stale, NOW) is None
    assert AlertEvent.objects.count() == 1 and len(mail.outbox) == 1


def test_no_data_never_triggers_and_ends_an_episode(metric, analyst_user):
    below = make_alert(metric, analyst_user, condition="below", threshold=5)
    assert alerts.evaluate(below, NOW) is None  # no value is not "below 5"
    below.refresh_from_db()
    assert below.last_value is None and below.last_evaluated_at == NOW and not below.triggered


# ---------------------------------------------------------------- conditions


@pytest.mark.parametrize(
    ("condition", "threshold", "value", "fires"),
    [
        ("above", 100, 101, True),
        ("above", 100, 100, False),  # strictly above
        ("above", 100, 99, False),
        ("below", 100, 99, True),
        ("below", 100, 100, False),
        ("below", 100, 150, False),
    ],
)
def test_above_and_below(metric, analyst_user, condition, threshold, value, fires):
    alert = make_alert(metric, analyst_user, condition=condition, threshold=threshold)
    point(metric, NOW - timedelta(hours=1), value)
    event = alerts.evaluate(alert, NOW)
    assert (event is not None) is fires
    assert Alert.objects.get(pk=alert.pk).triggered is fires


def test_below_message(metric, analyst_user):
    metric.number_format = "currency"
    metric.save()
    alert = make_alert(metric, analyst_user, condition="below", threshold=500, date_range="last_7_days")
    point(metric, NOW - timedelta(days=2), 120.5)
    event = alerts.evaluate(alert, NOW)
    assert event.message == "Deals won (amount) went below $500.00: $120.50 last 7 days"


def test_the_message_shows_the_metrics_currency(metric, analyst_user):
    metric.number_format, metric.currency = "currency", "JPY"
    metric.save()
    alert = make_alert(metric, analyst_user, condition="below", threshold=500, date_range="last_7_days")
    point(metric, NOW - timedelta(days=2), 120.5)
    event = alerts.evaluate(alert, NOW)
    assert event.message == "Deals won (amount) went below ¥500: ¥121 last 7 days"


@pytest.mark.parametrize(
    ("previous", "current", "fires", "verb"),
    [
        (100, 130, True, "rose by 30.0%"),
        (100, 70, True, "fell by 30.0%"),  # either direction
        (100, 125, True, "rose by 25.0%"),  # at the threshold
        (100, 120, False, None),
        (-100, -70, True, "rose by 30.0%"),  # from a negative base, up is up
    ],
)
def test_change_by_percent_against_the_previous_period(metric, analyst_user, previous, current, fires, verb):
    alert = make_alert(metric, analyst_user, condition="change", threshold=25, date_range="yesterday")
    point(metric, datetime(2026, 3, 13, 10, tzinfo=UTC), previous)  # the day before yesterday
    point(metric, datetime(2026, 3, 14, 10, tzinfo=UTC), current)  # yesterday
    event = alerts.evaluate(alert, NOW)
    assert (event is not None) is fires
    if fires:
        assert event.message.startswith(f"Deals won (amount) {verb} (more than 25%): ")
        assert event.message.endswith(f"{current:,} yesterday, against {previous:,} the period before")


@pytest.mark.parametrize("previous", [0, None])
def test_change_from_zero_or_nothing_does_not_crash_or_alert(metric, analyst_user, previous):
    alert = make_alert(metric, analyst_user, condition="change", threshold=10, date_range="yesterday")
    if previous is not None:
        point(metric, datetime(2026, 3, 13, 10, tzinfo=UTC), previous)
    point(metric, datetime(2026, 3, 14, 10, tzinfo=UTC), 500)
    assert alerts.evaluate(alert, NOW) is None
    alert.refresh_from_db()
    assert alert.last_value == 500 and not alert.triggered
    assert not mail.outbox and not Notification.objects.exists()


def test_change_with_nothing_now_does_not_alert(metric, analyst_user):
    alert = make_alert(metric, analyst_user, condition="change", threshold=10, date_range="yesterday")
    point(metric, datetime(2026, 3, 13, 10, tzinfo=UTC), 500)
    assert alerts.evaluate(alert, NOW) is None


def test_the_range_is_read_in_the_creators_time_zone(metric, analyst_user):
    # 14 March 19:00 UTC is 15 March 00:30 in Kolkata: "today" there, yesterday in UTC.
    point(metric, datetime(2026, 3, 14, 19, tzinfo=UTC), 20_000)
    utc_alert = make_alert(metric, analyst_user)
    assert alerts.evaluate(utc_alert, NOW) is None
    set_zone(analyst_user, "Asia/Kolkata")
    kolkata_alert = Alert.objects.select_related("created_by__profile").get(pk=make_alert(metric, analyst_user).pk)
    assert alerts.evaluate(kolkata_alert, NOW) is not None


def test_an_alert_whose_creator_left_tells_the_metric_owner(metric, analyst_user, admin_user):
    alert = make_alert(metric, admin_user)
    admin_user.delete()
    alert.refresh_from_db()
    point(metric, NOW - timedelta(hours=1), 12_500)
    assert alerts.evaluate(alert, NOW) is not None
    assert mail.outbox[0].to == ["alan@example.com"]
    assert Notification.objects.get().user == analyst_user


def test_a_recipient_without_email_gets_the_in_app_notification(metric, analyst_user):
    analyst_user.email = ""
    analyst_user.save()
    alert = make_alert(metric, analyst_user)
    point(metric, NOW - timedelta(hours=1), 12_500)
    assert alerts.evaluate(alert, NOW) is not None
    assert not mail.outbox
    assert Notification.objects.filter(user=analyst_user).count() == 1


# ---------------------------------------------------------------- after a sync


def _run(metric):
    return SyncRunFactory(metric=metric, status=SyncRun.Status.SUCCEEDED, started_at=NOW, finished_at=NOW)


@time_machine.travel(NOW, tick=False)
def test_alerts_are_evaluated_when_a_sync_finishes(metric, analyst_user):
    above = make_alert(metric, analyst_user)
    below = make_alert(metric, analyst_user, condition="below", threshold=1)
    other = MetricFactory(name="Other", current=True)
    elsewhere = make_alert(other, analyst_user, threshold=0)
    point(other, NOW - timedelta(hours=1), 5)
    point(metric, NOW - timedelta(hours=1), 12_500)

    sync_finished.send(sender=SyncRun, runs=[_run(metric)])

    assert AlertEvent.objects.filter(alert=above).count() == 1
    assert not AlertEvent.objects.filter(alert__in=[below, elsewhere]).exists()
    assert Alert.objects.get(pk=below.pk).last_evaluated_at == NOW
    assert Alert.objects.get(pk=elsewhere.pk).last_evaluated_at is None  # not its metric's sync
    assert len(mail.outbox) == 1

    # The next sync sees the same value: still one episode.
    evaluate_alerts_after_sync(sender=SyncRun, runs=[_run(metric)])
    assert AlertEvent.objects.count() == 1 and len(mail.outbox) == 1


@time_machine.travel(NOW, tick=False)
def test_a_real_store_evaluates_alerts_once_its_data_are_committed(
    metric, analyst_user, django_capture_on_commit_callbacks
):
    alert = make_alert(metric, analyst_user)
    run = SyncRunFactory(metric=metric, started_at=NOW)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        storage.store(metric, [(None, 12_500.0, "")], window=None, stamp=NOW - timedelta(seconds=1), run=run)
        assert not AlertEvent.objects.exists()  # not before the commit
    for callback in callbacks:
        callback()
    assert AlertEvent.objects.get(alert=alert).value == 12_500
    assert len(mail.outbox) == 1


@time_machine.travel(NOW, tick=False)
def test_one_broken_alert_does_not_stop_the_others(metric, analyst_user, monkeypatch):
    broken = make_alert(metric, analyst_user, threshold=1)
    fine = make_alert(metric, analyst_user, threshold=2)
    point(metric, NOW - timedelta(hours=1), 12_500)
    real = alerts.read

    def read(alert, now=None):
        if alert.pk == broken.pk:
            raise RuntimeError("boom")
        return real(alert, now)

    monkeypatch.setattr(alerts, "read", read)
    events = alerts.evaluate_for_metrics([metric])
    assert [event.alert_id for event in events] == [fine.pk]


# ---------------------------------------------------------------- in use


def test_an_alert_puts_its_metric_in_use_and_deleting_it_frees_it(metric, analyst_user):
    alert = make_alert(metric, analyst_user)
    assert Use.objects.filter(metric=metric, kind="alert", ref=str(alert.pk)).exists()
    assert SyncState.objects.get(metric=metric).in_use
    alert.delete()
    assert not Use.objects.filter(metric=metric).exists()
    assert not SyncState.objects.get(metric=metric).in_use


# ---------------------------------------------------------------- pages


def test_outsiders_get_403(client, outsider_user, metric, analyst_user):
    alert = make_alert(metric, analyst_user)
    client.force_login(outsider_user)
    assert client.get(reverse("dashboards:alerts", args=[metric.uuid])).status_code == 403
    post = client.post(reverse("dashboards:alerts", args=[metric.uuid]), {"condition": "above", "threshold": "1"})
    assert post.status_code == 403
    assert client.post(reverse("dashboards:alert_delete", args=[metric.uuid, alert.pk])).status_code == 403
    assert Alert.objects.count() == 1


def test_anonymous_visitors_go_to_the_login_page(client, metric):
    response = client.get(reverse("dashboards:alerts", args=[metric.uuid]))
    assert response.status_code == 302 and "login" in response["Location"]


def test_empty_page_invites_an_alert(analyst_client, metric):
    page = analyst_client.get(reverse("dashboards:alerts", args=[metric.uuid])).content.decode()
    assert "No alerts on this metric yet" in page
    assert "Add alert" in page


@time_machine.travel(NOW, tick=False)
def test_create_an_alert_shows_its_status_and_history(analyst_client, metric, analyst_user):
    point(metric, NOW - timedelta(hours=1), 12_500)
    url = reverse("dashboards:alerts", args=[metric.uuid])
    response = analyst_client.post(url, {"condition": "above", "threshold": "10000", "date_range": "today"})
    assert response.status_code == 302 and response["Location"] == url
    alert = Alert.objects.get()
    assert (alert.created_by, alert.condition, alert.threshold) == (analyst_user, "above", 10_000)
    assert alert.triggered  # evaluated at once
    assert Use.objects.filter(metric=metric, kind="alert", ref=str(alert.pk)).exists()

    page = analyst_client.get(url).content.decode()
    assert "goes above 10,000 (Today)" in page
    assert "Triggered" in page
    assert "Last value 12,500" in page
    assert "Deals won (amount) went above 10,000: 12,500 today" in page  # history


def test_quiet_alert_is_shown_as_quiet(analyst_client, metric, analyst_user):
    make_alert(metric, analyst_user, condition="below", threshold=3)
    page = analyst_client.get(reverse("dashboards:alerts", args=[metric.uuid])).content.decode()
    assert "Quiet" in page and "not checked yet" in page and "It has not gone off yet." in page


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"condition": "above", "threshold": "", "date_range": "today"}, "This field is required."),
        ({"condition": "above", "threshold": "lots", "date_range": "today"}, "Enter a number."),
        ({"condition": "change", "threshold": "0", "date_range": "today"}, "A change alert needs a percentage above 0"),
        ({"condition": "sideways", "threshold": "1", "date_range": "today"}, "Select a valid choice."),
        ({"condition": "above", "threshold": "1", "date_range": "custom"}, "Select a valid choice."),
    ],
)
def test_form_errors_are_clear_and_nothing_is_saved(analyst_client, metric, data, error):
    response = analyst_client.post(reverse("dashboards:alerts", args=[metric.uuid]), data)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Alert.objects.exists()


def test_htmx_create_returns_the_panel(analyst_client, metric):
    url = reverse("dashboards:alerts", args=[metric.uuid])
    data = {"condition": "below", "threshold": "5", "date_range": "last_30_days"}
    response = analyst_client.post(url, data, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="alerts-panel"') and "<html" not in body
    assert "goes below 5 (Last 30 days)" in body
    assert "Alert added" in body


def test_delete_asks_first_then_deletes(analyst_client, metric, analyst_user):
    alert = make_alert(metric, analyst_user)
    url = reverse("dashboards:alert_delete", args=[metric.uuid, alert.pk])
    confirm = analyst_client.get(url)
    assert confirm.status_code == 200 and "Delete this alert?" in confirm.content.decode()
    assert Alert.objects.exists()
    response = analyst_client.post(url)
    assert response.status_code == 302 and response["Location"] == reverse("dashboards:alerts", args=[metric.uuid])
    assert not Alert.objects.exists()
    assert not Use.objects.filter(metric=metric, kind="alert").exists()


def test_htmx_delete_returns_the_panel(analyst_client, metric, analyst_user):
    alert = make_alert(metric, analyst_user)
    url = reverse("dashboards:alert_delete", args=[metric.uuid, alert.pk])
    response = analyst_client.post(url, headers={"HX-Request": "true"})
    assert "No alerts on this metric yet" in response.content.decode()
    assert not Alert.objects.exists()


def test_only_the_creator_or_an_admin_deletes(client, metric, analyst_user, admin_user, other_analyst):
    alert = make_alert(metric, analyst_user)
    client.force_login(other_analyst)
    url = reverse("dashboards:alert_delete", args=[metric.uuid, alert.pk])
    assert client.post(url).status_code == 403
    page = client.get(reverse("dashboards:alerts", args=[metric.uuid])).content.decode()
    assert url not in page  # no Delete button for someone else's alert
    client.force_login(admin_user)
    assert client.post(url).status_code == 302
    assert not Alert.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_edit_changes_the_rule_and_starts_afresh(analyst_client, metric, analyst_user):
    alert = make_alert(metric, analyst_user, threshold=20_000)
    point(metric, NOW - timedelta(hours=1), 12_500)
    alerts.evaluate(alert, NOW)
    AlertEvent.objects.create(alert=alert, value=1, message="an older episode")
    url = reverse("dashboards:alert_edit", args=[metric.uuid, alert.pk])
    page = analyst_client.get(url).content.decode()
    assert 'value="20000.0"' in page or 'value="20000"' in page, "the form shows the current rule"

    response = analyst_client.post(url, {"condition": "above", "threshold": "10000", "date_range": "today"})

    assert response.status_code == 302 and response["Location"] == reverse("dashboards:alerts", args=[metric.uuid])
    alert.refresh_from_db()
    assert alert.threshold == 10_000 and alert.triggered, "evaluated at once under the new rule"
    assert len(mail.outbox) == 1 and "went above 10,000" in mail.outbox[0].subject
    assert AlertEvent.objects.filter(alert=alert).count() == 2, "the history stays"
    panel = analyst_client.get(reverse("dashboards:alerts", args=[metric.uuid])).content.decode()
    assert "Alert changed" in panel and url in panel


def test_edit_with_a_bad_threshold_says_why_and_keeps_the_rule(analyst_client, metric, analyst_user):
    alert = make_alert(metric, analyst_user)
    url = reverse("dashboards:alert_edit", args=[metric.uuid, alert.pk])
    response = analyst_client.post(url, {"condition": "change", "threshold": "-5", "date_range": "today"})
    assert response.status_code == 400
    assert "A change alert needs a percentage above 0" in response.content.decode()
    alert.refresh_from_db()
    assert (alert.condition, alert.threshold) == ("above", 10_000)


def test_only_the_creator_or_an_admin_edits(client, metric, analyst_user, admin_user, other_analyst):
    alert = make_alert(metric, analyst_user)
    client.force_login(other_analyst)
    url = reverse("dashboards:alert_edit", args=[metric.uuid, alert.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"condition": "below", "threshold": "1", "date_range": "today"}).status_code == 403
    assert url not in client.get(reverse("dashboards:alerts", args=[metric.uuid])).content.decode()
    client.force_login(admin_user)
    client.post(url, {"condition": "below", "threshold": "1", "date_range": "today"})
    alert.refresh_from_db()
    assert (alert.condition, alert.threshold) == ("below", 1)


def test_an_alert_of_another_metric_is_404(analyst_client, metric, analyst_user):
    other = MetricFactory(name="Other", current=True)
    alert = make_alert(other, analyst_user)
    response = analyst_client.post(reverse("dashboards:alert_delete", args=[metric.uuid, alert.pk]))
    assert response.status_code == 404
    assert Alert.objects.exists()
