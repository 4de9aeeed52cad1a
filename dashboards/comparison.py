"""A value compared with the previous period, coloured by the metric's favourable trend.

No queries: numbers in, a :class:`Comparison` out (the trend is a ``builder.models.Trend``).

* ``change`` is ``current - previous``; ``percent`` is ``change / |previous| * 100``, so going
  from -10 to -5 is +50 % (the value went up). When ``previous`` is 0 the percentage is
  undefined: ``percent`` is None and ``percent_note`` says why (the absolute change is still
  given). Nothing divides by zero.
* ``direction`` is ``up``, ``down`` or ``flat`` (equal within floating-point noise), or None
  when either side is empty (None: no datapoints in that period).
* ``colour`` is ``green`` when the value moves in the favourable direction (``trend`` ``up``:
  rising is good; ``down``: falling is good), ``red`` when it moves against it, ``grey`` when
  flat or when either side is empty.
* ``comparable`` is False when the previous period reaches before the metric's synced history
  (``compare(..., comparable=False)``): its value would be a part of a period, so there is no
  change, no percentage and no colour, and the change reads "no comparable data".
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from builder.models import Trend

NOT_COMPARABLE = "no comparable data"


@dataclass(frozen=True)
class Comparison:
    current: float | None
    previous: float | None
    change: float | None
    percent: float | None
    direction: str | None
    colour: str
    percent_note: str = ""
    comparable: bool = True

    @property
    def favourable(self) -> bool | None:
        """True when green, False when red, None when grey."""
        return {"green": True, "red": False}.get(self.colour)

    def percent_text(self, digits: int = 1) -> str:
        """``+12.5%``, ``-3.0%``, ``0.0%``, "no comparable data", or an em dash when undefined."""
        if not self.comparable:
            return NOT_COMPARABLE
        if self.percent is None:
            return "\u2014"
        return f"{self.percent:+.{digits}f}%" if self.percent else f"{0:.{digits}f}%"

    def as_dict(self) -> dict:
        return asdict(self)


def comparable(history, previous_start) -> bool:
    """False when the previous period (from ``previous_start``) reaches before ``history``
    (a ``syncs.history.History``: ``reaches(moment)``); True when there is no history to judge."""
    return history is None or history.reaches(previous_start)


def _is_flat(current: float, previous: float) -> bool:
    return math.isclose(current, previous, rel_tol=1e-9, abs_tol=1e-12)


def compare(
    current: float | None, previous: float | None, trend: str = Trend.UP, comparable: bool = True
) -> Comparison:
    """Compare ``current`` with ``previous`` for a metric whose favourable trend is ``trend``.

    ``comparable``: False when the previous period reaches before the synced history.
    """
    if trend not in Trend.values:
        raise ValueError(f"Unknown trend {trend!r}: choose up or down.")
    if not comparable:
        note = "the previous period reaches before the synced history"
        return Comparison(current, previous, None, None, None, "grey", note, comparable=False)
    if current is None or previous is None:
        note = "no data in the current period" if current is None else "no data in the previous period"
        return Comparison(current, previous, None, None, None, "grey", note)
    if _is_flat(current, previous):
        if previous == 0:
            return Comparison(current, previous, 0.0, None, "flat", "grey", "the previous value is 0")
        return Comparison(current, previous, 0.0, 0.0, "flat", "grey")
    change = current - previous
    direction = "up" if change > 0 else "down"
    if previous == 0:
        percent, note = None, "the previous value is 0, so the change in % is undefined"
    else:
        percent, note = change / abs(previous) * 100, ""
    colour = "green" if direction == trend else "red"
    return Comparison(current, previous, change, percent, direction, colour, note)
