"""What a screen shows for one metric over a range: value, comparison and chart series.

One place for the Metrics screen, the metric page and databoard tiles, all through
`dashboards.queries` (aggregation in the database) and `dashboards.comparison`.
"""

from dataclasses import dataclass

from django.utils import timezone

from builder import timeframes
from builder.models import Aggregation
from dashboards import comparison, queries
from syncs import history

# A bucket without datapoints is a real 0 for a Sum or a Count (nothing was won that day), and
# has no value at all for an Average, Min, Max or Latest value: the chart leaves a gap there.
ZERO_WHEN_EMPTY = frozenset({Aggregation.SUM, Aggregation.COUNT})


@dataclass(frozen=True)
class Summary:
    metric: object
    range: timeframes.Range
    value: float | int | None
    comparison: comparison.Comparison
    by: str
    series: list  # [queries.Point]
    # "history still syncing: 12 of 52 windows" while a backfill has not reached back to the
    # previous period (syncs.history), else "".
    syncing: str = ""

    def chart_data(self):
        """JSON-ready series for the chart script: labels (local dates) and values (None = gap),
        one per bucket of the range."""
        fmt = "%Y-%m" if self.by == "month" else "%Y-%m-%d"
        return {
            "labels": [point.start.strftime(fmt) for point in self.series],
            "values": [point.value for point in self.series],
            "format": self.metric.number_format,
        }


def bucket_for(current: timeframes.Range) -> str:
    """Days for up to three months, weeks up to a year, months beyond."""
    days = (current.last_day - current.first_day).days + 1
    if days <= 93:
        return "day"
    if days <= 366:
        return "week"
    return "month"


def drawn(points, aggregation: str, now=None) -> list:
    """Every bucket of ``points`` as a screen shows it: an empty bucket (None from
    :mod:`dashboards.queries`) is 0 for a Sum or a Count, except a bucket that has not begun
    yet (a custom range ending in the future), which has no value so far; other aggregations
    keep None, a gap."""
    if aggregation not in ZERO_WHEN_EMPTY:
        return points
    now = now or timezone.now()
    return [queries.Point(point.start, 0) if point.value is None and point.start <= now else point for point in points]


def summarise(metric, current: timeframes.Range, by: str | None = None) -> Summary:
    return summarise_many([metric], current, by)[0]


def summarise_many(metrics, current: timeframes.Range, by: str | None = None) -> list[Summary]:
    """Summaries of several metrics over one range, in a handful of queries whatever their number."""
    metrics = list(metrics)
    if not metrics:
        return []
    by = by or bucket_for(current)
    values = queries.totals(metrics, current)
    charts = queries.series(metrics, current, by)
    synced = history.of(metrics)
    since = timeframes.previous(current).start
    now = timezone.now()
    return [
        Summary(
            metric=metric,
            range=current,
            value=values[metric.pk][0],
            comparison=comparison.compare(
                *values[metric.pk], metric.favourable_trend, comparison.comparable(synced[metric.pk], since)
            ),
            by=by,
            series=drawn(charts[metric.pk], metric.aggregation, now),
            syncing=synced[metric.pk].hint(since),
        )
        for metric in metrics
    ]
