"""manage.py connection_list: every connection with its status; never a credential."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from connections.management.commands._output import connection_dict, emit
from connections.models import Connection


def _when(moment):
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z") if moment else "never"


class Command(BaseCommand):
    help = "List connections: name, integration, status, last success and last error."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print one JSON object instead of a table.")

    def handle(self, *args, **options):
        connections = list(Connection.objects.order_by("name"))
        if not connections:
            emit(self, options, {"connections": []}, "No connections yet: add one with manage.py connection_add.")
            return
        rows = [("NAME", "INTEGRATION", "STATUS", "LAST SUCCESS", "LAST ERROR")]
        rows += [
            (
                c.name,
                c.get_integration_display(),
                c.get_status_display(),
                _when(c.last_success_at),
                " ".join(c.last_error.split()) or "-",
            )
            for c in connections
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        lines = ["  ".join([*(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)), row[4]]) for row in rows]
        emit(self, options, {"connections": [connection_dict(c) for c in connections]}, "\n".join(lines))
