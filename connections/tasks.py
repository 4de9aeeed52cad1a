"""Background checks of connections; thin wrappers around `services`."""

from celery import shared_task
from django.db.models import Q

from connections import services
from connections.models import Connection

Status = Connection.Status


@shared_task(name="connections.test_connection", ignore_result=True)
def test_connection(connection_id):
    connection = Connection.objects.filter(pk=connection_id).first()
    if connection is None:  # deleted since it was queued
        return
    services.test_connection(connection)


@shared_task(name="connections.retest_failing", ignore_result=True)
def retest_failing():
    """Re-test connections that are failing, so one whose API came back turns green by itself.

    Authentication failures wait for an admin: the same wrong key would only fail again.
    """
    failing = Connection.objects.filter(
        Q(status=Status.UNREACHABLE) | Q(status=Status.RATE_LIMITED) | Q(status=Status.ERROR)
    ).values_list("pk", flat=True)
    for pk in failing:
        test_connection.delay(pk)
