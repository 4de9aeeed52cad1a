"""What each tile of a databoard shows.

* A plain tile (Number, Line chart, Bar chart of the whole metric) is a
  :class:`dashboards.reading.Summary`; tiles sharing a date range are read together
  (:func:`dashboards.reading.summarise_many`, a handful of queries whatever their number).
* A tile of one dimension (``Tile.dimension``: "New leads from Web Site") is the same Summary
  with that dimension's value, comparison and series (:mod:`dashboards.breakdowns`).
* A tile by dimension (bar, table or donut) is a :class:`ByDimension`: the top dimensions plus
  "Other" with value, share and change (:func:`dashboards.breakdowns.breakdown`, one query per
  tile and period).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from builder import timeframes
from connections.references import labels_for
from dashboards import breakdowns, comparison, reading
from syncs import history

TOP = 10  # rows of a tile by dimension before "Other"


@dataclass(frozen=True)
class ByDimension:
    """A tile by dimension: the breakdown's rows over the tile's range."""

    metric: object
    range: timeframes.Range
    rows: list  # breakdowns.Line: the top dimensions, then "Other"
    shares: bool  # whether the lines are parts of the whole (Sum, Count, Latest value)
    syncing: str = ""

    def chart_data(self):
        """JSON-ready data for the bar or donut: one label and value per row."""
        return {
            "labels": [row.label for row in self.rows],
            "values": [row.value for row in self.rows],
            "format": self.metric.number_format,
        }


def _one_dimension(tile, current: timeframes.Range, synced) -> reading.Summary:
    metric, since = tile.metric, timeframes.previous(current).start
    value, previous = breakdowns.dimension_value(metric, current, tile.dimension)
    by = reading.bucket_for(current)
    series = breakdowns.dimension_series(metric, current, tile.dimension, by)
    return reading.Summary(
        metric=metric,
        range=current,
        value=value,
        comparison=comparison.compare(
            value, previous, metric.favourable_trend, comparison.comparable(synced[metric.pk], since)
        ),
        by=by,
        series=reading.drawn(series, metric.aggregation, timezone.now()),
        syncing=synced[metric.pk].hint(since),
    )


def _by_dimension(tile, current: timeframes.Range, synced) -> ByDimension:
    since = timeframes.previous(current).start
    comparable = comparison.comparable(synced[tile.metric.pk], since)
    found = breakdowns.breakdown(tile.metric, current, top=TOP, comparable=comparable)
    return ByDimension(tile.metric, current, found.lines, found.shares, synced[tile.metric.pk].hint(since))


def read(tiles, tz) -> list[tuple]:
    """``(tile, what it shows, its dimension's label)`` in the tiles' order, read in the zone ``tz``
    (the label is "" for a tile of the whole metric)."""
    tiles = list(tiles)
    ranges = {date_range: timeframes.resolve(date_range, tz) for date_range in {t.date_range for t in tiles}}
    shown = {}
    plain = [t for t in tiles if not t.by_dimension and not t.dimension]
    for date_range, current in ranges.items():
        same_range = [t for t in plain if t.date_range == date_range]
        found = reading.summarise_many([t.metric for t in same_range], current)
        shown.update(zip((t.pk for t in same_range), found, strict=True))
    others = [t for t in tiles if t.pk not in shown]
    if others:
        synced = history.of({t.metric.pk: t.metric for t in others}.values())
        for tile in others:
            current = ranges[tile.date_range]
            shown[tile.pk] = (
                _by_dimension(tile, current, synced) if tile.by_dimension else _one_dimension(tile, current, synced)
            )
    labels = _dimension_labels(tiles)
    return [(tile, shown[tile.pk], labels.get(tile.pk, "")) for tile in tiles]


def _dimension_labels(tiles) -> dict[int, str]:
    """``{tile.pk: label}`` of the tiles showing one dimension: one lookup per metric."""
    keys_of = {}
    for tile in tiles:
        if tile.dimension:
            keys_of.setdefault(tile.metric.pk, (tile.metric, set()))[1].add(tile.dimension)
    labels = {pk: labels_for(metric.connection, keys) for pk, (metric, keys) in keys_of.items()}
    return {tile.pk: breakdowns.label_of(tile.dimension, labels[tile.metric.pk]) for tile in tiles if tile.dimension}
