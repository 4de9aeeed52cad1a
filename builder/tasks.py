"""Housekeeping of the wizard's drafts."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from builder.models import Draft


def purge_stale_drafts(now=None):
    """Delete drafts nobody touched for DRAFT_MAX_AGE_DAYS; returns how many went."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.DRAFT_MAX_AGE_DAYS)
    deleted, _ = Draft.objects.filter(updated_at__lt=cutoff).delete()
    return deleted


@shared_task(name="builder.purge_stale_drafts", ignore_result=True)
def purge_stale_drafts_task():
    return purge_stale_drafts()
