"""Create, update, test and delete: credentials are tested before anything is stored."""

import pytest

from connections import services
from connections.models import Connection
from connections.signals import connection_deleted, connection_deleting, connection_tested
from sandbox import DEMO_ACCESS_KEY
from tests.connections.factories import vtiger_connection
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def cloud_data(sandbox, **overrides):
    return {
        "name": "Vtiger",
        "subdomain": "",
        "instance_url": sandbox.url,
        "username": "demo",
        "access_key": DEMO_ACCESS_KEY,
        "plan": "enterprise",
        "rate_limit_per_minute": None,
        **overrides,
    }


def test_create_tests_then_saves(sandbox):
    user = UserFactory(username="ada")
    connection, outcome = services.create_connection("vtiger", cloud_data(sandbox), user)
    assert outcome.ok and outcome.message == "Connected as Dana Demo (demo)."
    connection.refresh_from_db()
    assert connection.status == Connection.Status.CONNECTED and connection.created_by == user
    assert connection.last_success_at and connection.last_tested_at and connection.last_error == ""
    assert connection.base_url == f"{sandbox.url}/restapi/v1/vtiger/default"
    assert connection.rate_limit_per_minute == 90


def test_create_saves_nothing_when_the_test_fails(sandbox):
    connection, outcome = services.create_connection("vtiger", cloud_data(sandbox, access_key="bad-key-123"), None)
    assert connection is None and not outcome.ok and outcome.status == "auth_failed"
    assert Connection.objects.count() == 0


def test_create_without_test_path_saves_as_not_tested(sandbox):
    data = {
        "name": "Deals",
        "base_url": f"{sandbox.url}/custom/v1",
        "auth_type": "none",
        "default_headers": [],
        "allowed_methods": "GET",
        "data_timezone": "UTC",
        "test_path": "",
    }
    connection, outcome = services.create_connection("custom", data)
    assert connection.status == Connection.Status.NEW and connection.last_tested_at is None
    assert sandbox.stats()["total_requests"] == 0


def test_update_keeps_the_stored_values_when_the_new_ones_fail(sandbox):
    connection = vtiger_connection(sandbox.url, name="Vtiger")
    before = Connection.objects.filter(pk=connection.pk).values().get()
    outcome = services.update_connection(connection, cloud_data(sandbox, name="Renamed", access_key="bad-key-123"))
    assert not outcome.ok
    assert Connection.objects.filter(pk=connection.pk).values().get() == before
    assert connection.name == "Vtiger"


def test_update_with_blank_key_keeps_the_key_and_saves(sandbox):
    connection = vtiger_connection(sandbox.url, name="Vtiger")
    outcome = services.update_connection(connection, cloud_data(sandbox, name="Renamed", access_key=""))
    assert outcome.ok
    assert connection.name == "Renamed" and connection.status == "connected"
    assert connection.get_secret("access_key") == DEMO_ACCESS_KEY


def test_test_connection_records_status_and_sends_a_signal(sandbox):
    connection = vtiger_connection(sandbox.url, access_key="bad-key-123")
    received = []
    connection_tested.connect(lambda sender, **kw: received.append(kw["outcome"]), weak=False, dispatch_uid="t")
    try:
        outcome = services.test_connection(connection)
    finally:
        connection_tested.disconnect(dispatch_uid="t")
    connection.refresh_from_db()
    assert connection.status == "auth_failed" and connection.last_error == outcome.message
    assert connection.last_tested_at and connection.last_success_at is None
    assert received == [outcome]
    sandbox.reset()  # a fresh minute window
    sandbox.configure(rate_limit_per_minute=1)
    connection.set_secret("access_key", DEMO_ACCESS_KEY)
    connection.save()
    assert services.test_connection(connection).ok
    assert services.test_connection(connection).status == "rate_limited"
    connection.refresh_from_db()
    assert connection.status == "rate_limited" and connection.last_success_at


def test_delete_sends_signals(sandbox, django_capture_on_commit_callbacks):
    connection = vtiger_connection(sandbox.url, name="Doomed")
    seen = []
    connection_deleting.connect(
        lambda sender, connection, **kw: seen.append(("deleting", connection.name)), weak=False, dispatch_uid="d1"
    )
    connection_deleted.connect(lambda sender, name, **kw: seen.append(("deleted", name)), weak=False, dispatch_uid="d2")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.delete_connection(connection)
    finally:
        connection_deleting.disconnect(dispatch_uid="d1")
        connection_deleted.disconnect(dispatch_uid="d2")
    assert seen == [("deleting", "Doomed"), ("deleted", "Doomed")]
    assert not Connection.objects.exists()


def test_record_problem_and_success_for_syncs(sandbox):
    from connections.errors import AuthRejected

    connection = vtiger_connection(sandbox.url)
    services.record_problem(connection, AuthRejected("Wrong username or access key."))
    connection.refresh_from_db()
    assert connection.status == "auth_failed" and connection.last_error == "Wrong username or access key."
    services.record_success(connection)
    connection.refresh_from_db()
    assert connection.status == "connected" and connection.last_error == "" and connection.last_success_at
    first_success = connection.last_success_at
    services.record_success(connection)  # after every sync: no write while it stays connected
    connection.refresh_from_db()
    assert connection.last_success_at == first_success
