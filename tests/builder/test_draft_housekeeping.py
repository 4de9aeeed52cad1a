"""Discarding a draft, and stale drafts purged by beat."""

from datetime import timedelta

import time_machine
from django.urls import reverse
from django.utils import timezone

from builder.models import Draft, Metric
from builder.tasks import purge_stale_drafts
from builder.wizard_drafts import draft_for_metric, new_draft
from tests.factories import MetricFactory


def test_discard_removes_only_your_own_draft(analyst_client, analyst_user, admin_user):
    mine = new_draft(analyst_user, None)
    theirs = new_draft(admin_user, None)
    page = analyst_client.get(reverse("builder:start")).content.decode()
    assert reverse("builder:discard", args=[mine.uuid]) in page

    response = analyst_client.post(reverse("builder:discard", args=[mine.uuid]))
    assert response["Location"] == reverse("builder:start")
    assert not Draft.objects.filter(pk=mine.pk).exists()
    assert "Draft discarded." in analyst_client.get(response["Location"]).content.decode()

    assert analyst_client.post(reverse("builder:discard", args=[theirs.uuid])).status_code == 404
    assert Draft.objects.filter(pk=theirs.pk).exists()
    assert analyst_client.get(reverse("builder:discard", args=[theirs.uuid])).status_code == 405


def test_discarding_an_edit_keeps_the_saved_metric(analyst_client, analyst_user):
    metric = MetricFactory(name="Kept", current=True)
    draft = draft_for_metric(metric, analyst_user)
    analyst_client.post(reverse("builder:discard", args=[draft.uuid]))
    assert Metric.objects.filter(pk=metric.pk).exists()


def test_stale_drafts_are_purged(db, analyst_user, settings):
    settings.DRAFT_MAX_AGE_DAYS = 30
    with time_machine.travel(timezone.now() - timedelta(days=31), tick=False):
        old = new_draft(analyst_user, None)
    fresh = new_draft(analyst_user, None)
    assert purge_stale_drafts() == 1
    assert not Draft.objects.filter(pk=old.pk).exists()
    assert Draft.objects.filter(pk=fresh.pk).exists()
