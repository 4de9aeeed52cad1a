"""What a screen shows for one metric over a range: value, comparison and chart series.

One place for the Metrics screen, the metric page and databoard tiles, all through
`dashboards.queries` (aggregation in the database) and `dashboards.comparison`.
"""

from dataclasses import dataclass

from dashboards import comparison, queries, ranges


@dataclass(frozen=True)
class Summary:
    metric: object
    range: ranges.Range
    value: float | int | None
    comparison: comparison.Comparison
    by: str
    series: list  # [queries.Point]

    def chart_data(self):
        """JSON-ready series for the chart script: labels (local dates) and values (None = gap)."""
        fmt = "%Y-%m" if self.by == "month" else "%Y-%m-%d"
        return {
            "labels": [point.start.strftime(fmt) for point in self.series],
            "values": [point.value for point in self.series],
            "format": self.metric.number_format,
        }


def bucket_for(current: ranges.Range) -> str:
    """Days for up to three months, weeks up to a year, months beyond."""
    days = (current.last_day - current.first_day).days + 1
    if days <= 93:
        return "day"
    if days <= 366:
        return "week"
    return "month"


def summarise(metric, current: ranges.Range, by: str | None = None) -> Summary:
    by = by or bucket_for(current)
    value, previous = queries.value_and_previous(metric, current)
    return Summary(
        metric=metric,
        range=current,
        value=value,
        comparison=comparison.compare(value, previous, metric.favourable_trend),
        by=by,
        series=queries.aggregate(metric, current, by=by),
    )
