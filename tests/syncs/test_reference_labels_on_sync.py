"""Reference labels are refreshed on sync (syncs.references): a real worker syncs a metric broken down by
owner, then a task of its own fetches the owners' names; the sync itself sends no label request."""

import pytest
from django.utils import timezone

from conftest import wait_for
from connections import references
from connections.models import ReferenceLabel
from sandbox.data import build_dataset
from syncs import dispatcher, uses
from syncs import references as sync_references
from syncs.models import Datapoint, SyncRun, SyncState
from tests.connections.factories import custom_connection
from tests.factories import datapoints
from tests.syncs.conftest import leads_metric

BY_OWNER_QUERY = (
    "SELECT createdtime, assigned_user_id FROM Leads "
    "WHERE createdtime >= '{{start}}' AND createdtime <= '{{end}}' ORDER BY id;"
)
BY_OWNER = 'result.{"value": 1, "date": createdtime, "dimension": assigned_user_id}'


def _users(sandbox):
    dataset = build_dataset(seed=sandbox.dataset.seed, today=sandbox.dataset.today)
    return {row["id"]: f"{row['first_name']} {row['last_name']}" for row in dataset.records("Users")}


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_sync_by_owner_is_followed_by_a_task_that_fetches_the_owners_names(workers, sandbox, vtiger):
    workers.start()
    metric = leads_metric(vtiger, name="Leads by owner", params=[["query", BY_OWNER_QUERY]], expression=BY_OWNER)
    uses.add_use(metric, "screen")
    SyncState.objects.filter(metric=metric).update(backfill_total_windows=0)
    dispatcher.dispatch()

    wait_for(lambda: SyncRun.objects.filter(metric=metric, status=SyncRun.Status.SUCCEEDED).exists(), timeout=60)
    owners = set(Datapoint.objects.filter(metric=metric).values_list("dimension", flat=True))
    assert len(owners) > 1
    wait_for(lambda: ReferenceLabel.objects.filter(connection=vtiger).count() == len(owners), timeout=60)

    users = _users(sandbox)
    assert references.labels_for(vtiger, owners) == {key: users[key] for key in owners}
    assert "syncs.refresh_reference_labels" in workers.logs()


@pytest.mark.django_db
def test_the_task_reads_the_reference_dimensions_and_leaves_custom_apis_alone(sandbox, vtiger):
    by_owner = leads_metric(vtiger, name="By owner", expression=BY_OWNER)
    by_source = leads_metric(vtiger, name="By source")
    custom = leads_metric(custom_connection(sandbox.url, name="JSON"), name="Custom refs")
    now = timezone.now()
    datapoints(by_owner, [(now, 1, "19x5"), (now, 2, "19x6"), (now, 3, "")])
    datapoints(by_source, [(now, 1, "Web Site"), (now, 1, "Cold Call")])
    datapoints(custom, [(now, 1, "19x7")])

    found = sync_references.reference_dimensions([by_owner.pk, by_source.pk, custom.pk])
    named = {connection.name: keys for connection, keys in found.items()}
    assert named == {"Vtiger": {"19x5", "19x6"}}, "sources are no references; custom APIs have no labels"

    sync_references.refresh_reference_labels([by_owner.pk, by_source.pk, custom.pk])

    assert references.labels_for(vtiger, ["19x5", "19x6"]) == {"19x5": "Ada Admin", "19x6": "Ben Baker"}
    assert not ReferenceLabel.objects.exclude(connection=vtiger).exists()
    assert "custom/deals" not in sandbox.stats()["requests"]
