"""Synced history covers whole local days for every viewer (issue 11, item 3).

A metric of instants (``createdtime``) synced with ``sync_metric --from/--to``, a backfill or a
rolling window that is the whole history reaches from the first instant of its first date
anywhere (UTC+14) to the last instant of its last date anywhere (UTC-12) or now, so viewers in
UTC, Asia/Kolkata, America/New_York and Pacific/Chatham read the sandbox's own per-day and
per-month totals, the first and last day included; and a sync stores and replaces exactly the
window it fetched.

Expected values are computed here from the sandbox's records (``sandbox.dataset``).
"""

import io
import json
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from builder import timeframes
from syncs import engine
from syncs.management.commands.sync_metric import Command as SyncMetric
from syncs.models import Datapoint, SyncRun, SyncState
from tests.factories import DatapointFactory, UserFactory
from tests.syncs.conftest import expected_leads, leads_metric

pytestmark = pytest.mark.django_db

VIEWERS = ["UTC", "Asia/Kolkata", "America/New_York", "Pacific/Chatham"]


def owner_in(zone):
    owner = UserFactory(username=f"owner-{zone.replace('/', '-').lower()}")
    owner.profile.time_zone = zone
    owner.profile.save()
    return owner


def created_times(sandbox):
    return [
        datetime.strptime(row["createdtime"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        for row in sandbox.dataset.records("Leads")
    ]


def per_local_day(moments, first, last, zone):
    """{local date: leads created that day} for the dates ``first`` to ``last`` in ``zone``."""
    days = Counter(moment.astimezone(ZoneInfo(zone)).date() for moment in moments)
    return {day: count for day, count in days.items() if first <= day <= last}


def metric_values(metric, first, last, zone, by):
    out = io.StringIO()
    options = ["--from", first.isoformat(), "--to", last.isoformat(), "--tz", zone, "--by", by, "--json"]
    call_command("metric_values", metric.name, *options, stdout=out)
    found = {date.fromisoformat(b["start"][:10]): b["value"] for b in json.loads(out.getvalue())["buckets"]}
    return {day: value for day, value in found.items() if value is not None}


def dates_with_leads_in_the_widened_hours(moments, today):
    """A first and last date, 30 days apart in the last two months, such that the sandbox has leads in
    the hours a UTC-only window would miss and on the first and last local day of every viewer.

    Chosen from the data: the seeded records move with the sandbox's today.
    """
    for days_back in range(40, 70):
        first = today - timedelta(days=days_back)
        last = first + timedelta(days=30)
        start, end = datetime.combine(first, time.min, UTC), datetime.combine(last + timedelta(days=1), time.min, UTC)
        widened = [
            m for m in moments if start - timedelta(hours=14) <= m < start or end <= m < end + timedelta(hours=12)
        ]
        days = [per_local_day(moments, first, last, viewer) for viewer in VIEWERS]
        if widened and all(first in found and last in found for found in days):
            return first, last
    raise AssertionError("the sandbox has no month with leads in the widened hours of its first and last days")


def test_sync_metric_from_to_gives_every_viewer_whole_first_and_last_days(sandbox, vtiger):
    metric = leads_metric(vtiger, aggregation="sum")  # no owner: its dates are in UTC
    moments = created_times(sandbox)
    first, last = dates_with_leads_in_the_widened_hours(moments, sandbox.dataset.today)
    out = io.StringIO()
    call_command("sync_metric", metric.name, "--from", first.isoformat(), "--to", last.isoformat(), stdout=out)
    text = out.getvalue()
    assert "succeeded" in text
    assert f"Dates in UTC: {first} to {last}." in text

    run = SyncRun.objects.get(metric=metric)
    # From the start of `first` at UTC+14 to the end of `last` at UTC-12.
    assert run.window_start == datetime.combine(first, time.min, UTC) - timedelta(hours=14)
    assert run.window_end == datetime.combine(last + timedelta(days=2), time.min, UTC) - timedelta(
        hours=12, microseconds=1
    )
    widened = [m for m in moments if run.window_start <= m < datetime.combine(first, time.min, UTC)] + [
        m for m in moments if datetime.combine(last + timedelta(days=1), time.min, UTC) <= m <= run.window_end
    ]
    assert widened, "the sandbox has leads in the widened hours, so a UTC-only window would miss some"
    stored = sorted(Datapoint.objects.filter(metric=metric).values_list("timestamp", flat=True))
    window = timeframes.Window(start=run.window_start, end=run.window_end, tz="UTC")
    assert stored == expected_leads(sandbox, window), "what was stored is exactly what the window fetched"

    for viewer in VIEWERS:
        expected = per_local_day(moments, first, last, viewer)
        assert first in expected and last in expected
        found = metric_values(metric, first, last, viewer, "day")
        assert found == expected, viewer
        months = Counter()
        for day, count in expected.items():
            months[day.replace(day=1)] += count
        assert metric_values(metric, first, last, viewer, "month") == dict(months), viewer


def test_sync_metric_tz_defaults_to_the_owners_zone_and_says_it(sandbox, vtiger):
    metric = leads_metric(vtiger, owner=owner_in("Asia/Tokyo"))
    today = sandbox.dataset.today
    first, last = today - timedelta(days=3), today - timedelta(days=2)
    out = io.StringIO()
    call_command("sync_metric", metric.name, "--from", first.isoformat(), "--to", last.isoformat(), stdout=out)
    assert f"Dates in Asia/Tokyo: {first} to {last}." in out.getvalue()

    out = io.StringIO()
    options = ["--from", first.isoformat(), "--to", last.isoformat(), "--tz", "America/St_Johns", "--json"]
    call_command("sync_metric", metric.name, *options, stdout=out)
    record = json.loads(out.getvalue())
    assert record["tz"] == "America/St_Johns" and record["status"] == "succeeded"
    # The widened window holds the days of St John's (-03:30/-02:30) and of every other zone.
    start, end = datetime.fromisoformat(record["window_start"]), datetime.fromisoformat(record["window_end"])
    assert start == datetime.combine(first, time.min, UTC) - timedelta(hours=14)
    assert end == datetime.combine(last + timedelta(days=2), time.min, UTC) - timedelta(hours=12, microseconds=1)

    out = io.StringIO()
    call_command("sync_metric", metric.name, stdout=out)
    assert "Dates in Asia/Tokyo (the metric's zone): its rolling window." in out.getvalue()

    with pytest.raises(CommandError, match="Unknown time zone 'Mars/Olympus'"):
        call_command("sync_metric", metric.name, "--from", first.isoformat(), "--tz", "Mars/Olympus")
    with pytest.raises(CommandError, match="--tz says the zone of --from and --to"):
        call_command("sync_metric", metric.name, "--tz", "UTC")


def test_sync_metric_to_today_ends_now(vtiger):
    metric = leads_metric(vtiger)
    now = datetime(2026, 10, 9, 8, 30, tzinfo=UTC)
    window = SyncMetric.window(metric, date(2026, 10, 1), date(2026, 10, 9), ZoneInfo("America/New_York"), now)
    assert window.end == now, "the newest edge is now, not the end of today at UTC-12"
    assert window.start == datetime(2026, 9, 30, 10, tzinfo=UTC), "1 October begins at UTC+14"
    past = SyncMetric.window(metric, date(2026, 10, 1), date(2026, 10, 7), ZoneInfo("America/New_York"), now)
    assert past.end == datetime(2026, 10, 8, 12, tzinfo=UTC) - timeframes.RESOLUTION, "7 October ends at UTC-12"


def test_the_oldest_backfill_window_holds_the_first_day_in_every_zone(vtiger):
    metric = leads_metric(vtiger, owner=owner_in("Asia/Kolkata"), window_days=7, history_days=30)
    now = datetime(2026, 6, 30, 15, 0, tzinfo=UTC)
    anchor, total = engine.backfill_plan(metric, now)
    windows = [engine.backfill_window(metric, anchor, i, now) for i in range(total)]
    rolling = engine.rolling_window(metric, now)
    first_day = date(2026, 6, 30) - timedelta(days=30)
    # Only the outer edge moves: the windows still meet, each one microsecond before the next.
    assert windows[0].end + timeframes.RESOLUTION == rolling.start
    for newer, older in zip(windows, windows[1:], strict=False):
        assert older.end + timeframes.RESOLUTION == newer.start
    assert windows[-1].start == datetime.combine(first_day, time.min, UTC) - timedelta(hours=14)
    assert windows[-1].tz == ZoneInfo("Asia/Kolkata"), "still cut in the owner's zone"
    for offset in range(-12 * 4, 14 * 4 + 1):  # every quarter-hour offset from UTC-12 to UTC+14
        viewer = timezone.get_fixed_timezone(15 * offset)
        assert windows[-1].start <= datetime.combine(first_day, time.min, viewer)
    # The newer windows start at local midnights in Kolkata, as before.
    for window in windows[:-1]:
        local = window.start.astimezone(ZoneInfo("Asia/Kolkata"))
        assert (local.hour, local.minute) == (0, 0)


def test_calendar_dates_and_a_rolling_window_after_history_are_not_widened(vtiger):
    now = datetime(2026, 6, 30, 15, 0, tzinfo=UTC)
    closing = leads_metric(vtiger, name="Closing", date_format="YYYY-MM-DD", history_days=30)
    assert closing.date_kind == "calendar"
    anchor, total = engine.backfill_plan(closing, now)
    oldest = engine.backfill_window(closing, anchor, total - 1, now)
    assert oldest.start == datetime(2026, 5, 31, tzinfo=UTC), "a calendar date is the same date everywhere"

    leads = leads_metric(vtiger, window_days=7, history_days=30)
    assert engine.rolling_window(leads, now).start == datetime(2026, 6, 23, tzinfo=UTC), "a backfill holds the edge"
    whole = leads_metric(vtiger, name="Whole history", window_days=30, history_days=30)
    assert engine.backfill_plan(whole, now)[1] == 0
    start = engine.rolling_window(whole, now).start
    assert start == datetime(2026, 5, 31, tzinfo=UTC) - timedelta(hours=14), "the rolling window is the whole history"


def test_a_widened_window_replaces_exactly_what_it_fetched(sandbox, vtiger):
    metric = leads_metric(vtiger, window_days=7, history_days=7)
    SyncState.objects.create(metric=metric)
    window = engine.rolling_window(metric)
    local_start = timeframes.start_of_day(window.start.date(), "UTC")
    assert window.start.astimezone(UTC) == local_start - timedelta(hours=14)
    outside = DatapointFactory(metric=metric, timestamp=window.start - timeframes.RESOLUTION, value=42)
    widened = DatapointFactory(metric=metric, timestamp=window.start + timedelta(hours=1), value=99)
    run = engine.run(metric, window)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert Datapoint.objects.filter(pk=outside.pk).exists(), "before the window: not fetched, kept"
    assert not Datapoint.objects.filter(pk=widened.pk).exists(), "in the widened hours: fetched, replaced"
    stored = sorted(Datapoint.objects.filter(metric=metric).exclude(pk=outside.pk).values_list("timestamp", flat=True))
    assert stored == expected_leads(sandbox, window)
