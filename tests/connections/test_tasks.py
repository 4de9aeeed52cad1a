"""Connection checks run by a real Celery worker process."""

import pytest

from conftest import wait_for
from connections.models import Connection
from connections.tasks import retest_failing
from tests.connections.factories import vtiger_connection

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_worker_retests_failing_connections_and_turns_them_green(celery_worker_process, sandbox):
    back_up = vtiger_connection(sandbox.url, name="Came back", status=Connection.Status.UNREACHABLE)
    wrong_key = vtiger_connection(
        sandbox.url, name="Wrong key", access_key="wrongwrongwrong1", status=Connection.Status.AUTH_FAILED
    )

    retest_failing.delay()

    def retested():
        back_up.refresh_from_db()
        return back_up.status == Connection.Status.CONNECTED

    wait_for(retested, timeout=30)
    assert back_up.last_success_at is not None
    # An authentication failure waits for an admin to fix the key.
    wrong_key.refresh_from_db()
    assert wrong_key.status == Connection.Status.AUTH_FAILED
    assert wrong_key.last_tested_at is None
    assert "connections.test_connection" in celery_worker_process.log_path.read_text()
