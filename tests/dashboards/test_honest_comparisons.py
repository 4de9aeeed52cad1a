"""Honest comparisons: a previous period before the synced history is "no comparable data", and a
running backfill says how far it got ("history still syncing: 1 of 3 windows").

The history is synced the way a worker stores it (``engine.start_run`` + ``storage.store`` for the
rolling window and each backfill window), so the state the dashboards read is the real one.
"""

from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse

from dashboards import alerts, comparison, scorecards
from dashboards.models import Alert, Databoard, Goal, Scorecard, Tile
from syncs import engine, history, storage
from syncs.models import SyncRun, SyncState
from syncs.uses import add_use
from tests.factories import MetricFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)  # a Sunday; 28 days of history reach back to 15 Feb
POINTS = [
    (datetime(2026, 2, 15, 6, tzinfo=UTC), 1.0),  # the first day of the history
    (datetime(2026, 2, 20, 10, tzinfo=UTC), 50.0),
    (datetime(2026, 2, 25, 10, tzinfo=UTC), 100.0),
    (datetime(2026, 3, 2, 10, tzinfo=UTC), 500.0),
    (datetime(2026, 3, 10, 10, tzinfo=UTC), 651.0),
]


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def _store(metric, window, backfill_index=None):
    kind = SyncRun.Kind.SCHEDULED if backfill_index is None else SyncRun.Kind.BACKFILL
    run = engine.start_run(metric, window, kind=kind)
    points = [(when, value, "") for when, value in POINTS if window.contains(when)]
    storage.store(
        metric,
        points,
        window=window,
        stamp=NOW,
        run=run,
        backfill_index=backfill_index,
        expected_hash=metric.definition_hash(),
    )


def synced(owner, name="Won amount", windows=None):
    """A metric (7-day window, 28 days of history) put in use and synced: the rolling window,
    then ``windows`` backfill windows (all of them when None)."""
    owner.profile.time_zone = "UTC"
    owner.profile.save()
    metric = MetricFactory(name=name, owner=owner, aggregation="sum", window_days=7, history_days=28)
    add_use(metric, "screen")
    sync_state = SyncState.objects.get(metric=metric)
    assert sync_state.backfill_total_windows == 3
    _store(metric, engine.rolling_window(metric))
    for index in range(sync_state.backfill_total_windows if windows is None else windows):
        _store(metric, engine.backfill_window(metric, sync_state.backfill_anchor, index), backfill_index=index)
    return metric


def _tile_text(page, metric):
    return page.split(f'data-metric="{metric.uuid}"', 1)[1].split("</article>", 1)[0]


def test_the_history_reaches_back_to_its_first_window(analyst_user):
    metric = synced(analyst_user)
    found = history.of([metric])[metric.pk]
    assert found.start <= datetime(2026, 2, 15, tzinfo=UTC) and not found.running
    assert found.reaches(datetime(2026, 2, 15, 6, tzinfo=UTC))
    assert not found.reaches(datetime(2026, 2, 1, tzinfo=UTC))


def test_the_history_starts_again_when_an_edited_definition_drops_the_data(analyst_user):
    metric = synced(analyst_user)
    assert SyncState.objects.get(metric=metric).history_start is not None
    metric.expression = 'result.{"value": 2, "date": createdtime}'
    metric.save()  # the data are dropped and synced again
    assert SyncState.objects.get(metric=metric).history_start is None
    _store(metric, engine.rolling_window(metric))
    assert SyncState.objects.get(metric=metric).history_start == engine.rolling_window(metric).start


def test_screen_says_no_comparable_data_when_the_previous_period_is_before_the_history(analyst_client, analyst_user):
    metric = synced(analyst_user)
    page = analyst_client.get(reverse("home"), {"range": "this_month"}).content.decode()
    tile = _tile_text(page, metric)
    assert "1,151" in tile  # this month: 500 + 651, all synced
    assert "no comparable data" in tile  # 1 February lies before the history (15 February)
    assert "%" not in tile.split("change", 1)[1].split("</p>", 1)[0]  # not "+115000.0% (+1,150)"
    assert "change-grey" in tile

    # A previous period inside the history is compared as before.
    page = analyst_client.get(reverse("home"), {"range": "last_7_days"}).content.decode()
    tile = _tile_text(page, metric)
    assert "+30.2%" in tile and "no comparable data" not in tile  # 651 against 500


def test_databoard_tile_and_metric_page_say_no_comparable_data(analyst_client, analyst_user):
    metric = synced(analyst_user)
    board = Databoard.objects.create(name="Sales", owner=analyst_user)
    Tile.objects.create(databoard=board, metric=metric, position=1, date_range="this_month")
    Tile.objects.create(databoard=board, metric=metric, position=2, date_range="last_7_days")
    page = analyst_client.get(reverse("dashboards:databoard", args=[board.uuid])).content.decode()
    first, second = page.split('class="card tile')[1:3]
    assert "no comparable data" in first and "%" not in first.split("change", 1)[1].split("</p>", 1)[0]
    assert "+30.2%" in second

    reading = analyst_client.get(reverse("dashboards:reading", args=[metric.uuid]), {"range": "this_month"})
    assert "no comparable data" in reading.content.decode()


def test_scorecard_text_and_html_say_no_comparable_data(analyst_user):
    metric = synced(analyst_user)
    monthly = Scorecard.objects.create(name="Monthly", frequency="monthly", hour=8, owner=analyst_user)
    monthly.metrics.set([metric])
    [row] = scorecards.build(monthly, NOW).rows  # February against January: before the history
    assert not row.comparable and row.comparison.colour == "grey"
    rendered = scorecards.render(monthly, NOW)
    assert "Won amount\n  151   no comparable data · was" in rendered.text
    assert "no comparable data" in rendered.html

    weekly = Scorecard.objects.create(name="Weekly", frequency="weekly", hour=8, owner=analyst_user)
    weekly.metrics.set([metric])
    assert "Won amount\n  500   +400.0% (+400) better · was 100" in scorecards.render(weekly, NOW).text


def test_a_change_alert_does_not_fire_on_a_period_before_the_history(analyst_user):
    metric = synced(analyst_user)
    before = Alert.objects.create(
        metric=metric, condition="change", threshold=10, date_range="this_month", created_by=analyst_user
    )
    reading = alerts.read(before, NOW)
    assert reading.value == 1151 and reading.comparison.previous == 1  # "+115000%" until now
    assert not reading.holds and not reading.comparison.comparable
    assert alerts.evaluate(before, NOW) is None and not Alert.objects.get(pk=before.pk).triggered

    inside = Alert.objects.create(
        metric=metric, condition="change", threshold=10, date_range="last_7_days", created_by=analyst_user
    )
    assert alerts.read(inside, NOW).holds  # +30.2%, inside the history


def test_a_running_backfill_says_how_far_it_got(analyst_client, analyst_user):
    metric = synced(analyst_user, windows=1)
    found = history.of([metric])[metric.pk]
    assert found.running and (found.done, found.total) == (1, 3)

    page = analyst_client.get(reverse("home"), {"range": "this_month"}).content.decode()
    tile = _tile_text(page, metric)
    assert "history still syncing: 1 of 3 windows" in tile
    assert "no comparable data" in tile

    board = Databoard.objects.create(name="Sales", owner=analyst_user)
    Tile.objects.create(databoard=board, metric=metric, position=1, date_range="this_month")
    board_page = analyst_client.get(reverse("dashboards:databoard", args=[board.uuid])).content.decode()
    assert "history still syncing: 1 of 3 windows" in board_page
    reading = analyst_client.get(reverse("dashboards:reading", args=[metric.uuid]), {"range": "this_month"})
    assert "history still syncing: 1 of 3 windows" in reading.content.decode()


def test_no_hint_once_the_backfill_is_done(analyst_client, analyst_user):
    metric = synced(analyst_user)
    page = analyst_client.get(reverse("home"), {"range": "this_month"}).content.decode()
    assert "history still syncing" not in _tile_text(page, metric)


def test_compare_not_comparable_has_no_change_and_no_colour():
    result = comparison.compare(1151, 1, "up", comparable=False)
    assert (result.change, result.percent, result.direction, result.colour) == (None, None, None, "grey")
    assert result.percent_text() == "no comparable data"
    assert comparison.compare(1151, 1, "up").percent_text() == "+115000.0%"


def test_goal_pace_says_no_comparable_data_when_the_period_starts_before_the_history(analyst_client, analyst_user):
    metric = synced(analyst_user)
    quarter = Goal.objects.create(metric=metric, target=5000, period="quarter", created_by=analyst_user)  # from 1 Jan
    month = Goal.objects.create(metric=metric, target=2000, period="month", created_by=analyst_user)  # from 1 Mar
    page = analyst_client.get(reverse("dashboards:goals", args=[metric.uuid])).content.decode()
    quarter_row = page.split(f'data-goal="{quarter.pk}"', 1)[1].split("</tr>", 1)[0]
    month_row = page.split(f'data-goal="{month.pk}"', 1)[1].split("</tr>", 1)[0]
    assert "No comparable data" in quarter_row and "expected by now" not in quarter_row
    assert "goal-off_track" not in quarter_row and "goal-on_track" not in quarter_row
    assert "expected by now" in month_row and "goal-on_track" in month_row  # 1,151 against about 935 by mid-March
