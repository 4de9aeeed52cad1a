"""manage.py export_metrics [NAME ...] > defs.json: metric definitions as JSON, never a credential."""

from django.core.management.base import BaseCommand, CommandError

from builder import portability
from builder.models import Metric


class Command(BaseCommand):
    help = (
        "Print metric definitions as one JSON document (format metric-builder/metrics@1) on stdout: "
        "all metrics, or the ones named. Connections are referred to by name; credentials are never included."
    )

    def add_arguments(self, parser):
        parser.add_argument("names", nargs="*", metavar="NAME", help="Metric names to export (default: all).")
        # The output is one JSON object either way; the flag is accepted like every command's --json.
        parser.add_argument("--json", action="store_true", help="Accepted for scripts: the output is always JSON.")

    def handle(self, *args, **options):
        names = list(dict.fromkeys(options["names"]))
        if names:
            found = {
                metric.name: metric for metric in Metric.objects.filter(name__in=names).select_related("connection")
            }
            missing = [name for name in names if name not in found]
            if missing:
                listed = ", ".join(repr(name) for name in missing)
                raise CommandError(
                    f"No metric is named {listed}; nothing was exported. See the names on the Metrics page."
                )
            metrics = [found[name] for name in names]
        else:
            metrics = list(Metric.objects.select_related("connection").order_by("name"))
        # The document is the output; the words go to stderr so that `> defs.json` stays clean.
        self.stdout.write(portability.dumps(portability.export_document(metrics)), ending="")
        self.stderr.write(f"Exported {len(metrics)} metric{'s' if len(metrics) != 1 else ''}.")
