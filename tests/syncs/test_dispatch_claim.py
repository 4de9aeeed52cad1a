"""The dispatcher's claim with a limit: the earliest due first, never more than the limit."""

from datetime import timedelta

import pytest
from django.utils import timezone

from syncs import dispatcher
from syncs.models import SyncState
from tests.factories import MetricFactory

pytestmark = pytest.mark.django_db


def test_a_limited_claim_takes_the_earliest_due_and_no_more(offline_vtiger):
    now = timezone.now()
    metrics = [MetricFactory(connection=offline_vtiger, used_on="screen") for _ in range(5)]
    earliest, second, *tied = metrics
    for metric, minutes in [(earliest, 3), (second, 2)] + [(metric, 1) for metric in tied]:
        SyncState.objects.filter(metric=metric).update(next_sync_at=now - timedelta(minutes=minutes))

    claimed = dispatcher.dispatch(now=now, limit=3)

    assert len(claimed) == 3, "three due at the same instant: the limit still holds"
    assert {earliest.pk, second.pk} < set(claimed)
    rest = dispatcher.dispatch(now=now, limit=3)
    assert sorted(claimed + rest) == sorted(m.pk for m in metrics), "the next claim takes the rest"
