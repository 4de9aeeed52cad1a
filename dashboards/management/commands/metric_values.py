"""manage.py metric_values NAME_OR_ID --from DATE --to DATE: a metric's values, as the screens compute them.

``--dimension KEY`` reads one dimension alone; ``--by-dimension`` prints the value of every
dimension with the previous period's value and the change (``dashboards.breakdowns``).
"""

import json
from datetime import date

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from builder import timeframes
from builder.models import Metric
from dashboards import breakdowns, exports, queries


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{option} {text!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-03-01.") from None


def _number(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.4f}".rstrip("0").rstrip(".")


class Command(BaseCommand):
    help = (
        "Print a metric's aggregated values from one local date to another (both included) in a "
        "time zone, in total or per day, week or month, computed through the same query code as "
        "the Metrics screen. Empty buckets show as '-' (null in --json). --dimension reads one "
        "dimension alone; --by-dimension prints every dimension against the previous period."
    )

    def add_arguments(self, parser):
        parser.add_argument("metric", metavar="NAME_OR_ID", help="The metric's name, or its numeric id.")
        parser.add_argument("--from", dest="start", required=True, metavar="DATE", help="First day, YYYY-MM-DD.")
        parser.add_argument("--to", dest="end", required=True, metavar="DATE", help="Last day (included).")
        parser.add_argument("--tz", default=None, metavar="ZONE", help="Time zone (default: TIME_ZONE setting).")
        parser.add_argument("--by", default="total", choices=queries.BY, help="Buckets (default: total).")
        parser.add_argument(
            "--week-start", default="monday", choices=timeframes.WEEKDAYS, help="First day of a week (default: monday)."
        )
        parser.add_argument("--dimension", default=None, metavar="KEY", help="One dimension alone (its raw key).")
        parser.add_argument(
            "--by-dimension",
            action="store_true",
            help="The total of each dimension, with the previous period's value and the change.",
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args, **options):
        # The arguments are checked before the database is read.
        first, last = _date(options["start"], "--from"), _date(options["end"], "--to")
        if options["by_dimension"] and options["dimension"] is not None:
            raise CommandError("Choose --by-dimension (every dimension) or --dimension KEY (one), not both.")
        if options["by_dimension"] and options["by"] != "total":
            raise CommandError("--by-dimension gives one total per dimension over the range: leave --by out.")
        zone_name = options["tz"] or settings.TIME_ZONE
        try:
            zone = timeframes.get_zone(zone_name)
            current = timeframes.custom(first, last, zone, week_start=options["week_start"])
        except ValueError as exc:
            raise CommandError(f"{exc} Nothing was computed.") from None
        metric = self._metric(options["metric"])
        dimension = options["dimension"]
        if dimension and dimension not in dict(breakdowns.dimensions(metric)):
            raise CommandError(
                f"{metric.name} has no dimension {dimension!r}. Run with --by-dimension to list its dimensions."
            )
        by = options["by"]
        payload = {
            "metric": {"id": metric.pk, "name": metric.name, "aggregation": metric.aggregation},
            "from": first.isoformat(),
            "to": last.isoformat(),
            "tz": zone_name,
            "by": by,
            "start": current.start.isoformat(),
            "end": current.end.isoformat(),
            "currency": exports.currency_code(metric),
        }
        if options["by_dimension"]:
            self._by_dimension(metric, current, payload, options["json"])
            return
        result = queries.aggregate(metric, current, by, dimension=dimension)
        if dimension is not None:
            payload["dimension"] = dimension
            payload["label"] = breakdowns.label_of(dimension, breakdowns.labels_of(metric, [dimension]))

        if options["json"]:
            if by == "total":
                payload["value"] = result
            else:
                payload["buckets"] = [{"start": point.start.isoformat(), "value": point.value} for point in result]
            self.stdout.write(json.dumps(payload))
            return

        aggregation = metric.get_aggregation_display()
        alone = f", {payload['label']} alone," if dimension is not None else ""
        heading = f"{metric.name} ({aggregation}){alone} from {first} to {last} in {zone_name}"
        if by == "total":
            self.stdout.write(f"{heading}: {_number(result)}")
            return
        self.stdout.write(f"{heading}, by {by}:")
        for point in result:
            self.stdout.write(f"  {point.start:%Y-%m-%d}  {_number(point.value)}")
        filled = sum(point.value is not None for point in result)
        self.stdout.write(f"{len(result)} {by}{'s' if len(result) != 1 else ''}, {filled} with data.")

    def _by_dimension(self, metric, current, payload, as_json):
        table = breakdowns.breakdown(metric, current, top=None)
        if as_json:
            self.stdout.write(json.dumps({**payload, **exports.breakdown_json(table)}))
            return
        previous = table.previous_range
        self.stdout.write(
            f"{metric.name} ({metric.get_aggregation_display()}) by dimension from {payload['from']} to "
            f"{payload['to']} in {payload['tz']}, against {previous.first_day} to {previous.last_day}:"
        )
        names = [line.label if line.label == line.key or not line.key else f"{line.label} [{line.key}]"
                 for line in table.lines]  # fmt: skip
        width = max(map(len, names), default=0)
        for name, line in zip(names, table.lines, strict=True):
            change = line.comparison.percent_text() if line.comparison else "-"
            self.stdout.write(
                f"  {name:<{width}}  {_number(line.value)}  (previous {_number(line.previous)}, {change})"
            )
        count = len(table.lines)
        self.stdout.write(
            f"{count} dimension{'s' if count != 1 else ''}; the metric: {_number(table.value)} "
            f"(previous {_number(table.previous_value)})."
        )

    def _metric(self, text):
        metric = Metric.objects.filter(name=text).first()
        if metric is None and text.isdigit():
            metric = Metric.objects.filter(pk=int(text)).first()
        if metric is None:
            raise CommandError(f"No metric is named {text!r} or has that id. See the names on the Metrics page.")
        return metric
