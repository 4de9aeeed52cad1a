"""Goals: a target for a period, progress against it and whether it is on track.

No queries here: the value comes from :func:`dashboards.queries.aggregate` over the goal's period (from
its start up to now while it runs), the period from :func:`goal_period`.

* The favourable trend decides the kind of goal: ``up`` is *reach or stay above* the target,
  ``down`` is *stay below* it.
* ``progress`` is ``value / target * 100`` (for a stay-below goal: how much of the allowance
  is used); None when the target is 0 or there is no value.
* ``expected`` is where the value should be by now at a linear pace through the period:
  ``target * elapsed fraction`` for cumulative aggregations (Sum, Count); for the others
  (Average, Min, Max, Latest value) a value does not build up over time, so the expected
  value is the target itself all along. ``elapsed`` is measured in real time, so a period
  with a DST change is paced by its true length.
* ``status``:

  ========== ===========================================================================
  upcoming   the period has not started
  no_data    no value yet
  achieved   up: the target is reached (a cumulative goal can be reached early); any
             goal that ended on the right side of the target
  on_track   running, and at or ahead of the pace (up) / within the pace (down)
  off_track  running, behind the pace (up) / ahead of the allowed pace or above the
             limit for a non-cumulative goal (down)
  missed     the period ended on the wrong side of the target, or a cumulative
             stay-below goal already went over its limit
  no_comparable_data  started, but the period begins before the metric's synced history
             (``comparable=False``): the value so far is only a part of it, so there is
             no pace and no projection
  ========== ===========================================================================
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, tzinfo

from builder import timeframes
from builder.models import Aggregation, Trend
from dashboards.models import Goal

CUMULATIVE = (Aggregation.SUM, Aggregation.COUNT)


def is_cumulative(aggregation: str) -> bool:
    return aggregation in CUMULATIVE


def goal_period(
    kind: str,
    tz: str | tzinfo,
    *,
    anchor: date | None = None,
    start_date: date | None = None,
    end_date: date | None = None,
) -> timeframes.Range:
    """The whole period of a goal: the month, quarter or year holding ``anchor`` (default:
    today in ``tz``), or a custom range of local dates (both included)."""
    if kind == Goal.Period.CUSTOM:
        if start_date is None or end_date is None:
            raise ValueError("A custom goal period needs a start date and an end date.")
        return timeframes.custom(start_date, end_date, tz)
    if kind not in Goal.Period.values:
        raise ValueError(f"Unknown goal period {kind!r}: choose one of {', '.join(Goal.Period.values)}.")
    if anchor is None:
        anchor = datetime.now(UTC).astimezone(timeframes.get_zone(tz)).date()
    return timeframes.period(kind, anchor, tz)


def so_far(period: timeframes.Range, now: datetime | None = None) -> timeframes.Range:
    """The part of ``period`` up to ``now``: the range to aggregate for the goal's value."""
    now = datetime.now(UTC) if now is None else now
    end = min(max(now, period.start), period.end)
    return replace(period, end=end)


@dataclass(frozen=True)
class GoalProgress:
    target: float
    value: float | None
    trend: str
    kind: str  # "at_least" (reach/stay above) or "at_most" (stay below)
    cumulative: bool
    elapsed: float  # fraction of the period gone, 0..1
    expected: float  # where the value should be by now
    progress: float | None  # value / target * 100
    projected: float | None  # cumulative: the value at the end at the current pace
    status: str

    def as_dict(self) -> dict:
        return asdict(self)


def evaluate(
    target: float,
    value: float | None,
    period: timeframes.Range,
    trend: str,
    now: datetime | None = None,
    *,
    cumulative: bool = True,
    comparable: bool = True,
) -> GoalProgress:
    """Progress of ``value`` (the metric over the period so far) against ``target``.

    ``comparable``: False when the period starts before the metric's synced history.
    """
    if trend not in Trend.values:
        raise ValueError(f"Unknown trend {trend!r}: choose up or down.")
    now = datetime.now(UTC) if now is None else now
    if now.tzinfo is None:
        raise ValueError("now must be time-zone-aware.")
    length = (period.end - period.start).total_seconds()
    if length <= 0:
        raise ValueError("A goal's period cannot be empty.")
    elapsed = min(max((now - period.start).total_seconds() / length, 0.0), 1.0)
    expected = target * elapsed if cumulative else target
    progress = None if value is None or target == 0 else value / target * 100
    projected = value / elapsed if cumulative and value is not None and elapsed > 0 and comparable else None
    started, ended = now >= period.start, now >= period.end
    above = trend == Trend.UP

    if not started:
        status = "upcoming"
    elif not comparable:
        status = "no_comparable_data"
    elif value is None:
        status = "no_data"
    elif ended:
        status = "achieved" if (value >= target if above else value <= target) else "missed"
    elif above and cumulative and value >= target:
        status = "achieved"  # reached before the end
    elif above:
        status = "on_track" if value >= expected else "off_track"
    elif cumulative and value > target:
        status = "missed"
    else:
        status = "on_track" if value <= expected else "off_track"

    return GoalProgress(
        target=target,
        value=value,
        trend=trend,
        kind="at_least" if above else "at_most",
        cumulative=cumulative,
        elapsed=elapsed,
        expected=expected,
        progress=progress,
        projected=projected,
        status=status,
    )
