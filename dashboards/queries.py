"""A metric's values over a range, totalled or per chart bucket, computed in the database.

Every screen, the ``metric_values`` command, goals, alerts and scorecards read values through
this module, so they all agree:

* :func:`aggregate`: one metric, in total or per bucket; one SQL statement per call
  (``GROUP BY`` of the datapoints in the range, using the ``(metric, timestamp)`` index);
  Python only puts the rows it gets back into buckets.
* :func:`value_and_previous`: the pair a comparison needs (two calls of :func:`aggregate`).
* :func:`totals` and :func:`series`: the same values for many metrics at once, in one or two
  statements for the whole list (a screen of 50 metrics should use these, not 50 x 3 calls);
  tests check they equal :func:`aggregate` metric by metric.

Semantics
---------
* The range is half-open ``[start, end)`` (see :mod:`builder.timeframes`).
* Sum, Average, Min and Max of ``value``; Count is the number of datapoints.
* **Latest value** is the value of the datapoint with the latest timestamp in the range (or
  bucket). When several datapoints share that timestamp they are added up: a snapshot of
  "open tickets by status" stores one row per status at the same instant, and the metric's
  latest value is their total. With ``by_dimension=True`` each dimension has its own latest.
  It is computed with a window function (``MAX(timestamp) OVER (PARTITION BY bucket)``), the
  same SQL on SQLite and PostgreSQL, so both give the same answer; ties need no arbitrary
  tie-break (which ``DISTINCT ON`` or ``ORDER BY ... LIMIT 1`` would need, and which would
  differ between the two databases).
* Buckets are local days, weeks (starting on the range's ``week_start``) or calendar months in
  the zone ``tz`` (by default the range's zone). Each bucket is returned, in order, as a
  :class:`Point` ``(start, value)`` where ``start`` is the bucket's local calendar start (the
  first week or month may start before the range; its value only covers the part inside the
  range). **An empty bucket has the value None** (Count included): the database has nothing
  there; a total over a range without datapoints is None likewise. How a screen draws an
  empty bucket (0 for Sum and Count, a gap for the others) is :func:`dashboards.reading.drawn`.
* **Calendar dates.** A metric whose dates have no time of day (``Metric.date_kind`` is
  ``calendar``: ``closingdate``, ``2026-10-15``) stores each date as midnight UTC of that date
  (see :mod:`builder.dates`). A date counts in a range when its local day starts inside it, the
  same date for every viewer: the viewer's range becomes the same local dates read in UTC
  (:func:`builder.timeframes.calendar_range`: 2026-10-01 00:00 New York to 2026-11-01 00:00 New York is
  ``[2026-10-01T00:00Z, 2026-11-01T00:00Z)``) and its buckets are cut in UTC. Buckets are still
  returned as the viewer's local midnights, like an instant metric's. :func:`totals` reads
  both kinds in the same statements (a condition per kind); :func:`series` runs its queries
  once per kind present.
* **Calculated metrics** (``Metric.kind`` "calculated", a formula over named input metrics,
  :mod:`builder.formulas`) have no datapoints: their value for a range or bucket is the formula
  over their inputs' aggregated values for the same range or bucket, in the same zone (a ratio
  of sums, not a sum of ratios). An input may be calculated itself. :func:`totals` and
  :func:`series` read every input together with the plain metrics of the call (one query for
  the inputs per level of nesting, whatever the number of calculated metrics). An empty bucket
  of a Sum or Count input is 0 there once it has begun (nothing was won: ``0 / 5`` is 0 %); an
  input of another aggregation without a value, or a division by zero, gives None.
"""

from __future__ import annotations

import operator
from dataclasses import replace
from datetime import date, datetime, tzinfo
from functools import reduce
from typing import NamedTuple

from django.db.models import (
    Avg,
    Case,
    Count,
    DateField,
    DateTimeField,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import TruncDay, TruncMonth, TruncWeek
from django.utils import timezone

from builder import formulas, timeframes
from builder.models import Aggregation, DateKind, Kind, Metric, MetricInput
from syncs.models import Datapoint

BY = ("total", *timeframes.BUCKETS)

_FUNCTIONS = {Aggregation.SUM: Sum, Aggregation.AVERAGE: Avg, Aggregation.MIN: Min, Aggregation.MAX: Max}


class Point(NamedTuple):
    """One chart bucket: its local calendar start (aware, in the zone) and its value (None when empty)."""

    start: datetime
    value: float | int | None


def _metric(metric):
    if hasattr(metric, "pk") and hasattr(metric, "aggregation"):
        return metric
    return Metric.objects.get(pk=metric)


def is_calendar(metric) -> bool:
    """Whether the metric's dates are calendar dates (stored as midnight UTC of each date)."""
    return getattr(metric, "date_kind", DateKind.INSTANT) == DateKind.CALENDAR


def range_for(metric, current: timeframes.Range) -> timeframes.Range:
    """The stored instants ``current`` covers for ``metric``: itself, or its calendar_range."""
    return timeframes.calendar_range(current) if is_calendar(metric) else current


def datapoints(metric, current: timeframes.Range):
    """The metric's datapoints in ``current`` (the exports), by timestamp and dimension."""
    window = range_for(metric, current)
    return Datapoint.objects.filter(
        metric_id=metric.pk, timestamp__gte=window.start, timestamp__lt=window.end
    ).order_by("timestamp", "dimension")


def bucket_expression(by: str, zone: tzinfo, current: timeframes.Range, week_start: int):
    if by == "day":
        return TruncDay("timestamp", tzinfo=zone)
    if by == "month":
        return TruncMonth("timestamp", tzinfo=zone)
    if week_start == 0:
        return TruncWeek("timestamp", tzinfo=zone)  # ISO weeks start on Monday
    # Databases truncate weeks to Monday only: other week starts compare against the week
    # boundaries computed here in the zone (one comparison per week of the range).
    whens = [When(timestamp__lt=b.end, then=Value(b.key)) for b in timeframes.buckets(current, "week", week_start)]
    return Case(*whens, default=Value(None), output_field=DateField())


def bucket_date(value) -> date:
    """The local calendar date a database bucket value stands for."""
    if isinstance(value, datetime):
        # Trunc* returns the local midnight, aware in the zone; its date is the bucket's key.
        return value.date()
    if isinstance(value, str):  # SQLite may hand back a Case's DateField as text
        return date.fromisoformat(value[:10])
    return value


def _aggregate_function(aggregation: str, **extra):
    if aggregation == Aggregation.COUNT:
        return Count("pk", **extra)
    return _FUNCTIONS[aggregation]("value", **extra)


def _value_expression(aggregation: str):
    if aggregation == Aggregation.LATEST:
        return Sum("value")  # over the rows at the latest timestamp only, see latest_rows
    return _aggregate_function(aggregation)


def latest_rows(queryset, partition):
    """The datapoints carrying the latest timestamp of their partition (bucket, dimension).

    Grouped afterwards, Django puts the window's inputs in the GROUP BY (partition, timestamp),
    so the grouped value is first summed per timestamp and then only the partition's latest
    timestamp is kept: the sum of the values at the latest timestamp, as documented above.
    """
    latest = Window(Max("timestamp"), partition_by=partition or None)
    return queryset.annotate(latest_at=latest).filter(timestamp=F("latest_at"))


def clean_value(value, aggregation):
    if value is None:
        return None
    if aggregation == Aggregation.COUNT:
        return int(value) or None
    return float(value)


def aggregate(
    metric,
    current: timeframes.Range,
    by: str = "total",
    tz: str | tzinfo | None = None,
    *,
    aggregation: str | None = None,
    dimension: str | None = None,
    by_dimension: bool = False,
    week_start: int | str | None = None,
):
    """A metric's value over ``current``, in total or per ``day``/``week``/``month`` bucket.

    ``metric`` is a Metric (or its pk); ``aggregation`` defaults to the metric's own.
    ``dimension`` restricts to one dimension ("" is the metric without dimensions);
    ``by_dimension=True`` returns ``{dimension: result}`` for the dimensions with data.

    Returns the value (``float``, ``int`` for Count, None when empty) for ``by="total"``,
    else a list of :class:`Point` covering every bucket of the range in order.
    """
    if by not in BY:
        raise ValueError(f"Unknown grouping {by!r}: choose one of {', '.join(BY)}.")
    metric = _metric(metric)
    if is_calculated(metric):
        # Calculated from other metrics' totals: it has no dimensions (no breakdown, no value of one).
        if by_dimension:
            return {}
        result = _aggregate_calculated(metric, current, by, tz, week_start)
        if dimension is not None:
            return None if by == "total" else [Point(point.start, None) for point in result]
        return result
    aggregation = aggregation or metric.aggregation
    if aggregation not in Aggregation.values:
        raise ValueError(f"Unknown aggregation {aggregation!r}: choose one of {', '.join(Aggregation.values)}.")
    zone = timeframes.get_zone(tz) if tz is not None else current.tz
    if zone is not current.tz:
        current = replace(current, tz=zone)
    week_start = current.week_start if week_start is None else timeframes._week_start(week_start)
    viewer_zone = zone
    if is_calendar(metric):
        current = timeframes.calendar_range(current)
        zone = current.tz

    queryset = Datapoint.objects.filter(metric_id=metric.pk, timestamp__gte=current.start, timestamp__lt=current.end)
    if dimension is not None:
        queryset = queryset.filter(dimension=dimension)
    queryset = queryset.order_by()

    group = ["dimension"] if by_dimension else []
    if by != "total":
        queryset = queryset.annotate(bucket=bucket_expression(by, zone, current, week_start))
        group = ["bucket", *group]
    if aggregation == Aggregation.LATEST:
        queryset = latest_rows(queryset, [F(name) for name in group])

    value = _value_expression(aggregation)
    if not group:
        return clean_value(queryset.aggregate(result=value)["result"], aggregation)
    rows = queryset.values(*group).annotate(result=value).values_list(*group, "result")

    if by == "total":
        return {dim: clean_value(result, aggregation) for dim, result in sorted(rows)}
    keys = timeframes.bucket_keys(current, by, week_start)
    if not by_dimension:
        found = {bucket_date(key): result for key, result in rows}
        return fill_buckets(keys, found, viewer_zone, aggregation)
    per_dimension: dict[str, dict] = {}
    for key, dim, result in rows:
        per_dimension.setdefault(dim, {})[bucket_date(key)] = result
    return {dim: fill_buckets(keys, found, viewer_zone, aggregation) for dim, found in sorted(per_dimension.items())}


def fill_buckets(keys, found, zone, aggregation) -> list[Point]:
    """Every bucket of the range in order, None where the database had no row."""
    return [Point(timeframes.start_of_day(key, zone), clean_value(found.get(key), aggregation)) for key in keys]


def value_and_previous(metric, current: timeframes.Range, **options):
    """``(value over current, value over the previous period)``: what a comparison needs."""
    return aggregate(metric, current, **options), aggregate(metric, timeframes.previous(current), **options)


# ---------------------------------------------------------------- many metrics at once (screens)


def _split(metrics):
    metrics = list(metrics)
    if any(is_calculated(m) for m in metrics):
        raise ValueError("Calculated metrics are read through totals and series, which compute them.")
    plain = [m for m in metrics if m.aggregation != Aggregation.LATEST]
    latest = [m for m in metrics if m.aggregation == Aggregation.LATEST]
    return metrics, plain, latest


def _in(current: timeframes.Range) -> Q:
    return Q(timestamp__gte=current.start, timestamp__lt=current.end)


def _kinds(metrics) -> tuple[list, list]:
    """(instant-dated metrics, calendar-dated metrics)."""
    return [m for m in metrics if not is_calendar(m)], [m for m in metrics if is_calendar(m)]


def _in_kinds(period: timeframes.Range, calendar_ids) -> Q:
    """The datapoints of ``period``: the instants in it, and for the metrics in ``calendar_ids``
    the dates of its local days (:func:`builder.timeframes.calendar_range`)."""
    if not calendar_ids:
        return _in(period)
    return (_in(period) & ~Q(metric_id__in=calendar_ids)) | (
        _in(timeframes.calendar_range(period)) & Q(metric_id__in=calendar_ids)
    )


def totals(metrics, current: timeframes.Range, previous: timeframes.Range | bool | None = True) -> dict:
    """Each metric's total over ``current`` and over ``previous``, in at most two queries.

    What a screen of many metrics needs: ``{metric.pk: (value, previous_value)}`` with
    ``previous=True`` (the default: :func:`builder.timeframes.previous`) or a Range, and
    ``{metric.pk: value}`` with ``previous=None``. Each value is exactly what
    :func:`aggregate` gives for that metric with its own aggregation: one grouped query with
    an aggregate per period (``SUM(value) FILTER (WHERE ...)``), plus one query over the
    metrics whose aggregation is Latest value (an index probe per metric and period).
    Calendar-dated metrics are read in the same queries, each period cut in their own
    condition (see the module docstring).
    """
    metrics = list(metrics)
    if previous is True:
        previous = timeframes.previous(current)
    if any(is_calculated(m) for m in metrics):
        return _totals_calculated(metrics, current, previous)
    metrics, plain, latest = _split(metrics)
    periods = {"current": current, **({"previous": previous} if previous else {})}
    found = {m.pk: {} for m in metrics}

    def span(group) -> Q:
        instant, calendar = _kinds(group)
        conditions = []
        for kind, ids in ((False, [m.pk for m in instant]), (True, [m.pk for m in calendar])):
            if not ids:
                continue
            windows = [timeframes.calendar_range(r) if kind else r for r in periods.values()]
            conditions.append(
                Q(
                    metric_id__in=ids,
                    timestamp__gte=min(r.start for r in windows),
                    timestamp__lt=max(r.end for r in windows),
                )
            )
        return reduce(operator.or_, conditions)

    if plain:
        needed = {m.aggregation for m in plain}
        calendar_ids = [m.pk for m in _kinds(plain)[1]]
        annotations = {
            f"{name}_{aggregation}": _aggregate_function(aggregation, filter=_in_kinds(period, calendar_ids))
            for name, period in periods.items()
            for aggregation in needed
        }
        rows = Datapoint.objects.filter(span(plain)).order_by().values("metric_id").annotate(**annotations)
        aggregation_of = {m.pk: m.aggregation for m in plain}
        for row in rows:
            aggregation = aggregation_of[row["metric_id"]]
            for name in periods:
                found[row["metric_id"]][name] = row[f"{name}_{aggregation}"]

    if latest:
        # Per metric and period: the latest timestamp (one backward step on the (metric,
        # timestamp) index), then the sum of the values at it. A window over every datapoint
        # of the range would read them all.
        calendar_ids = [m.pk for m in _kinds(latest)[1]]
        bounds = {}
        for name, period in periods.items():
            if calendar_ids:
                # Each metric's own bounds for the period (its kind's), compared on the index.
                dated = timeframes.calendar_range(period)
                for edge in ("start", "end"):
                    bounds[f"{name}_{edge}"] = Case(
                        When(pk__in=calendar_ids, then=Value(getattr(dated, edge))),
                        default=Value(getattr(period, edge)),
                        output_field=DateTimeField(),
                    )
        annotations = {}
        for name, period in periods.items():
            if calendar_ids:
                inside = Q(timestamp__gte=OuterRef(f"{name}_start"), timestamp__lt=OuterRef(f"{name}_end"))
            else:
                inside = _in(period)
            newest = Datapoint.objects.filter(inside, metric_id=OuterRef("pk")).order_by("-timestamp")
            annotations[f"{name}_at"] = Subquery(newest.values("timestamp")[:1])
        values = {}
        for name in periods:
            at_newest = (
                Datapoint.objects.filter(metric_id=OuterRef("pk"), timestamp=OuterRef(f"{name}_at"))
                .order_by()
                .values("metric_id")
                .annotate(total=Sum("value"))
                .values("total")
            )
            values[name] = Subquery(at_newest)
        rows = (
            Metric.objects.filter(pk__in=[m.pk for m in latest])
            .order_by()
            .annotate(**bounds)
            .annotate(**annotations)
            .annotate(**values)
            .values_list("pk", *periods)
        )
        for pk, *results in rows:
            found[pk].update(zip(periods, results, strict=True))

    result = {}
    for metric in metrics:
        values = [clean_value(found[metric.pk].get(name), metric.aggregation) for name in periods]
        result[metric.pk] = tuple(values) if previous else values[0]
    return result


def series(metrics, current: timeframes.Range, by: str = "day", *, week_start: int | str | None = None) -> dict:
    """Each metric's buckets over ``current``: ``{metric.pk: [Point, ...]}``, in at most two
    queries per kind of dates present (instants, calendar dates).

    The same values as :func:`aggregate` per metric (the small charts of a screen).
    """
    if by not in timeframes.BUCKETS:
        raise ValueError(f"Unknown bucket {by!r}: choose one of {', '.join(timeframes.BUCKETS)}.")
    metrics = list(metrics)
    week_start = current.week_start if week_start is None else timeframes._week_start(week_start)
    if any(is_calculated(m) for m in metrics):
        return _series_calculated(metrics, current, by, week_start)
    instant, calendar = _kinds(metrics)
    found = {m.pk: {} for m in metrics}
    if instant:
        _series_found(instant, current, by, week_start, found)
    if calendar:
        _series_found(calendar, timeframes.calendar_range(current), by, week_start, found)
    keys = timeframes.bucket_keys(current, by, week_start)
    return {m.pk: fill_buckets(keys, found[m.pk], current.tz, m.aggregation) for m in metrics}


def _series_found(metrics, current: timeframes.Range, by: str, week_start: int, found: dict) -> None:
    """Fill ``found[pk][bucket key]`` with each metric's bucket values over ``current``, cut in its zone."""
    _, plain, latest = _split(metrics)
    bucket = bucket_expression(by, current.tz, current, week_start)

    def base(group):
        in_group = Datapoint.objects.filter(_in(current), metric_id__in=[m.pk for m in group])
        return in_group.order_by().annotate(bucket=bucket)

    if plain:
        needed = {m.aggregation for m in plain}
        annotations = {aggregation: _aggregate_function(aggregation) for aggregation in needed}
        aggregation_of = {m.pk: m.aggregation for m in plain}
        for row in base(plain).values("metric_id", "bucket").annotate(**annotations):
            found[row["metric_id"]][bucket_date(row["bucket"])] = row[aggregation_of[row["metric_id"]]]
    if latest:
        rows = (
            latest_rows(base(latest), [F("metric_id"), F("bucket")])
            .values("metric_id", "bucket")
            .annotate(result=Sum("value"))
            .values_list("metric_id", "bucket", "result")
        )
        for pk, key, result in rows:
            found[pk][bucket_date(key)] = result


# ---------------------------------------------------------------- calculated metrics

# An empty bucket of these is a real 0 for a formula (see the module docstring).
_ZERO_WHEN_EMPTY = frozenset({Aggregation.SUM, Aggregation.COUNT})


def is_calculated(metric) -> bool:
    """Whether the metric is calculated from other metrics (``builder.formulas``)."""
    return getattr(metric, "kind", Kind.API) == Kind.CALCULATED


def _input_graph(calculated) -> dict[int, list[tuple[str, Metric]]]:
    """``{calculated pk: [(name, input metric), ...]}`` for ``calculated`` and every calculated
    metric among their inputs, one query per level of nesting."""
    graph: dict[int, list[tuple[str, Metric]]] = {}
    pending = list(dict.fromkeys(m.pk for m in calculated))
    while pending:
        for pk in pending:
            graph[pk] = []
        rows = (
            MetricInput.objects.filter(metric_id__in=pending)
            .select_related("source")
            .order_by("metric_id", "position", "pk")
        )
        pending = []
        for row in rows:
            graph[row.metric_id].append((row.name, row.source))
            if is_calculated(row.source) and row.source_id not in graph and row.source_id not in pending:
                pending.append(row.source_id)
    return graph


class _Calculator:
    """Evaluates calculated metrics from their leaves' values: ``leaf(metric, slot)`` is a fetched
    metric's value in a slot (a period or a bucket), ``begun(slot)`` whether that slot has begun."""

    def __init__(self, metrics, graph, leaf, begun):
        self.graph = graph
        self.leaf = leaf
        self.begun = begun
        self.calculated = {m.pk: m for m in metrics if is_calculated(m)}
        for pairs in graph.values():
            self.calculated.update({source.pk: source for _, source in pairs if is_calculated(source)})
        self.compiled: dict[int, formulas.Formula | None] = {}
        self.memo: dict = {}

    def formula(self, pk):
        if pk not in self.compiled:
            metric = self.calculated[pk]
            try:
                names = [name for name, _ in self.graph.get(pk, [])]
                self.compiled[pk] = formulas.compile_formula(metric.formula, names)
            except formulas.FormulaError:
                self.compiled[pk] = None  # saved before a check refused it: no value rather than a crash
        return self.compiled[pk]

    def value(self, metric, slot, depth=0):
        if not is_calculated(metric):
            value = self.leaf(metric, slot)
            if value is None and metric.aggregation in _ZERO_WHEN_EMPTY and self.begun(slot):
                return 0
            return value
        key = (metric.pk, slot)
        if key not in self.memo:
            formula = self.formula(metric.pk)
            if formula is None or depth > 10:  # cycles are refused on save; never loop on bad data
                self.memo[key] = None
            else:
                values = {name: self.value(source, slot, depth + 1) for name, source in self.graph.get(metric.pk, [])}
                self.memo[key] = formula.evaluate(values)
        return self.memo[key]


def _leaves(metrics, graph) -> list:
    """The fetched metrics whose values ``metrics`` need: the plain ones and every calculated one's inputs."""
    found = {m.pk: m for m in metrics if not is_calculated(m)}
    for pairs in graph.values():
        found.update({source.pk: source for _, source in pairs if not is_calculated(source)})
    return list(found.values())


def _totals_calculated(metrics, current, previous) -> dict:
    graph = _input_graph([m for m in metrics if is_calculated(m)])
    leaves = _leaves(metrics, graph)
    read = totals(leaves, current, previous or None) if leaves else {}
    periods = [current, previous] if previous else [current]
    now = timezone.now()

    def leaf(metric, slot):
        found = read[metric.pk]
        return found[slot] if previous else found

    calculator = _Calculator(metrics, graph, leaf, lambda slot: periods[slot].start <= now)
    result = {}
    for metric in metrics:
        values = [calculator.value(metric, slot) for slot in range(len(periods))]
        if not is_calculated(metric):
            values = [leaf(metric, slot) for slot in range(len(periods))]
        result[metric.pk] = tuple(values) if previous else values[0]
    return result


def _series_calculated(metrics, current, by, week_start) -> dict:
    graph = _input_graph([m for m in metrics if is_calculated(m)])
    leaves = _leaves(metrics, graph)
    read = series(leaves, current, by, week_start=week_start) if leaves else {}
    keys = timeframes.bucket_keys(current, by, week_start)
    starts = [timeframes.start_of_day(key, current.tz) for key in keys]
    now = timezone.now()
    calculator = _Calculator(
        metrics, graph, lambda metric, slot: read[metric.pk][slot].value, lambda slot: starts[slot] <= now
    )
    result = {}
    for metric in metrics:
        if is_calculated(metric):
            result[metric.pk] = [Point(start, calculator.value(metric, slot)) for slot, start in enumerate(starts)]
        else:
            result[metric.pk] = read[metric.pk]
    return result


def _aggregate_calculated(metric, current, by, tz, week_start):
    """:func:`aggregate` of a calculated metric: its formula over its inputs' values, in ``tz``."""
    zone = timeframes.get_zone(tz) if tz is not None else current.tz
    if zone is not current.tz:
        current = replace(current, tz=zone)
    week_start = current.week_start if week_start is None else timeframes._week_start(week_start)
    if by == "total":
        return totals([metric], current, previous=None)[metric.pk]
    return series([metric], current, by, week_start=week_start)[metric.pk]
