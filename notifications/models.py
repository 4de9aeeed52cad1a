"""Telling people: the in-app notification, sending one (in the app and by email), the unread count.

Everything that tells a person something goes through :func:`notify`: syncs when a metric's
syncs are paused, alerts when one goes off. It records the ``Notification`` the navigation
counts and the list shows, and emails the same news when the person has an address: a plain
text body (the notification's text unless the caller wrote a longer one) and an optional HTML
alternative. The subject is made one line (a metric name may hold a line break, and Django
refuses to send a header that does). A broken mail server is logged and never breaks the
caller: the in-app notification is there either way.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import models

from notifications.text import single_line

logger = logging.getLogger(__name__)

SUBJECT_MAX = 200  # characters; a longer subject is cut, never refused
DEFAULT_SUBJECT_TEXT = 80  # characters of the text in the default subject


class Notification(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    text = models.TextField()
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            # "Your unread notifications", newest first: the navigation's count and the list.
            models.Index(fields=["user", "read", "-created_at"], name="notification_user_unread"),
        ]

    def __str__(self):
        return self.text[:60]


def notify(user, text, url="", *, subject=None, body=None, html=None) -> Notification | None:
    """Tell ``user`` ``text`` in the app and, when they have an address, by email.

    ``subject`` defaults to "Metric Builder: " and the start of ``text``; ``body`` (the email's
    plain text) defaults to ``text``; ``html`` is an optional HTML alternative. Nobody to tell
    (``user`` None: a metric whose owner is gone) tells nobody.
    """
    if user is None:
        return None
    note = Notification.objects.create(user=user, text=text, url=url)
    if user.email:
        if subject is None:
            subject = "Metric Builder: " + text[:DEFAULT_SUBJECT_TEXT]
        mail = EmailMultiAlternatives(
            subject=single_line(subject)[:SUBJECT_MAX], body=text if body is None else body, to=[user.email]
        )
        if html is not None:
            mail.attach_alternative(html, "text/html")
        try:
            mail.send()
        except Exception:  # a broken mail server must not break a sync or an alert
            logger.exception("Could not email %s", user.email)
    return note


def unread_count(user) -> int:
    """How many of ``user``'s notifications are unread (the badge in the navigation)."""
    return Notification.objects.filter(user=user, read=False).count()


def mark_all_read(user) -> int:
    return Notification.objects.filter(user=user, read=False).update(read=True)


def latest(user, limit=100) -> list[Notification]:
    """``user``'s notifications, newest first, as many as the list shows."""
    return list(Notification.objects.filter(user=user)[:limit])
