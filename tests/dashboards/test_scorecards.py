"""Scorecards: contents, when each frequency is due across zones, the emails, and the pages."""

import html
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from dashboards import scorecards
from dashboards.models import Scorecard
from dashboards.tasks import send_scorecards
from syncs.models import SyncState, Use
from tests.factories import MetricFactory, UserFactory, datapoints

MONDAY = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)  # last week: 9-15 March; the week before: 2-8 March
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


def make_metric(name, trend="up", aggregation="sum", number_format="number"):
    return MetricFactory(
        name=name, aggregation=aggregation, number_format=number_format, favourable_trend=trend, current=True
    )


def points(metric, *pairs):
    datapoints(metric, pairs)


def at(day, hour=12, month=3):
    return datetime(2026, month, day, hour, tzinfo=UTC)


def make_card(owner, frequency="weekly", hour=8, metrics=(), recipients=None, name="Sales weekly", created=LONG_AGO):
    card = Scorecard.objects.create(name=name, frequency=frequency, hour=hour, owner=owner)
    Scorecard.objects.filter(pk=card.pk).update(created_at=created)
    card.refresh_from_db()
    card.metrics.set(metrics)
    card.recipients.set([owner] if recipients is None else recipients)
    return card


def set_zone(user, zone):
    user.profile.time_zone = zone
    user.profile.save()


@pytest.fixture
def four_metrics(db):
    """Up-is-good rising, down-is-good rising, down-is-good falling, and one without data."""
    revenue = make_metric("Revenue", trend="up", number_format="currency")
    churn = make_metric("Churned accounts", trend="down")
    tickets = make_metric("Open tickets", trend="down", aggregation="latest")
    empty = make_metric("Refunds", trend="down")
    points(revenue, (at(3), 100), (at(7), 50.5), (at(10), 200), (at(15, 23), 101))  # 150.5 -> 301
    points(churn, (at(4), 4), (at(12), 6))  # 4 -> 6
    points(tickets, (at(2), 30), (at(8), 40), (at(9), 35), (at(14), 10))  # latest: 40 -> 10
    return revenue, churn, tickets, empty


# ---------------------------------------------------------------- contents


def test_build_values_changes_and_colours_for_both_trends(analyst_user, four_metrics):
    card = make_card(analyst_user, metrics=four_metrics)
    digest = scorecards.build(card, MONDAY)
    assert (digest.range.first_day.isoformat(), digest.range.last_day.isoformat()) == ("2026-03-09", "2026-03-15")
    assert digest.previous.first_day.isoformat() == "2026-03-02"
    rows = {row.name: row for row in digest.rows}
    assert [row.name for row in digest.rows] == ["Churned accounts", "Open tickets", "Refunds", "Revenue"]

    revenue = rows["Revenue"]
    assert (revenue.value, revenue.comparison.previous) == (301, 150.5)
    assert revenue.comparison.percent == pytest.approx(100)
    assert (revenue.colour, revenue.value_text, revenue.change_text) == ("green", "$301.00", "+$150.50")
    assert revenue.percent_text == "+100.0%"

    churn = rows["Churned accounts"]
    assert (churn.value, churn.comparison.percent, churn.colour) == (6, 50, "red")  # up, but down is good

    tickets = rows["Open tickets"]
    assert (tickets.value, tickets.comparison.previous, tickets.colour) == (10, 40, "green")
    assert tickets.percent_text == "-75.0%"

    refunds = rows["Refunds"]
    assert (refunds.value, refunds.colour, refunds.value_text, refunds.percent_text) == (None, "grey", "—", "—")


def test_daily_reports_on_yesterday_in_the_owners_zone(analyst_user):
    metric = make_metric("Signups")
    # 15 March 23:30 UTC is 16 March 05:00 in Kolkata; 14 March 20:00 UTC is 15 March 01:30 there.
    points(metric, (datetime(2026, 3, 15, 23, 30, tzinfo=UTC), 7), (datetime(2026, 3, 14, 20, tzinfo=UTC), 5))
    set_zone(analyst_user, "Asia/Kolkata")
    card = make_card(analyst_user, frequency="daily", metrics=[metric])
    now = datetime(2026, 3, 16, 3, tzinfo=UTC)  # 08:30 on 16 March in Kolkata
    [row] = scorecards.build(card, now).rows
    assert row.value == 5 and row.comparison.previous is None and row.colour == "grey"

    set_zone(analyst_user, "UTC")
    card = Scorecard.objects.select_related("owner__profile").get(pk=card.pk)
    [row] = scorecards.build(card, now).rows
    assert row.value == 7 and row.comparison.previous == 5 and row.colour == "green"


def test_monthly_reports_on_last_month_against_the_month_before(analyst_user):
    metric = make_metric("Deals")
    points(metric, (at(10, month=1), 10), (at(31, month=1), 10), (at(5, month=2), 15), (at(2, month=3), 99))
    card = make_card(analyst_user, frequency="monthly", metrics=[metric])
    digest = scorecards.build(card, datetime(2026, 3, 1, 9, tzinfo=UTC))
    [row] = digest.rows
    assert digest.range.label == "Last month" and digest.range.first_day.isoformat() == "2026-02-01"
    assert (row.value, row.comparison.previous, row.percent_text) == (15, 20, "-25.0%")
    assert row.colour == "red"


def test_text_and_html_bodies(analyst_user, four_metrics):
    card = make_card(analyst_user, metrics=four_metrics)
    rendered = scorecards.render(card, MONDAY)
    assert rendered.subject == "Sales weekly: Last week (9 Mar – 15 Mar 2026)"

    text = rendered.text
    assert "Sales weekly" in text and "Last week" in text and "Times in UTC" in text
    assert "Revenue\n  $301.00   +100.0% (+$150.50) better · was $150.50" in text
    assert "Churned accounts\n  6   +50.0% (+2) worse · was 4" in text
    assert "Refunds\n  —   — (—) · was —" in text
    assert "<" not in text.replace("<alan", "")  # plain text, no markup
    assert f"/dashboards/scorecards/{card.uuid}/" in text

    body = rendered.html
    assert "<style" not in body and "<link" not in body  # email clients: inline styles
    assert "Revenue" in body and "301.00" in body and "+100.0%" in body
    revenue_cell = body[body.index("301.00") : body.index("+100.0%")]
    assert "color:#1d7a46;" in revenue_cell and 'data-colour="green"' in revenue_cell
    churn_cell = body[body.index("Churned accounts") : body.index("+50.0%")]
    assert "color:#b42318;" in churn_cell and 'data-colour="red"' in churn_cell
    refunds_cell = body[body.index("Refunds") :]
    assert 'data-colour="grey"' in refunds_cell[: refunds_cell.index("</tr>")]


def test_an_empty_scorecard_says_so(analyst_user):
    card = make_card(analyst_user)
    rendered = scorecards.render(card, MONDAY)
    assert "This scorecard has no metrics yet." in rendered.text
    assert "This scorecard has no metrics yet." in rendered.html


def test_html_escapes_metric_names(analyst_user):
    metric = make_metric("<b>Bold</b> & co")
    card = make_card(analyst_user, metrics=[metric])
    rendered = scorecards.render(card, MONDAY)
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; co" in rendered.html and "<b>Bold" not in rendered.html
    assert "<b>Bold</b> & co" in rendered.text


# ---------------------------------------------------------------- when it is due


@pytest.mark.parametrize(
    ("zone", "send_utc"),
    [
        ("UTC", datetime(2026, 3, 16, 8, tzinfo=UTC)),
        ("Asia/Kolkata", datetime(2026, 3, 16, 2, 30, tzinfo=UTC)),  # +05:30
        ("America/New_York", datetime(2026, 3, 16, 12, tzinfo=UTC)),  # EDT since 8 March
    ],
)
def test_daily_is_due_at_the_local_hour_once_a_day(analyst_user, zone, send_utc):
    set_zone(analyst_user, zone)
    card = make_card(analyst_user, frequency="daily", hour=8)
    assert not scorecards.is_due(card, send_utc - timedelta(minutes=1))
    assert scorecards.is_due(card, send_utc)
    assert scorecards.is_due(card, send_utc + timedelta(hours=10))  # a beat that was down catches up
    card.last_sent_at = send_utc + timedelta(minutes=3)
    assert not scorecards.is_due(card, send_utc + timedelta(hours=1))  # never twice in one day
    assert not scorecards.is_due(card, send_utc + timedelta(hours=23, minutes=59))
    assert scorecards.is_due(card, send_utc + timedelta(days=1))


def test_weekly_is_due_on_mondays_across_a_dst_change(analyst_user):
    set_zone(analyst_user, "America/New_York")
    card = make_card(analyst_user, frequency="weekly", hour=8)
    # Monday 2 March, EST (-05:00): 13:00 UTC.
    assert not scorecards.is_due(card, datetime(2026, 3, 2, 12, 59, tzinfo=UTC))
    assert scorecards.is_due(card, datetime(2026, 3, 2, 13, tzinfo=UTC))
    card.last_sent_at = datetime(2026, 3, 2, 13, 5, tzinfo=UTC)
    assert not scorecards.is_due(card, datetime(2026, 3, 5, 13, tzinfo=UTC))  # Thursday: sent this week
    assert not scorecards.is_due(card, datetime(2026, 3, 8, 23, tzinfo=UTC))  # Sunday evening
    # Monday 9 March, EDT (-04:00) since the 8th: 12:00 UTC.
    assert not scorecards.is_due(card, datetime(2026, 3, 9, 11, 59, tzinfo=UTC))
    assert scorecards.is_due(card, datetime(2026, 3, 9, 12, tzinfo=UTC))


def test_weekly_not_sent_on_monday_goes_later_that_week(analyst_user):
    card = make_card(analyst_user, frequency="weekly", hour=8, created=datetime(2026, 3, 1, tzinfo=UTC))
    assert not scorecards.is_due(card, datetime(2026, 3, 1, 9, tzinfo=UTC))  # a Sunday
    assert scorecards.is_due(card, datetime(2026, 3, 4, 9, tzinfo=UTC))  # Wednesday, catching up


def test_monthly_is_due_on_the_first_in_the_owners_zone(analyst_user):
    set_zone(analyst_user, "Asia/Kolkata")
    card = make_card(analyst_user, frequency="monthly", hour=0)
    card.last_sent_at = datetime(2026, 2, 28, 18, 35, tzinfo=UTC)  # March's, at 00:05 on the 1st in Kolkata
    # Midnight on 1 April in Kolkata is 31 March 18:30 UTC.
    assert not scorecards.is_due(card, datetime(2026, 3, 31, 18, 29, tzinfo=UTC))
    assert scorecards.is_due(card, datetime(2026, 3, 31, 18, 30, tzinfo=UTC))
    card.last_sent_at = datetime(2026, 3, 31, 18, 31, tzinfo=UTC)
    assert not scorecards.is_due(card, datetime(2026, 4, 15, tzinfo=UTC))
    assert not scorecards.is_due(card, datetime(2026, 4, 30, 18, 29, tzinfo=UTC))
    assert scorecards.is_due(card, datetime(2026, 4, 30, 18, 30, tzinfo=UTC))  # 1 May, 00:00 IST


def test_a_card_created_after_the_send_time_waits_for_the_next_period(analyst_user):
    card = make_card(analyst_user, frequency="daily", hour=8, created=datetime(2026, 3, 16, 10, tzinfo=UTC))
    assert not scorecards.is_due(card, datetime(2026, 3, 16, 11, tzinfo=UTC))
    assert scorecards.is_due(card, datetime(2026, 3, 17, 8, tzinfo=UTC))


def test_a_manual_send_before_the_hour_does_not_replace_the_scheduled_one(analyst_user):
    card = make_card(analyst_user, frequency="daily", hour=8)
    card.last_sent_at = datetime(2026, 3, 16, 7, tzinfo=UTC)
    assert scorecards.is_due(card, datetime(2026, 3, 16, 8, tzinfo=UTC))


def test_next_send_time(analyst_user):
    set_zone(analyst_user, "Asia/Kolkata")
    card = make_card(analyst_user, frequency="weekly", hour=9)
    card.last_sent_at = datetime(2026, 3, 16, 3, 35, tzinfo=UTC)  # Monday 09:05 IST
    assert scorecards.next_send_time(card, datetime(2026, 3, 17, tzinfo=UTC)) == datetime(
        2026, 3, 23, 3, 30, tzinfo=UTC
    )


# ---------------------------------------------------------------- sending


def test_send_due_emails_each_recipient_once(analyst_user, admin_user, four_metrics):
    nobody = UserFactory(username="noemail")
    weekly = make_card(analyst_user, metrics=four_metrics, recipients=[analyst_user, admin_user, nobody])
    daily = make_card(admin_user, frequency="daily", hour=20, name="Daily", metrics=four_metrics[:1])

    with time_machine.travel(MONDAY, tick=False):
        assert send_scorecards() == 1
    assert sorted(message.to[0] for message in mail.outbox) == ["ada@example.com", "alan@example.com"]
    assert all(len(message.to) == 1 for message in mail.outbox)  # recipients don't see each other
    message = mail.outbox[0]
    assert message.subject == "Sales weekly: Last week (9 Mar – 15 Mar 2026)"
    assert "Revenue" in message.body
    assert message.alternatives[0][1] == "text/html"
    weekly.refresh_from_db()
    assert weekly.last_sent_at == MONDAY
    daily.refresh_from_db()
    assert daily.last_sent_at is None

    # Fifteen minutes later: nothing new for the week.
    assert scorecards.send_due(MONDAY + timedelta(minutes=15)) == []
    assert len(mail.outbox) == 2
    # 20:00: the daily one.
    assert [card.name for card in scorecards.send_due(MONDAY.replace(hour=20))] == ["Daily"]
    assert len(mail.outbox) == 3


def test_a_digest_that_reached_nobody_is_tried_again_at_the_next_beat(analyst_user, four_metrics, mail_server_down):
    card = make_card(analyst_user, metrics=four_metrics)

    assert scorecards.send_due(MONDAY) == []
    card.refresh_from_db()
    assert card.last_sent_at is None, "not recorded as sent"

    mail_server_down.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # back up
    assert scorecards.send_due(MONDAY + timedelta(minutes=15)) == [card]
    assert [message.to for message in mail.outbox] == [["alan@example.com"]]
    assert scorecards.send_due(MONDAY + timedelta(minutes=30)) == [], "once it went, it is done"


def test_two_dispatchers_send_a_period_once(analyst_user, four_metrics):
    card = make_card(analyst_user, metrics=four_metrics)
    stale = Scorecard.objects.get(pk=card.pk)
    assert scorecards._claim(card, MONDAY)
    assert not scorecards._claim(stale, MONDAY)


def test_the_beat_runs_the_task_every_15_minutes(settings):
    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "dashboards.send_scorecards")
    assert entry["schedule"] == 900.0
    assert send_scorecards.name == "dashboards.send_scorecards"


# ---------------------------------------------------------------- in use


def test_scorecard_metrics_are_in_use_until_removed(analyst_user):
    kept, dropped = make_metric("Kept"), make_metric("Dropped")
    card = make_card(analyst_user, metrics=[kept, dropped])
    assert set(Use.objects.filter(kind="scorecard").values_list("metric__name", flat=True)) == {"Kept", "Dropped"}
    card.metrics.remove(dropped)
    assert not Use.objects.filter(metric=dropped).exists()
    assert not SyncState.objects.get(metric=dropped).in_use
    card.delete()
    assert not Use.objects.exists()
    assert not SyncState.objects.get(metric=kept).in_use


# ---------------------------------------------------------------- pages


def test_outsiders_get_403(client, outsider_user, analyst_user):
    card = make_card(analyst_user)
    client.force_login(outsider_user)
    for name in ("scorecards", "scorecard_create"):
        assert client.get(reverse(f"dashboards:{name}")).status_code == 403
    for name in ("scorecard_edit", "scorecard_delete", "scorecard_preview"):
        assert client.get(reverse(f"dashboards:{name}", args=[card.uuid])).status_code == 403
    assert client.post(reverse("dashboards:scorecard_send", args=[card.uuid])).status_code == 403
    assert client.post(reverse("dashboards:scorecard_delete", args=[card.uuid])).status_code == 403
    assert not mail.outbox and Scorecard.objects.exists()


def test_empty_list_invites_a_first_scorecard(analyst_client):
    page = analyst_client.get(reverse("dashboards:scorecards")).content.decode()
    assert "No scorecards yet" in page


def test_create_then_list_and_preview(analyst_client, analyst_user, admin_user, four_metrics):
    form = analyst_client.get(reverse("dashboards:scorecard_create")).content.decode()
    assert "Revenue" in form and "alan &lt;alan@example.com&gt;" in form
    data = {
        "name": "Monday numbers",
        "frequency": "weekly",
        "hour": "9",
        "metrics": [m.pk for m in four_metrics[:2]],
        "recipients": [analyst_user.pk, admin_user.pk],
    }
    response = analyst_client.post(reverse("dashboards:scorecard_create"), data)
    card = Scorecard.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboards:scorecard_preview", args=[card.uuid])
    assert (card.owner, card.hour, card.frequency) == (analyst_user, 9, "weekly")
    assert set(card.metrics.all()) == set(four_metrics[:2])
    assert Use.objects.filter(kind="scorecard", ref=str(card.pk)).count() == 2

    listing = analyst_client.get(reverse("dashboards:scorecards")).content.decode()
    assert "Monday numbers" in listing and "Weekly (Mondays) at 09:00" in listing

    with time_machine.travel(MONDAY, tick=False):
        preview = analyst_client.get(reverse("dashboards:scorecard_preview", args=[card.uuid])).content.decode()
        email = analyst_client.get(reverse("dashboards:scorecard_email", args=[card.uuid]))
    # The email sits in a sandboxed frame of its own (inline styles allowed there only), none of its markup in the page.
    assert f'sandbox src="{reverse("dashboards:scorecard_email", args=[card.uuid])}"' in preview
    assert "<table role" not in preview and "<table role" in email.content.decode()
    assert "default-src 'none'" in email["Content-Security-Policy"] and email["X-Frame-Options"] == "SAMEORIGIN"
    shown = html.unescape(preview) + email.content.decode()
    assert "Monday numbers: Last week (9 Mar – 15 Mar 2026)" in shown
    assert "color:#1d7a46;" in shown and "301.00" in shown
    assert "Plain-text version" in preview
    assert "Send now" in preview


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"name": ""}, "This field is required."),
        ({"hour": "24"}, "Select a valid choice."),
        ({"metrics": []}, "This field is required."),
        ({"recipients": []}, "This field is required."),
        ({"frequency": "hourly"}, "Select a valid choice."),
    ],
)
def test_form_errors(analyst_client, analyst_user, four_metrics, change, error):
    data = {"name": "Card", "frequency": "daily", "hour": "8", "metrics": [four_metrics[0].pk]}
    data["recipients"] = [analyst_user.pk]
    response = analyst_client.post(reverse("dashboards:scorecard_create"), {**data, **change})
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Scorecard.objects.exists()


def test_at_most_15_metrics(analyst_client, analyst_user):
    metrics = [make_metric(f"Metric {i:02d}") for i in range(16)]
    data = {"name": "Everything", "frequency": "daily", "hour": "8", "recipients": [analyst_user.pk]}
    too_many = analyst_client.post(reverse("dashboards:scorecard_create"), {**data, "metrics": [m.pk for m in metrics]})
    assert too_many.status_code == 200
    assert "A scorecard holds at most 15 metrics; you chose 16." in too_many.content.decode()
    assert not Scorecard.objects.exists() and not Use.objects.exists()

    fifteen = analyst_client.post(
        reverse("dashboards:scorecard_create"), {**data, "metrics": [m.pk for m in metrics[:15]]}
    )
    assert fifteen.status_code == 302
    assert Scorecard.objects.get().metrics.count() == Scorecard.MAX_METRICS


def test_edit_removing_a_metric_frees_its_use(analyst_client, analyst_user):
    kept, dropped = make_metric("Kept"), make_metric("Dropped")
    card = make_card(analyst_user, metrics=[kept, dropped])
    data = {"name": "Renamed", "frequency": "monthly", "hour": "7", "metrics": [kept.pk]}
    data["recipients"] = [analyst_user.pk]
    response = analyst_client.post(reverse("dashboards:scorecard_edit", args=[card.uuid]), data)
    assert response.status_code == 302
    card.refresh_from_db()
    assert (card.name, card.frequency, card.hour) == ("Renamed", "monthly", 7)
    assert list(card.metrics.all()) == [kept]
    assert not Use.objects.filter(metric=dropped).exists()
    assert not SyncState.objects.get(metric=dropped).in_use
    assert Use.objects.filter(metric=kept, kind="scorecard").exists()


def test_delete_asks_first_and_frees_the_uses(analyst_client, analyst_user):
    metric = make_metric("Only here")
    card = make_card(analyst_user, metrics=[metric])
    url = reverse("dashboards:scorecard_delete", args=[card.uuid])
    assert "Delete “Sales weekly”?" in analyst_client.get(url).content.decode()
    assert Scorecard.objects.exists()
    response = analyst_client.post(url)
    assert response.status_code == 302 and response["Location"] == reverse("dashboards:scorecards")
    assert not Scorecard.objects.exists()
    assert not Use.objects.exists() and not SyncState.objects.get(metric=metric).in_use


def test_send_now(analyst_client, analyst_user, admin_user, four_metrics):
    card = make_card(analyst_user, metrics=four_metrics, recipients=[analyst_user, admin_user])
    with time_machine.travel(MONDAY, tick=False):
        response = analyst_client.post(reverse("dashboards:scorecard_send", args=[card.uuid]), follow=True)
    assert "sent to 2 recipients" in response.content.decode()
    assert len(mail.outbox) == 2
    card.refresh_from_db()
    assert card.last_sent_at == MONDAY
    assert analyst_client.get(reverse("dashboards:scorecard_send", args=[card.uuid])).status_code == 405


def test_send_now_without_recipients_says_so(analyst_client, analyst_user):
    card = make_card(analyst_user, recipients=[])
    response = analyst_client.post(reverse("dashboards:scorecard_send", args=[card.uuid]), follow=True)
    assert "went to nobody" in response.content.decode()
    assert not mail.outbox


def test_send_now_says_when_the_mail_server_refused(analyst_client, analyst_user, four_metrics, mail_server_down):
    card = make_card(analyst_user, metrics=four_metrics)
    response = analyst_client.post(reverse("dashboards:scorecard_send", args=[card.uuid]), follow=True)
    page = response.content.decode()
    assert "could not be emailed to 1 recipient (sent to 0)" in page and "Check the email settings" in page
    card.refresh_from_db()
    assert card.last_sent_at is None


def test_other_members_preview_but_do_not_change(client, analyst_user, admin_user):
    card = make_card(analyst_user)
    client.force_login(UserFactory(username="grace", role="analyst", email="g@example.com"))
    assert client.get(reverse("dashboards:scorecard_preview", args=[card.uuid])).status_code == 200
    assert client.get(reverse("dashboards:scorecard_edit", args=[card.uuid])).status_code == 403
    assert client.post(reverse("dashboards:scorecard_send", args=[card.uuid])).status_code == 403
    assert client.post(reverse("dashboards:scorecard_delete", args=[card.uuid])).status_code == 403
    client.force_login(admin_user)
    assert client.get(reverse("dashboards:scorecard_edit", args=[card.uuid])).status_code == 200
