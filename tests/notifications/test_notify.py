"""One notifier: the in-app notification, the email beside it, and the unread count."""

import logging

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core import mail
from django.test import RequestFactory

from notifications.context_processors import unread_notifications
from notifications.models import Notification, notify, unread_count
from notifications.text import single_line
from tests.factories import UserFactory


def test_a_notification_is_recorded_and_mailed_with_the_default_subject(analyst_user):
    note = notify(analyst_user, "Syncs of the metric “Deals” are paused", "/builder/metrics/x/")

    assert Notification.objects.get() == note
    assert (note.user, note.text) == (analyst_user, "Syncs of the metric “Deals” are paused")
    assert (note.url, note.read) == ("/builder/metrics/x/", False)
    [message] = mail.outbox
    assert message.to == ["alan@example.com"]
    assert message.subject == "Metric Builder: Syncs of the metric “Deals” are paused"
    assert message.body == "Syncs of the metric “Deals” are paused"
    assert message.alternatives == [], "no HTML part unless the caller wrote one"


def test_the_default_subject_holds_the_first_80_characters_of_the_text(analyst_user):
    notify(analyst_user, "x" * 100)
    assert mail.outbox[0].subject == "Metric Builder: " + "x" * 80


def test_a_caller_gives_the_subject_a_longer_text_body_and_an_html_part(analyst_user):
    notify(analyst_user, "Deals went above 10", "/a/", subject="Alert: Deals", body="The long story", html="<p>Hi</p>")

    [message] = mail.outbox
    assert (message.subject, message.body) == ("Alert: Deals", "The long story")
    assert message.alternatives[0][:2] == ("<p>Hi</p>", "text/html")
    assert Notification.objects.get().text == "Deals went above 10", "the app shows the short text"


def test_a_subject_is_made_one_line_and_cut_to_200_characters(analyst_user):
    notify(analyst_user, "Deals\r\nwon", subject="Alert: Deals\r\nwon\u202e " + "y" * 300)
    subject = mail.outbox[0].subject
    assert subject.startswith("Alert: Deals won ") and "\u202e" not in subject
    assert len(subject) == 200


def test_someone_without_an_address_is_told_in_the_app_only(db):
    person = UserFactory(username="nomail", email="")
    assert notify(person, "Paused") is not None
    assert Notification.objects.filter(user=person).count() == 1
    assert not mail.outbox


def test_nobody_to_tell_tells_nobody(db):
    assert notify(None, "Paused") is None
    assert not Notification.objects.exists() and not mail.outbox


def test_a_broken_mail_server_is_logged_and_never_breaks_the_caller(analyst_user, mail_server_down, caplog):
    caplog.set_level(logging.ERROR, logger="notifications.models")
    note = notify(analyst_user, "Paused", html="<p>Paused</p>")
    assert Notification.objects.get() == note
    assert [record.getMessage() for record in caplog.records] == ["Could not email alan@example.com"]


def test_the_unread_count_is_the_persons_unread_notifications(analyst_user, admin_user):
    Notification.objects.create(user=analyst_user, text="New")
    Notification.objects.create(user=analyst_user, text="Newer")
    Notification.objects.create(user=analyst_user, text="Seen", read=True)
    Notification.objects.create(user=admin_user, text="Someone else's")
    assert unread_count(analyst_user) == 2

    request = RequestFactory().get("/")
    request.user = analyst_user
    assert unread_notifications(request) == {"unread_notifications": 2}


def test_an_anonymous_visitor_gets_no_count(db):
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    assert unread_notifications(request) == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Deals\r\nwon", "Deals won"),
        ("a\tb\u2028c", "a b c"),
        ("Report\u202egpj.exe", "Reportgpj.exe"),
        ("bell\x07 and\x00 nul", "bell and nul"),
        ("  many   spaces ", "many spaces"),
        (None, ""),
    ],
)
def test_single_line(text, expected):
    assert single_line(text) == expected
