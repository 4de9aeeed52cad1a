"""What a screen shows for one metric over a range: value, comparison and chart series.

One place for the Metrics screen, the metric page and databoard tiles, all through
`dashboards.queries` (aggregation in the database) and `dashboards.comparison`.
"""

from dataclasses import dataclass

from builder import timeframes
from dashboards import comparison, queries
from syncs import history


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
        """JSON-ready series for the chart script: labels (local dates) and values (None = gap)."""
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
    return [
        Summary(
            metric=metric,
            range=current,
            value=values[metric.pk][0],
            comparison=comparison.compare(
                *values[metric.pk], metric.favourable_trend, comparison.comparable(synced[metric.pk], since)
            ),
            by=by,
            series=charts[metric.pk],
            syncing=synced[metric.pk].hint(since),
        )
        for metric in metrics
    ]
