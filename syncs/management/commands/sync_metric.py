"""manage.py sync_metric NAME_OR_ID [--from DATE --to DATE] [--tz ZONE] [--json]: one sync in the foreground.

``--from``/``--to`` are local dates in ``--tz`` (default: the metric owner's zone, UTC for a metric
without an owner), which the output names. For a metric of instants (``createdtime``) the window
reaches from the first instant of ``--from`` anywhere (its start at UTC+14) to the last instant of
``--to`` anywhere (its end at UTC-12), or now if that is sooner, so both days are whole for a
viewer in any zone (see ``builder.timeframes``, "Whole local days for every viewer"); what the
sync stores replaces exactly that window. Calendar dates (``closingdate``) are the same date for
every viewer: their window is the days ``--from`` to ``--to`` in ``--tz``.
"""

import json
import sys
from datetime import UTC, date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from builder import timeframes
from builder.models import DateMode, Metric
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
        "in --tz (default: the metric owner's zone, UTC without an owner), widened for a metric of "
        "instants so that both days are whole for a viewer in any zone."
    )

    def add_arguments(self, parser):
        parser.add_argument("metric", metavar="NAME_OR_ID", help="The metric's name, id or uuid.")
        parser.add_argument("--from", dest="date_from", metavar="DATE", help="First day to sync (YYYY-MM-DD).")
        parser.add_argument("--to", dest="date_to", metavar="DATE", help="Last day to sync (YYYY-MM-DD).")
        parser.add_argument(
            "--tz",
            metavar="ZONE",
            help="Time zone of --from and --to (default: the metric owner's zone; UTC for a metric without an owner).",
        )
        parser.add_argument("--json", action="store_true", help="Print the run record as one JSON object.")

    def handle(self, *args, **options):
        metric = find_metric(options["metric"])
        zone_name = options["tz"] or metric.zone
        try:
            zone = timeframes.get_zone(zone_name)
        except ValueError as exc:
            raise CommandError(f"--tz: {exc} Use an IANA name such as Europe/Paris or UTC.") from None
        window = None
        if options["date_from"] or options["date_to"]:
            if metric.date_mode != DateMode.FIELD:
                raise CommandError(
                    "--from and --to need a metric whose dates come from a field of the response; "
                    f"{metric.name!r} stores {metric.get_date_mode_display().lower()}."
                )
            now = timezone.now()
            today = now.astimezone(zone).date()
            first = _date(options["date_from"], "from") if options["date_from"] else None
            last = _date(options["date_to"], "to") if options["date_to"] else today
            if first is None:
                raise CommandError("--to needs --from: give the first day too.")
            if last < first:
                raise CommandError(f"--to {last} is before --from {first}.")
            window = self.window(metric, first, last, zone, now)
            dates = f"Dates in {timeframes.zone_name(zone)}: {first} to {last}."
        elif options["tz"]:
            raise CommandError("--tz says the zone of --from and --to: give them too.")
        else:
            dates = f"Dates in {timeframes.zone_name(zone)} (the metric's zone): its rolling window."
        try:
            run = runner.run_in_foreground(metric, window)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from None
        record = run.as_dict()
        record["tz"] = timeframes.zone_name(zone)
        for name in ("window_start", "window_end"):  # in UTC, whichever offset the window was written in
            moment = getattr(run, name)
            record[name] = moment.astimezone(UTC).isoformat() if moment else None
        if options["json"]:
            self.stdout.write(json.dumps(record))
        else:
            self.stdout.write(self._words(run, dates))
        if run.status == SyncRun.Status.FAILED:
            sys.exit(1)

    @staticmethod
    def window(metric, first, last, zone, now) -> timeframes.Window:
        """The days ``first`` to ``last`` in ``zone``; for instants, whole in every zone (see the module docstring)."""
        days = timeframes.days_window(first, last, zone)
        if metric.calendar_dates:
            return days
        start = timeframes.earliest_start(first, zone)
        end = timeframes.latest_end(last, zone)
        if end.astimezone(UTC) > now and now >= start:
            end = now.astimezone(zone)  # nothing after now to fetch
        return timeframes.Window(start=start.astimezone(zone), end=end, tz=zone)

    @staticmethod
    def _words(run, dates):
        lines = [f"{run.get_kind_display()} sync of {run.metric.name!r}: {run.get_status_display().lower()}.", dates]
        if run.window_start:
            start, end = run.window_start.astimezone(UTC), run.window_end.astimezone(UTC)
            lines.append(f"Window: {start.isoformat()} to {end.isoformat()}")
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
