"""The shared factories make what their names promise: valid metrics, users in their roles, real uses."""

import pytest
from django.contrib.auth.hashers import identify_hasher

from accounts.roles import is_admin
from builder import definitions
from conftest import PASSWORD
from syncs.models import SyncState, Use
from tests.connections.factories import vtiger_connection
from tests.factories import DatapointFactory, MetricFactory, SyncRunFactory, UserFactory, datapoints

pytestmark = pytest.mark.django_db


def test_users_get_their_role_and_the_cheap_test_password():
    admin, analyst, nobody = UserFactory(role="admin"), UserFactory(role="analyst"), UserFactory()
    assert is_admin(admin) and not is_admin(analyst) and not is_admin(nobody)
    assert list(analyst.groups.values_list("name", flat=True)) == ["analyst"]
    assert not nobody.groups.exists() and nobody.email == ""
    assert nobody.check_password(PASSWORD)
    assert identify_hasher(nobody.password).algorithm == "md5"


def test_the_default_metric_is_a_valid_vtiger_leads_definition():
    metric = MetricFactory()
    cleaned, errors = definitions.validate(definitions.from_metric(metric))
    assert errors == []
    assert cleaned["connection"] == metric.connection and metric.connection.integration == "vtiger"
    assert metric.owner is not None and (metric.date_mode, metric.date_field) == ("field", "createdtime")


def test_a_current_metric_has_no_connection_or_owner_and_is_valid_once_given_one():
    metric = MetricFactory(current=True)
    assert metric.connection is None and metric.owner is None and metric.date_mode == "none"
    on_vtiger = MetricFactory(current=True, connection=vtiger_connection())
    assert definitions.validate(definitions.from_metric(on_vtiger))[1] == []


def test_used_on_goes_through_add_use():
    metric = MetricFactory(used_on="screen")
    assert Use.objects.filter(metric=metric, kind="screen", ref="").exists()
    sync_state = SyncState.objects.get(metric=metric)
    assert sync_state.in_use and sync_state.backfill_total_windows > 0
    MetricFactory(used_on=("databoard", 7), current=True)
    assert Use.objects.filter(kind="databoard", ref="7").count() == 1


def test_datapoints_and_runs(django_assert_num_queries):
    metric = MetricFactory(current=True)
    single = DatapointFactory(metric=metric)
    assert single.synced_at == single.timestamp
    with django_assert_num_queries(1):
        rows = datapoints(metric, [(single.timestamp, 2), (single.timestamp, 3, "north")])
    assert [(row.value, row.dimension) for row in rows] == [(2, ""), (3, "north")]
    run = SyncRunFactory(metric=metric)
    assert run.status == "running" and run.started_at is not None
