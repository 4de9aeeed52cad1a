"""Downloads are safe: no CSV cell a spreadsheet runs as a formula, no file name that breaks a header."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from dashboards import exports
from syncs.models import Datapoint
from tests.factories import MetricFactory

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
ATTACKS = ["=cmd|' /C calc'!A0", "@SUM(1)", "+SUM(1,2)", "-2+3", "\tTAB", "\rCR", "＝1+1"]


def _metric(owner, name="Deals won"):
    return MetricFactory(current=True, name=name, owner=owner, expression="x")


def _csv_rows(client, metric):
    response = client.get(reverse("dashboards:csv", args=[metric.uuid]), {"range": "last_7_days"})
    assert response.status_code == 200
    return response, list(csv.reader(io.StringIO(response.content.decode())))


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_formula_cells_are_neutralised_and_numbers_stay_numbers(analyst_client, analyst_user):
    metric = _metric(analyst_user)
    dimensions = [*ATTACKS, "-5", "Web", ""]
    Datapoint.objects.bulk_create(
        Datapoint(metric=metric, timestamp=NOW - timedelta(hours=i + 1), value=-12.5, dimension=d, synced_at=NOW)
        for i, d in enumerate(dimensions)
    )
    _, rows = _csv_rows(analyst_client, metric)
    by_dimension = {row[-1] for row in rows[1:]}
    for attack in ATTACKS:
        assert "'" + attack in by_dimension, attack  # shown as text, never run
        assert attack not in by_dimension
    assert {"-5", "Web", ""} <= by_dimension  # a genuine number, plain text, nothing: as they are
    assert {row[-2] for row in rows[1:]} == {"-12.5"}  # the value column is numeric


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Leads\r\nSet-Cookie: x=1", 'attachment; filename="Leads Set-Cookie: x=1-2026-03-09-2026-03-15.csv"'),
        ('Say "hi"\\now', 'attachment; filename="Say \\"hi\\"-now-2026-03-09-2026-03-15.csv"'),
        ("Umsätze\u202egpj.exe", "attachment; filename*=utf-8''Ums%C3%A4tzegpj.exe-2026-03-09-2026-03-15.csv"),
        # PostgreSQL cannot store NUL at all; filename() drops it too (test below).
        ("\x1bLeads\x07", 'attachment; filename="Leads-2026-03-09-2026-03-15.csv"'),
    ],
)
def test_the_file_name_carries_no_control_characters(analyst_client, analyst_user, name, expected):
    metric = _metric(analyst_user, name)
    analyst_client.raise_request_exception = False
    response, _ = _csv_rows(analyst_client, metric)
    assert response["Content-Disposition"] == expected


def test_csv_cell_follows_the_owasp_rule():
    assert exports.csv_cell("=1+1") == "'=1+1"
    assert exports.csv_cell("-1.5e3") == "-1.5e3" and exports.csv_cell("+7") == "+7"
    assert exports.csv_cell("- 5") == "'- 5"
    assert exports.csv_cell(-3.0) == -3.0 and exports.csv_cell(None) is None
    assert exports.csv_cell("a=1") == "a=1"


def test_file_names_are_cleaned():
    assert exports.filename("a\r\nb\x00c/d", "csv") == "a bc-d.csv"
    assert exports.filename(" \t ", "json") == "export.json"
    assert len(exports.filename("x" * 500, "csv")) == exports.MAX_FILENAME_CHARS + 4
