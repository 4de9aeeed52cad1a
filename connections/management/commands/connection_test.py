"""manage.py connection_test NAME: test a connection live and record its status."""

from django.core.management.base import BaseCommand

from connections import services
from connections.management.commands._output import connection_dict, emit, fail
from connections.models import Connection


class Command(BaseCommand):
    help = "Test a connection's credentials live; exits non-zero when the test fails."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The connection's name.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object instead of words.")

    def handle(self, *args, **options):
        name = options["name"]
        connection = (
            Connection.objects.filter(name=name).first() or Connection.objects.filter(name__iexact=name).first()
        )
        if connection is None:
            fail(self, options, f"There is no connection named “{name}”; see manage.py connection_list.")
        outcome = services.test_connection(connection)
        payload = {"ok": outcome.ok, "connection": connection_dict(connection), "outcome": outcome.as_dict()}
        if not outcome.ok:
            fail(self, options, f"“{connection.name}” failed its test: {outcome.message}", payload)
        emit(self, options, payload, f"“{connection.name}”: {outcome.message}")
