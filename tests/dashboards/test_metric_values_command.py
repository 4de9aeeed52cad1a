"""manage.py metric_values: words, --json, buckets in a zone, and clear errors."""

import json
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.factories import MetricFactory, datapoints


@pytest.fixture
def revenue(db):
    metric = MetricFactory(name="Revenue", aggregation="sum", current=True)
    datapoints(
        metric,
        [
            (datetime(2026, 3, 7, 12, tzinfo=UTC), 10.0),
            (datetime(2026, 3, 8, 4, 30, tzinfo=UTC), 2.5),  # still 7 March in New York (23:30 EST)
            (datetime(2026, 3, 8, 12, tzinfo=UTC), 1000.0),
            (datetime(2026, 3, 10, 12, tzinfo=UTC), 7.0),
        ],
    )
    return metric


def run(*args):
    out = StringIO()
    call_command("metric_values", *args, stdout=out)
    return out.getvalue()


def test_total_in_words(revenue):
    out = run("Revenue", "--from", "2026-03-07", "--to", "2026-03-10", "--tz", "UTC")
    assert out.strip() == "Revenue (Sum) from 2026-03-07 to 2026-03-10 in UTC: 1,019.5"


def test_by_day_in_new_york_with_an_empty_day(revenue):
    out = run("Revenue", "--from", "2026-03-07", "--to", "2026-03-10", "--tz", "America/New_York", "--by", "day")
    lines = out.splitlines()
    assert lines[0] == "Revenue (Sum) from 2026-03-07 to 2026-03-10 in America/New_York, by day:"
    assert lines[1:5] == ["  2026-03-07  12.5", "  2026-03-08  1,000", "  2026-03-09  -", "  2026-03-10  7"]
    assert lines[5] == "4 days, 3 with data."


def test_json_by_id(revenue):
    out = run(str(revenue.pk), "--from", "2026-03-07", "--to", "2026-03-08", "--by", "day", "--json", "--tz", "UTC")
    payload = json.loads(out)
    assert payload["metric"] == {"id": revenue.pk, "name": "Revenue", "aggregation": "sum"}
    assert payload["buckets"] == [
        {"start": "2026-03-07T00:00:00+00:00", "value": 10.0},
        {"start": "2026-03-08T00:00:00+00:00", "value": 1002.5},
    ]
    assert payload["start"] == "2026-03-07T00:00:00+00:00" and payload["end"] == "2026-03-09T00:00:00+00:00"


def test_json_total_and_default_zone(revenue, settings):
    settings.TIME_ZONE = "Asia/Kolkata"
    payload = json.loads(run("Revenue", "--from", "2026-03-08", "--to", "2026-03-08", "--json"))
    # 8 March in Kolkata runs from 7 March 18:30 UTC: 2.5 and 1000.
    assert (payload["tz"], payload["value"]) == ("Asia/Kolkata", 1002.5)


def test_sunday_weeks(revenue):
    out = run("Revenue", "--from", "2026-03-01", "--to", "2026-03-14", "--tz", "UTC", "--by", "week", "--json",
              "--week-start", "sunday")  # fmt: skip
    assert [b["value"] for b in json.loads(out)["buckets"]] == [10.0, 1009.5]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Nope", "--from", "2026-03-01", "--to", "2026-03-02"], "No metric is named 'Nope'"),
        (["Revenue", "--from", "2026-02-30", "--to", "2026-03-02"], "--from '2026-02-30' is not a date"),
        (["Revenue", "--from", "2026-03-01", "--to", "yesterday"], "--to 'yesterday' is not a date"),
        (["Revenue", "--from", "2026-03-05", "--to", "2026-03-01"], "ends (2026-03-01) before it starts"),
        (["Revenue", "--from", "2026-03-01", "--to", "2026-03-02", "--tz", "Mars/Base"], "Unknown time zone"),
        (["Revenue", "--from", "2026-03-01", "--to", "2026-03-02", "--by", "hour"], "invalid choice: 'hour'"),
        (["Revenue", "--to", "2026-03-02"], "--from"),
    ],
)
def test_bad_arguments_are_clear_errors(revenue, args, message):
    out = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("metric_values", *args, stdout=out)
    assert message in str(caught.value)
    assert out.getvalue() == ""


def test_bad_arguments_exit_non_zero_from_the_shell(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    manage = Path(__file__).resolve().parents[2] / "manage.py"
    done = subprocess.run(  # noqa: S603 - our own manage.py with fixed arguments
        [sys.executable, str(manage), "metric_values", "Revenue", "--from", "2026-03-01", "--to", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
        # DEBUG allows the generated development keys; LOCAL_DIR keeps them out of the repository.
        env={**os.environ, "DEBUG": "true", "LOCAL_DIR": str(tmp_path / "local")},
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert "--to 'nope' is not a date" in done.stderr
