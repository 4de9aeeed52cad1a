"""Goals: progress, linear expected-by-now and on-track status for both kinds of goal."""

from datetime import UTC, date, datetime

import pytest
import time_machine

from builder import timeframes
from dashboards import goals

APRIL = timeframes.period("month", date(2026, 4, 1), "UTC")  # 30 days


def at(day, hour=0):
    return datetime(2026, 4, day, hour, tzinfo=UTC)


MID_APRIL = at(16)  # exactly half of April gone


def test_reach_a_cumulative_target_on_track_and_off_track():
    on = goals.evaluate(1000, 520, APRIL, "up", MID_APRIL)
    assert on.elapsed == pytest.approx(0.5)
    assert on.expected == pytest.approx(500)
    assert on.progress == pytest.approx(52.0)
    assert on.projected == pytest.approx(1040)
    assert (on.kind, on.status) == ("at_least", "on_track")
    assert goals.evaluate(1000, 480, APRIL, "up", MID_APRIL).status == "off_track"


def test_reached_early_is_achieved_and_the_end_decides():
    assert goals.evaluate(1000, 1000, APRIL, "up", MID_APRIL).status == "achieved"
    assert goals.evaluate(1000, 990, APRIL, "up", at(30, 23)).status == "off_track"  # pace: 998.6
    assert goals.evaluate(1000, 999, APRIL, "up", at(30, 23)).status == "on_track"
    may = datetime(2026, 5, 1, tzinfo=UTC)
    assert goals.evaluate(1000, 999, APRIL, "up", may).status == "missed"
    assert goals.evaluate(1000, 1001, APRIL, "up", may).status == "achieved"


def test_stay_below_a_cumulative_budget():
    within = goals.evaluate(1000, 400, APRIL, "down", MID_APRIL)
    assert (within.kind, within.status, within.progress) == ("at_most", "on_track", 40.0)
    assert goals.evaluate(1000, 600, APRIL, "down", MID_APRIL).status == "off_track"  # ahead of the pace
    assert goals.evaluate(1000, 1001, APRIL, "down", MID_APRIL).status == "missed"  # already over
    may = datetime(2026, 5, 1, tzinfo=UTC)
    assert goals.evaluate(1000, 990, APRIL, "down", may).status == "achieved"


def test_non_cumulative_goals_expect_the_target_all_along():
    # Average response time: stay below 4 hours.
    below = goals.evaluate(4.0, 3.5, APRIL, "down", at(2), cumulative=False)
    assert (below.expected, below.status, below.projected) == (4.0, "on_track", None)
    assert goals.evaluate(4.0, 4.5, APRIL, "down", at(2), cumulative=False).status == "off_track"
    # Average deal size: stay above 500 (not "achieved" before the end).
    assert goals.evaluate(500, 600, APRIL, "up", at(2), cumulative=False).status == "on_track"
    assert goals.evaluate(500, 400, APRIL, "up", at(2), cumulative=False).status == "off_track"
    assert goals.evaluate(500, 400, APRIL, "up", datetime(2026, 5, 2, tzinfo=UTC), cumulative=False).status == "missed"


def test_upcoming_no_data_and_zero_target():
    assert goals.evaluate(100, None, APRIL, "up", datetime(2026, 3, 31, tzinfo=UTC)).status == "upcoming"
    empty = goals.evaluate(100, None, APRIL, "up", MID_APRIL)
    assert (empty.status, empty.progress) == ("no_data", None)
    zero = goals.evaluate(0, 3, APRIL, "down", MID_APRIL)
    assert zero.progress is None and zero.status == "missed"


def test_pace_uses_real_time_across_dst():
    # March 2026 in New York has 743 hours; 12:00 EDT on the 16th is 15 d 11 h (371 h) in.
    march = timeframes.period("month", date(2026, 3, 1), "America/New_York")
    now = datetime(2026, 3, 16, 16, tzinfo=UTC)
    result = goals.evaluate(743, 0, march, "up", now)
    assert result.expected == pytest.approx(371)


def test_goal_periods():
    kolkata_q = goals.goal_period("quarter", "Asia/Kolkata", anchor=date(2026, 5, 5))
    assert kolkata_q.start == datetime(2026, 3, 31, 18, 30, tzinfo=UTC)
    custom = goals.goal_period("custom", "UTC", start_date=date(2026, 4, 1), end_date=date(2026, 4, 10))
    assert (custom.start, custom.end) == (at(1), at(11))
    with time_machine.travel(datetime(2026, 12, 31, 19, tzinfo=UTC), tick=False):
        # Already 1 January 2027 in Kathmandu.
        assert goals.goal_period("year", "Asia/Kathmandu").first_day == date(2027, 1, 1)
        assert goals.so_far(APRIL).end == APRIL.end
    assert goals.so_far(APRIL, MID_APRIL).end == MID_APRIL
    assert goals.so_far(APRIL, datetime(2026, 3, 1, tzinfo=UTC)).end == APRIL.start
    with pytest.raises(ValueError):
        goals.goal_period("week", "UTC")
    with pytest.raises(ValueError):
        goals.goal_period("custom", "UTC", start_date=date(2026, 4, 1))
    with pytest.raises(ValueError):
        goals.evaluate(1, 1, APRIL, "sideways", MID_APRIL)


def test_is_cumulative():
    assert goals.is_cumulative("sum") and goals.is_cumulative("count")
    assert not any(goals.is_cumulative(a) for a in ("average", "min", "max", "latest"))
