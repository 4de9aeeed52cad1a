from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from builder.placeholders import (
    DEFAULT_FORMAT,
    PatternError,
    Placeholder,
    PlaceholderError,
    find,
    parse_pattern,
    render,
    render_json,
    validate,
)
from builder.timeframes import PREVIEW_PRESETS, Window, preview_window, start_of_day, sync_window

NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")
HOUR = timedelta(hours=1)
TICK = timedelta(microseconds=1)


def day_window(year, month, day, tz):
    """The whole local day, as preview_window("yesterday") cuts it the day after."""
    now = datetime(year, month, day, 12, tzinfo=tz) + timedelta(days=1)
    return preview_window("yesterday", tz, now)


@pytest.fixture
def utc_day():
    return day_window(2026, 6, 30, UTC)


# ---------------------------------------------------------------- formats


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{start}}", "2026-06-30 00:00:00"),
        ("{{end}}", "2026-06-30 23:59:59"),
        ("{{start:YYYY-MM-DD}}", "2026-06-30"),
        ("{{end:YYYY-MM-DD}}", "2026-06-30"),
        ("{{start:YYYY-MM-DD HH:mm:ss}}", "2026-06-30 00:00:00"),
        ("{{end:YYYY-MM-DD HH:mm:ss}}", "2026-06-30 23:59:59"),
        ("{{end:YYYY-MM-DD HH:MM:SS}}", "2026-06-30 23:59:59"),  # the product text's spelling
        ("{{start:iso}}", "2026-06-30T00:00:00+00:00"),
        ("{{end:iso}}", "2026-06-30T23:59:59+00:00"),
        ("{{start:unix}}", "1782777600"),
        ("{{end:unix}}", "1782863999"),
        ("{{start:unix_ms}}", "1782777600000"),
        ("{{end:unix_ms}}", "1782863999999"),
        ("{{start:DD/MM/YYYY}}", "30/06/2026"),
        ("{{start:YYYY-MM-DDTHH:mm:ss}}", "2026-06-30T00:00:00"),
        ("{{end:DD.MM.YYYY HH:mm}}", "30.06.2026 23:59"),
        ("{{end:YYYY/MM/DD}}", "2026/06/30"),
        ("{{ start : iso }}", "2026-06-30T00:00:00+00:00"),
    ],
)
def test_every_format_in_utc(utc_day, text, expected):
    assert render(text, utc_day) == expected


def test_default_format_is_vtigers_datetime(utc_day):
    assert DEFAULT_FORMAT == "YYYY-MM-DD HH:mm:ss"
    assert render("{{start}}", utc_day) == render("{{start:YYYY-MM-DD HH:mm:ss}}", utc_day)


def test_placeholders_inside_a_vtql_query(utc_day):
    query = (
        "SELECT amount, closingdate FROM Potentials WHERE closingdate >= '{{start:YYYY-MM-DD}}' "
        "AND closingdate <= '{{end:YYYY-MM-DD}}';"
    )
    assert render(query, utc_day) == (
        "SELECT amount, closingdate FROM Potentials WHERE closingdate >= '2026-06-30' AND closingdate <= '2026-06-30';"
    )


def test_text_without_placeholders_is_unchanged(utc_day):
    assert render("SELECT * FROM Leads;", utc_day) == "SELECT * FROM Leads;"
    assert render("", utc_day) == ""
    assert render("{single} braces {stay}", utc_day) == "{single} braces {stay}"


# ---------------------------------------------------------------- zones


def test_kolkata_half_hour_offset():
    window = day_window(2026, 6, 30, KOLKATA)
    assert render("{{start:iso}} {{end:iso}}", window) == "2026-06-30T00:00:00+05:30 2026-06-30T23:59:59+05:30"
    # Local midnight in Kolkata is 18:30 UTC the day before.
    assert render("{{start}}", window, zone=UTC) == "2026-06-29 18:30:00"
    assert render("{{end}}", window, zone="UTC") == "2026-06-30 18:29:59"
    assert render("{{start:unix}}", window) == str(1782777600 - 5 * 3600 - 1800)


def test_new_york_spring_forward_day_is_23_hours():
    window = day_window(2026, 3, 8, NEW_YORK)
    assert window.length == 23 * HOUR
    assert render("{{start:iso}}", window) == "2026-03-08T00:00:00-05:00"
    assert render("{{end:iso}}", window) == "2026-03-08T23:59:59-04:00"
    assert render("{{start}} / {{end}}", window, zone=UTC) == "2026-03-08 05:00:00 / 2026-03-09 03:59:59"
    assert int(render("{{end:unix}}", window)) - int(render("{{start:unix}}", window)) == 23 * 3600 - 1


def test_new_york_fall_back_day_is_25_hours():
    window = day_window(2026, 11, 1, NEW_YORK)
    assert window.length == 25 * HOUR
    assert render("{{start:iso}} {{end:iso}}", window) == "2026-11-01T00:00:00-04:00 2026-11-01T23:59:59-05:00"
    assert render("{{start}} / {{end}}", window, zone=UTC) == "2026-11-01 04:00:00 / 2026-11-02 04:59:59"
    assert render("{{start:unix_ms}}", window) == "1793505600000"


def test_epoch_formats_do_not_depend_on_the_rendering_zone():
    window = day_window(2026, 3, 8, NEW_YORK)
    for zone in (UTC, NEW_YORK, KOLKATA):
        assert render("{{start:unix}} {{end:unix_ms}}", window, zone=zone) == "1772946000 1773028799999"


def test_rendering_zone_changes_the_written_wall_clock_only():
    window = day_window(2026, 6, 30, NEW_YORK)
    assert render("{{start}}", window) == "2026-06-30 00:00:00"
    assert render("{{start}}", window, zone=UTC) == "2026-06-30 04:00:00"
    assert render("{{start:YYYY-MM-DD}}", window, zone=KOLKATA) == "2026-06-30"
    assert render("{{end:YYYY-MM-DD}}", window, zone=KOLKATA) == "2026-07-01"


def test_unknown_rendering_zone_is_an_error(utc_day):
    with pytest.raises(ValueError, match="Unknown time zone 'Mars/Olympus'"):
        render("{{start}}", utc_day, zone="Mars/Olympus")


# ---------------------------------------------------------------- errors


def test_unknown_placeholder_names_the_token(utc_day):
    with pytest.raises(PlaceholderError) as caught:
        render("x = '{{begin}}'", utc_day)
    assert caught.value.token == "{{begin}}"
    assert str(caught.value) == "Unknown placeholder {{begin}}: only {{start}} and {{end}} exist."


def test_unknown_format_names_the_token(utc_day):
    with pytest.raises(PlaceholderError) as caught:
        render("{{start:QQ}}", utc_day)
    assert caught.value.token == "{{start:QQ}}"
    assert "Unknown date format 'QQ' in {{start:QQ}}" in str(caught.value)
    assert "iso, unix, unix_ms" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{{end:yyyy-mm-dd}}", "'yyyy' is not a date part (the year is YYYY, the day DD)"),
        ("{{start:YYYY-MM-DD HH:MM}}", "MM appears twice (MM is the month, mm the minutes)"),
        ("{{start:}}", "the format is empty"),
        ("{{start:YYYY_MM}}", "'_MM' is not a date part"),
        ("{{start:unix_s}}", "Unknown date format 'unix_s'"),
        ("{{now}}", "Unknown placeholder {{now}}"),
        ("{{}}", "Unknown placeholder {{}}"),
        ("'{{start:YYYY-MM-DD}'", "Unclosed placeholder {{start:YYYY-MM-DD}: write it as"),
        ("x {{start:YYYY-MM-DD", "Unclosed placeholder {{start:YYYY-MM-DD: write it as"),
    ],
)
def test_validate_explains_each_mistake(text, fragment):
    errors = validate(text)
    assert len(errors) == 1
    assert fragment in errors[0]


def test_validate_lists_every_error_and_passes_good_text():
    assert validate("a {{start}} b {{end:YYYY-MM-DD}} c {{start:unix_ms}}") == []
    errors = validate("{{begin}} and {{start:QQ}} and {{end}}")
    assert [e.split(":")[0] for e in errors] == ["Unknown placeholder {{begin}}", "Unknown date format 'QQ' in {{start"]


def test_validate_walks_a_json_body():
    body = {"filter": {"from": "{{start:iso}}", "to": ["{{finish}}"]}, "n": 3, "ok": None}
    assert validate(body) == ["Unknown placeholder {{finish}}: only {{start}} and {{end}} exist."]


def test_find_lists_the_placeholders_used():
    assert find("a {{start}} {{end:YYYY-MM-DD}} {{begin}} {{start:YYYY-MM-DD HH:MM:SS}}") == [
        Placeholder(raw="{{start}}", name="start", fmt=None),
        Placeholder(raw="{{end:YYYY-MM-DD}}", name="end", fmt="YYYY-MM-DD"),
        Placeholder(raw="{{start:YYYY-MM-DD HH:MM:SS}}", name="start", fmt="YYYY-MM-DD HH:mm:ss"),
    ]
    assert find([("query", "{{start:unix}}"), ("x", "y")]) == [Placeholder("{{start:unix}}", "start", "unix")]
    assert find("nothing here") == []


def test_parse_pattern():
    assert parse_pattern("DD/MM/YYYY") == ("DD", "/", "MM", "/", "YYYY")
    assert parse_pattern("YYYY-MM-DDTHH:mm:ss") == ("YYYY", "-", "MM", "-", "DD", "T", "HH", ":", "mm", ":", "ss")
    with pytest.raises(PatternError, match="'Q' is not a date part"):
        parse_pattern("YYYY Q")


# ---------------------------------------------------------------- JSON bodies


def test_render_json_recurses_and_makes_whole_epoch_placeholders_numbers(utc_day):
    body = {
        "since": "{{start:unix}}",
        "until_ms": "{{end:unix_ms}}",
        "label": "from {{start:unix}}",
        "range": ["{{start:YYYY-MM-DD}}", "{{end:iso}}"],
        "nested": {"{{start}}": "{{start}}", "n": 5, "flag": True, "none": None},
        "pair": ("{{end:YYYY-MM-DD}}",),
    }
    assert render_json(body, utc_day) == {
        "since": 1782777600,
        "until_ms": 1782863999999,
        "label": "from 1782777600",
        "range": ["2026-06-30", "2026-06-30T23:59:59+00:00"],
        "nested": {"{{start}}": "2026-06-30 00:00:00", "n": 5, "flag": True, "none": None},
        "pair": ("2026-06-30",),
    }


def test_render_json_raises_on_a_bad_placeholder(utc_day):
    with pytest.raises(PlaceholderError, match="begin"):
        render_json({"a": ["{{begin}}"]}, utc_day)


# ---------------------------------------------------------------- windows


def test_window_rejects_naive_and_reversed_ranges():
    with pytest.raises(ValueError, match="aware"):
        Window(datetime(2026, 1, 1), datetime(2026, 1, 2), UTC)
    with pytest.raises(ValueError, match="cannot end"):
        Window(datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), UTC)


def test_window_accepts_a_zone_name_and_contains_its_ends():
    window = Window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC), "Asia/Kolkata")
    assert window.tz == KOLKATA
    assert window.contains(window.start) and window.contains(window.end)
    assert not window.contains(window.end + TICK)


def test_preview_presets_in_new_york():
    now = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)  # Wednesday 11:30 EDT
    expected = {
        "today": ("2026-03-11T00:00:00-04:00", now),
        "yesterday": ("2026-03-10T00:00:00-04:00", "2026-03-10T23:59:59.999999-04:00"),
        "last_7_days": ("2026-03-05T00:00:00-05:00", now),
        "last_30_days": ("2026-02-10T00:00:00-05:00", now),
        "this_week": ("2026-03-09T00:00:00-04:00", now),
        "last_week": ("2026-03-02T00:00:00-05:00", "2026-03-08T23:59:59.999999-04:00"),
        "this_month": ("2026-03-01T00:00:00-05:00", now),
        "last_month": ("2026-02-01T00:00:00-05:00", "2026-02-28T23:59:59.999999-05:00"),
    }
    assert set(expected) == set(PREVIEW_PRESETS)
    for preset, (start, end) in expected.items():
        window = preview_window(preset, "America/New_York", now)
        assert window.start.isoformat() == start, preset
        assert window.end == (end if isinstance(end, datetime) else datetime.fromisoformat(end)), preset
        assert window.tz == NEW_YORK


def test_last_week_across_spring_forward_is_167_hours():
    window = preview_window("last_week", NEW_YORK, datetime(2026, 3, 11, 15, tzinfo=UTC))
    assert window.length == 7 * 24 * HOUR - HOUR


def test_last_month_in_kolkata_starts_at_local_midnight():
    window = preview_window("last_month", KOLKATA, datetime(2026, 1, 15, 3, tzinfo=UTC))
    assert render("{{start:iso}} {{end:iso}}", window) == "2025-12-01T00:00:00+05:30 2025-12-31T23:59:59+05:30"
    assert window.start == datetime(2025, 11, 30, 18, 30, tzinfo=UTC)


def test_preview_today_uses_the_local_date_not_the_utc_date():
    now = datetime(2026, 6, 30, 20, tzinfo=UTC)  # already 1 July in Kolkata
    assert preview_window("today", KOLKATA, now).start == datetime(2026, 6, 30, 18, 30, tzinfo=UTC)
    assert preview_window("today", UTC, now).start == datetime(2026, 6, 30, tzinfo=UTC)


@time_machine.travel(datetime(2026, 11, 28, 20, 15, tzinfo=UTC), tick=False)
def test_preview_window_defaults_to_the_current_time():
    window = preview_window("today", "UTC")
    assert window.start == datetime(2026, 11, 28, tzinfo=UTC)
    assert window.end == datetime(2026, 11, 28, 20, 15, tzinfo=UTC)


def test_preview_window_errors():
    with pytest.raises(ValueError, match="Unknown preview range 'last_year'"):
        preview_window("last_year", UTC, datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="aware"):
        preview_window("today", UTC, datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="Unknown time zone"):
        preview_window("today", "Nowhere/Land", datetime(2026, 1, 1, tzinfo=UTC))


def test_sync_window_is_whole_days_before_today_plus_today_so_far():
    now = datetime(2026, 3, 12, 14, 0, tzinfo=UTC)
    window = sync_window(now, 7, NEW_YORK)
    assert window.start.isoformat() == "2026-03-05T00:00:00-05:00"
    assert window.end == now
    # Across the spring-forward night the seven whole days are one hour short.
    assert now - window.start == 7 * 24 * HOUR - HOUR + timedelta(hours=10)
    assert render("{{start:YYYY-MM-DD}}..{{end:YYYY-MM-DD}}", window) == "2026-03-05..2026-03-12"


def test_sync_window_today_only_and_errors():
    now = datetime(2026, 11, 1, 12, tzinfo=UTC)
    window = sync_window(now, 0, "America/New_York")
    assert window.start.isoformat() == "2026-11-01T00:00:00-04:00"
    assert window.length == now - window.start + TICK
    with pytest.raises(ValueError, match="negative"):
        sync_window(now, -1, UTC)


def test_start_of_day_when_dst_skips_midnight():
    # Chile springs forward at midnight: 2026-09-06 begins at 01:00.
    start = start_of_day(datetime(2026, 9, 6).date(), "America/Santiago")
    assert start.isoformat() == "2026-09-06T01:00:00-03:00"
    assert start.astimezone(UTC) == datetime(2026, 9, 6, 4, tzinfo=UTC)
