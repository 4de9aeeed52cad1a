"""manage.py sync_metric NAME_OR_ID [--from DATE --to DATE] [--json]: one sync in the foreground."""

import json
import sys
from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from builder import timeframes
from builder.models import Metric
from syncs import runner
from syncs.models import SyncRun


def _date(value, name):
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--{name} {value!r} is not a date: write it as YYYY-MM-DD.") from None


def find_metric(key):
    metrics = Metric.objects.select_related("connection", "owner")
    found = metrics.filter(name=key).first()
    if found is None and key.isdigit():
        found = metrics.filter(pk=int(key)).first()
    if found is None:
        try:
            found = metrics.filter(uuid=key).first()
        except Exception:  # not a uuid
            found = None
    if found is None:
        raise CommandError(f"No metric is named or numbered {key!r}. See the names on the Metrics page.")
    return found


class Command(BaseCommand):
    help = (
        "Sync one metric now, in the foreground, and print its run record. Without --from/--to the "
        "metric's rolling window is synced; with them, the whole days from --from to --to (inclusive) "
        "in the metric's time zone."
    )

    def add_arguments(self, parser):
        parser.add_argument("metric", metavar="NAME_OR_ID", help="The metric's name, id or uuid.")
        parser.add_argument("--from", dest="date_from", metavar="DATE", help="First day to sync (YYYY-MM-DD).")
        parser.add_argument("--to", dest="date_to", metavar="DATE", help="Last day to sync (YYYY-MM-DD).")
        parser.add_argument("--json", action="store_true", help="Print the run record as one JSON object.")

    def handle(self, *args, **options):
        metric = find_metric(options["metric"])
        window = None
        if options["date_from"] or options["date_to"]:
            if metric.date_mode != "field":
                raise CommandError(
                    "--from and --to need a metric whose dates come from a field of the response; "
                    f"{metric.name!r} stores {metric.get_date_mode_display().lower()}."
                )
            zone = timeframes.get_zone(timeframes.metric_zone(metric))
            today = timezone.now().astimezone(zone).date()
            first = _date(options["date_from"], "from") if options["date_from"] else None
            last = _date(options["date_to"], "to") if options["date_to"] else today
            if first is None:
                raise CommandError("--to needs --from: give the first day too.")
            if last < first:
                raise CommandError(f"--to {last} is before --from {first}.")
            start = timeframes.start_of_day(first, zone)
            end = timeframes.start_of_day(last + timedelta(days=1), zone) - timeframes.RESOLUTION
            window = timeframes.Window(start=start, end=end.astimezone(zone), tz=zone)
        try:
            run = runner.run_in_foreground(metric, window)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from None
        record = run.as_dict()
        if options["json"]:
            self.stdout.write(json.dumps(record))
        else:
            self.stdout.write(self._words(run))
        if run.status == SyncRun.Status.FAILED:
            sys.exit(1)

    @staticmethod
    def _words(run):
        lines = [f"{run.get_kind_display()} sync of {run.metric.name!r}: {run.get_status_display().lower()}."]
        if run.window_start:
            lines.append(f"Window: {run.window_start.isoformat()} to {run.window_end.isoformat()}")
        lines.append(
            f"{run.requests} request{'s' if run.requests != 1 else ''}, "
            f"{run.pages} page{'s' if run.pages != 1 else ''}, "
            f"{run.datapoints_written} datapoint{'s' if run.datapoints_written != 1 else ''} written "
            f"in {run.duration_s} s."
        )
        if run.warning:
            lines.append(f"Warning: {run.warning}")
        if run.error:
            lines.append(f"Error: {run.error}")
        return "\n".join(lines)
