"""A metric by dimension: the one home for dimension queries (issue 14, "Breakdowns").

A datapoint carries a ``dimension`` ("Web Site" for leads by source, ``19x5`` for deals by owner;
"" when it has none). This module reads a metric's values per dimension over a range, in SQL,
with the semantics of :mod:`dashboards.queries` (half-open ranges, the viewer's zone, calendar
dates read as the same dates for everyone, Latest value adding up the points at the latest
instant):

* :func:`breakdown`: the top dimensions by value plus "Other", each with its share, the previous
  period's value and the change (coloured by the favourable trend, :mod:`dashboards.comparison`);
* :func:`series_by_dimension`: per chart bucket, the value of each top dimension and of "Other"
  (the stacked chart);
* :func:`dimension_value` and :func:`dimension_series`: one dimension alone, for a value and a
  chart (the metric page's ``?dimension=``; tiles, goals and alerts on one dimension);
  :func:`summarise_dimension` is the same as a :class:`dashboards.reading.Summary`;
* :func:`dimensions`, :func:`labels_of`, :func:`label_of` and :func:`named`: the dimensions a
  metric has, and how they read.

Queries
-------
Each function runs **one query per metric** whatever the number of dimensions: the current and
the previous period are read together (a ``CASE`` tells them apart), grouped by period, bucket
and dimension. What a group returns is a :class:`Partial` (sum, count, min and max of its
values, or, for Latest value, its latest instant and the sum of the values there), which merges
exactly: "Other" is the merge of the partials of the dimensions outside the top, so

* Sum and Count of "Other" add up; Min and Max take the lowest and highest;
* **Average** of "Other" is the sum of its points over their number (the average of its points,
  not of the per-dimension averages);
* **Latest value** of "Other" is the value at the latest instant among its points (the sum of
  the points there, as for a metric); a dimension whose own latest point is older does not count.

The whole metric's value is the merge of every line, the same number ``queries.aggregate`` gives.

Shares
------
A share is a line's part of the metric's value, in percent, where the parts add up to it:

* Sum and Count: ``value / total * 100`` (with negative values a share may pass 100 %);
* Latest value: the lines whose latest point is at the metric's latest instant (a snapshot's
  parts, such as open tickets by status) share the metric's latest value; an older line has none;
* Average, Min and Max: no share (an average is not a part of an average).

Labels
------
The key is always the raw dimension (a renamed user keeps one line); what a reader sees is
:func:`connections.references.labels_for` (Vtiger user and record names), the key itself when it
has no label, and "(none)" for the blank dimension.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from datetime import datetime
from functools import reduce

from django.db.models import Case, Count, F, IntegerField, Max, Min, Q, Sum, Value, When
from django.utils import timezone

from builder import timeframes
from builder.models import Aggregation
from connections.references import labels_for
from dashboards import comparison, queries, reading
from syncs import history
from syncs.models import Datapoint

TOP = 10
OTHER = "Other"
NONE_LABEL = "(none)"
# The aggregations whose lines are parts of the whole: they have shares and stack on a chart.
ADDITIVE = frozenset({Aggregation.SUM, Aggregation.COUNT})


def has_shares(aggregation: str) -> bool:
    """Whether a breakdown of this aggregation has shares, its lines parts of the whole (Sum, Count
    and a Latest value snapshot; see Shares above): what a donut of it needs."""
    return aggregation in ADDITIVE or aggregation == Aggregation.LATEST


# ---------------------------------------------------------------- partial aggregates


@dataclass(frozen=True)
class Partial:
    """What a group of datapoints contributes to an aggregate, in a form that merges exactly."""

    total: float | None = None  # SUM(value)
    count: int = 0
    low: float | None = None
    high: float | None = None
    latest_at: datetime | None = None  # the latest instant, and the sum of the values there
    latest: float | None = None

    def merge(self, other: Partial) -> Partial:
        if self.latest_at is None or (other.latest_at is not None and other.latest_at > self.latest_at):
            latest_at, latest = other.latest_at, other.latest
        elif other.latest_at == self.latest_at:
            latest_at, latest = self.latest_at, _add(self.latest, other.latest)
        else:
            latest_at, latest = self.latest_at, self.latest
        return Partial(
            total=_add(self.total, other.total),
            count=self.count + other.count,
            low=_pick(min, self.low, other.low),
            high=_pick(max, self.high, other.high),
            latest_at=latest_at,
            latest=latest,
        )

    def value(self, aggregation: str):
        """The aggregate of the group's datapoints (as ``queries.aggregate`` returns it; None when empty)."""
        if aggregation == Aggregation.LATEST:
            raw = self.latest
        elif aggregation == Aggregation.COUNT:
            raw = self.count
        elif aggregation == Aggregation.AVERAGE:
            raw = self.total / self.count if self.count else None
        else:
            raw = {Aggregation.SUM: self.total, Aggregation.MIN: self.low, Aggregation.MAX: self.high}[aggregation]
        return queries.clean_value(raw, aggregation)


def _add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def _pick(function, a, b):
    if a is None:
        return b
    if b is None:
        return a
    return function(a, b)


def merged(partials) -> Partial:
    return reduce(Partial.merge, partials, Partial())


def _periods(metric, current: timeframes.Range, previous) -> list[timeframes.Range]:
    """The viewer's ranges to read: current, and the previous period when asked (True: the one before)."""
    if previous is True:
        previous = timeframes.previous(current)
    return [current, previous] if previous else [current]


def _partials(metric, periods, *, by: str | None = None, dimension: str | None = None, by_dimension: bool = True):
    """``{(period index, bucket date or None, dimension or None): Partial}`` in one query.

    ``periods`` are viewer ranges (they never overlap); buckets (``by``) cut the first of them.
    """
    windows = [queries.range_for(metric, period) for period in periods]
    conditions = [Q(timestamp__gte=w.start, timestamp__lt=w.end) for w in windows]
    rows = Datapoint.objects.filter(reduce(operator.or_, conditions), metric_id=metric.pk).order_by()
    if dimension is not None:
        rows = rows.filter(dimension=dimension)
    group = []
    if len(windows) > 1:
        whens = [When(condition, then=Value(index)) for index, condition in enumerate(conditions)]
        rows = rows.annotate(period=Case(*whens, output_field=IntegerField()))
        group.append("period")
    if by is not None:
        window = windows[0]
        rows = rows.annotate(bucket=queries.bucket_expression(by, window.tz, window, window.week_start))
        group.append("bucket")
    if by_dimension:
        group.append("dimension")
    if metric.aggregation == Aggregation.LATEST:
        rows = queries.latest_rows(rows, [F(name) for name in group])
        aggregates = {"latest": Sum("value"), "latest_at": Max("timestamp")}
    else:
        aggregates = {"total": Sum("value"), "count": Count("pk"), "low": Min("value"), "high": Max("value")}
    found = rows.values(*group).annotate(**aggregates) if group else [rows.aggregate(**aggregates)]
    partials = {}
    for row in found:
        if not row.get("count") and row.get("latest_at") is None:
            continue  # the one row of an ungrouped aggregate over nothing
        key = (
            row.get("period", 0),
            queries.bucket_date(row["bucket"]) if by is not None else None,
            row.get("dimension"),
        )
        partials[key] = Partial(**{name: row[name] for name in aggregates})
    return partials


# ---------------------------------------------------------------- labels


def label_of(key: str, labels: dict[str, str]) -> str:
    """How a dimension reads: its label, else the key itself; "(none)" for the blank dimension."""
    if key == "":
        return NONE_LABEL
    return labels.get(key) or key


def labels_of(metric, keys) -> dict[str, str]:
    """The labels known for these keys of the metric's connection (``connections.references``)."""
    keys = [key for key in keys if key]
    return labels_for(metric.connection, keys) if keys else {}


def dimensions(metric) -> list[tuple[str, str]]:
    """The metric's dimensions over its whole stored history, ``[(key, label), ...]`` by label:
    the non-blank dimensions of its datapoints (one query, plus the labels). What a form offers
    when a tile, goal or alert targets one dimension."""
    keys = (
        Datapoint.objects.filter(metric_id=metric.pk)
        .exclude(dimension="")
        .order_by("dimension")
        .values_list("dimension", flat=True)
        .distinct()
    )
    keys = list(keys)
    labels = labels_of(metric, keys)
    return sorted(((key, label_of(key, labels)) for key in keys), key=lambda pair: (pair[1].casefold(), pair[0]))


def named(metric, dimension: str = "") -> str:
    """The metric's name, and for one dimension its label too: "New leads (Web Site)"."""
    if not dimension:
        return metric.name
    return f"{metric.name} ({label_of(dimension, labels_of(metric, [dimension]))})"


# ---------------------------------------------------------------- the breakdown table


@dataclass(frozen=True)
class Line:
    """One line of a breakdown: a dimension, or "Other" (``key`` None) standing for ``dimensions`` of them."""

    key: str | None
    label: str
    value: float | int | None
    share: float | None  # percent of the metric's value; None where a share means nothing (see above)
    comparison: comparison.Comparison | None  # None when no previous period was read
    dimensions: int = 1

    @property
    def is_other(self) -> bool:
        return self.key is None

    @property
    def previous(self):
        return self.comparison.previous if self.comparison else None

    @property
    def change(self):
        return self.comparison.change if self.comparison else None


@dataclass(frozen=True)
class Breakdown:
    metric: object
    range: timeframes.Range
    previous_range: timeframes.Range | None
    lines: list[Line]
    value: float | int | None  # the whole metric over the range, as queries.aggregate gives it
    previous_value: float | int | None
    dimensions: int  # how many dimensions have data in the range
    shares: bool = field(default=False)  # whether the aggregation has shares

    @property
    def several(self) -> bool:
        """More than one dimension in the range: what makes a breakdown worth showing."""
        return self.dimensions > 1

    @property
    def other(self) -> Line | None:
        return next((line for line in self.lines if line.is_other), None)


def _ranked(values: dict, aggregation: str) -> list[str]:
    """The keys by value, highest first (no value last), ties by key."""

    def order(key):
        value = values[key]
        return (value is None, -(value or 0), key)

    return sorted(values, key=order)


def _share(part: Partial, whole: Partial, aggregation: str) -> float | None:
    if aggregation not in ADDITIVE and aggregation != Aggregation.LATEST:
        return None
    if aggregation == Aggregation.LATEST and (part.latest_at is None or part.latest_at != whole.latest_at):
        return None
    value, total = part.value(aggregation), whole.value(aggregation)
    if value is None or not total:
        return None
    return value / total * 100


def breakdown(
    metric, current: timeframes.Range, *, top: int | None = TOP, previous=True, comparable: bool = True
) -> Breakdown:
    """The metric over ``current`` by dimension: the ``top`` dimensions by value, then "Other".

    ``top=None`` gives every dimension and no "Other" (the exports). ``previous``: True compares
    with :func:`builder.timeframes.previous`, a Range with that range, False reads no previous
    period (lines then have no comparison). ``comparable=False`` when the synced history does not
    reach the previous period (:func:`dashboards.comparison.comparable`): no change is coloured.
    A dimension with data only in the previous period ranks last (no value now). One query.
    """
    periods = _periods(metric, current, previous)
    partials = _partials(metric, periods)
    now_parts = {dim: part for (period, _, dim), part in partials.items() if period == 0}
    then_parts = {dim: part for (period, _, dim), part in partials.items() if period == 1}
    aggregation = metric.aggregation
    keys = _ranked({key: now_parts[key].value(aggregation) if key in now_parts else None
                    for key in {*now_parts, *then_parts}}, aggregation)  # fmt: skip
    shown, rest = (keys, []) if top is None or len(keys) <= top else (keys[:top], keys[top:])
    whole, whole_before = merged(now_parts.values()), merged(then_parts.values())
    labels = labels_of(metric, shown)

    def line(key, label, now, then, count):
        compared = None
        if len(periods) > 1:
            compared = comparison.compare(
                now.value(aggregation), then.value(aggregation), metric.favourable_trend, comparable
            )
        return Line(key, label, now.value(aggregation), _share(now, whole, aggregation), compared, count)

    lines = [line(key, label_of(key, labels), now_parts.get(key, Partial()), then_parts.get(key, Partial()), 1)
             for key in shown]  # fmt: skip
    if rest:
        other_now = merged(now_parts[key] for key in rest if key in now_parts)
        other_then = merged(then_parts[key] for key in rest if key in then_parts)
        lines.append(line(None, OTHER, other_now, other_then, len(rest)))
    return Breakdown(
        metric=metric,
        range=current,
        previous_range=periods[1] if len(periods) > 1 else None,
        lines=lines,
        value=whole.value(aggregation),
        previous_value=whole_before.value(aggregation) if len(periods) > 1 else None,
        dimensions=len(now_parts),
        shares=has_shares(aggregation),
    )


# ---------------------------------------------------------------- the stacked chart


@dataclass(frozen=True)
class DimensionSeries:
    key: str | None  # None for "Other"
    label: str
    points: list  # [queries.Point], every bucket of the range, None when empty

    @property
    def is_other(self) -> bool:
        return self.key is None


@dataclass(frozen=True)
class StackedSeries:
    metric: object
    by: str
    starts: list  # each bucket's local start
    lines: list[DimensionSeries]

    @property
    def stacked(self) -> bool:
        """Sums and counts stack (the bars add up to the metric); other aggregations stand side by side."""
        return self.metric.aggregation in ADDITIVE

    def chart_data(self, now=None) -> dict:
        """JSON-ready data for the chart script: labels, one dataset per line (None = gap)."""
        fmt = "%Y-%m" if self.by == "month" else "%Y-%m-%d"
        now = now or timezone.now()
        return {
            "labels": [start.strftime(fmt) for start in self.starts],
            "datasets": [
                {
                    "label": line.label,
                    "values": [p.value for p in reading.drawn(line.points, self.metric.aggregation, now)],
                }
                for line in self.lines
            ],
            "stacked": self.stacked,
            "format": self.metric.number_format,
        }


def series_by_dimension(metric, current: timeframes.Range, by: str, *, top: int | None = TOP) -> StackedSeries:
    """Per ``by`` bucket (day, week, month) of ``current``, the value of each of the ``top``
    dimensions (ranked over the whole range as in :func:`breakdown`) and of "Other". One query."""
    if by not in timeframes.BUCKETS:
        raise ValueError(f"Unknown bucket {by!r}: choose one of {', '.join(timeframes.BUCKETS)}.")
    partials = _partials(metric, [current], by=by)
    aggregation = metric.aggregation
    per_dimension: dict[str, dict] = {}
    for (_, bucket, dim), part in partials.items():
        per_dimension.setdefault(dim, {})[bucket] = part
    totals = {dim: merged(found.values()).value(aggregation) for dim, found in per_dimension.items()}
    keys = _ranked(totals, aggregation)
    shown, rest = (keys, []) if top is None or len(keys) <= top else (keys[:top], keys[top:])
    window = queries.range_for(metric, current)
    buckets = timeframes.bucket_keys(window, by, window.week_start)
    labels = labels_of(metric, shown)

    def points(found: dict) -> list:
        values = {bucket: part.value(aggregation) for bucket, part in found.items()}
        return queries.fill_buckets(buckets, values, current.tz, aggregation)

    lines = [DimensionSeries(key, label_of(key, labels), points(per_dimension[key])) for key in shown]
    if rest:
        other: dict = {}
        for key in rest:
            for bucket, part in per_dimension[key].items():
                other[bucket] = other[bucket].merge(part) if bucket in other else part
        lines.append(DimensionSeries(None, OTHER, points(other)))
    starts = [timeframes.start_of_day(bucket, current.tz) for bucket in buckets]
    return StackedSeries(metric=metric, by=by, starts=starts, lines=lines)


# ---------------------------------------------------------------- one dimension alone


def dimension_value(metric, current: timeframes.Range, dimension: str, previous=True) -> tuple:
    """``(value, previous value)`` of one dimension of ``metric`` over ``current``, in one query.

    ``dimension`` is the raw key ("" is the datapoints without a dimension). ``previous``: True
    for :func:`builder.timeframes.previous`, a Range, or False, when the previous value is None.
    Each value is what :func:`dashboards.queries.aggregate` gives with ``dimension=`` (None when
    the dimension has no datapoints there). Goals, alerts and tiles on one dimension read this.
    """
    periods = _periods(metric, current, previous)
    partials = _partials(metric, periods, dimension=dimension, by_dimension=False)
    values = [partials.get((index, None, None), Partial()).value(metric.aggregation) for index in range(2)]
    return values[0], values[1] if len(periods) > 1 else None


def dimension_series(metric, current: timeframes.Range, dimension: str, by: str) -> list:
    """The plain series (:class:`dashboards.queries.Point` per bucket) of one dimension alone, one query."""
    return queries.aggregate(metric, current, by, dimension=dimension)


def summarise_dimension(metric, current: timeframes.Range, dimension: str, by: str | None = None) -> reading.Summary:
    """What :func:`dashboards.reading.summarise` shows, for one dimension of the metric alone."""
    by = by or reading.bucket_for(current)
    value, before = dimension_value(metric, current, dimension)
    since = timeframes.previous(current).start
    synced = history.of([metric])[metric.pk]
    return reading.Summary(
        metric=metric,
        range=current,
        value=value,
        comparison=comparison.compare(value, before, metric.favourable_trend, comparison.comparable(synced, since)),
        by=by,
        series=reading.drawn(dimension_series(metric, current, dimension, by), metric.aggregation),
        syncing=synced.hint(since),
    )
