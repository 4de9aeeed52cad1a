"""A sync whose expression overruns fails on its own; the rest of its batch syncs (the box is in-process: no worker)."""

import pytest

from builder.expression_box import default_box
from syncs import dispatcher, engine, runner, uses
from syncs.models import Datapoint, MetricSync, SyncRun
from tests.syncs.conftest import leads_metric

pytestmark = pytest.mark.django_db

CATASTROPHIC_REGEX = '$match("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", /(a+)+$/)'


def test_a_catastrophic_expression_fails_its_sync_and_the_next_one_in_the_batch_succeeds(sandbox, vtiger, monkeypatch):
    monkeypatch.setattr(engine, "EVALUATE_TIMEOUT_MS", 500)  # 5 s in production; the same path
    stuck = leads_metric(vtiger, name="Catastrophic", expression=CATASTROPHIC_REGEX)
    fine = leads_metric(vtiger, name="Fine")
    for metric in (stuck, fine):
        uses.add_use(metric, "screen")
    ids = dispatcher.dispatch()
    assert sorted(ids) == [stuck.pk, fine.pk]
    state = MetricSync.objects.get(metric=stuck)
    replaced = default_box().replaced

    outcomes = runner.execute_batch([stuck.pk, fine.pk], state.claimed_by, state.claimed_at.isoformat())

    assert (outcomes[stuck.pk].status, outcomes[fine.pk].status) == ("failed", "synced")
    run = SyncRun.objects.get(metric=stuck)
    assert (run.status, run.error_kind) == ("failed", "expression")
    assert "The expression took too long (over 500 ms) and was stopped." in run.error
    assert not Datapoint.objects.filter(metric=stuck).exists()
    assert SyncRun.objects.get(metric=fine).status == "succeeded"
    assert Datapoint.objects.filter(metric=fine).exists()
    assert default_box().replaced == replaced + 1  # the stuck worker was killed, not left running
