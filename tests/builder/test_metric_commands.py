"""manage.py export_metrics and import_metrics: exit codes, --json, nothing written on error."""

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from builder import definitions, gallery, portability
from builder.models import Metric
from sandbox import DEMO_ACCESS_KEY
from tests.builder.test_definitions import EXAMPLE


def run(*args):
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def fails(*args):
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as caught:
        call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue(), str(caught.value)


def write(tmp_path, content, name="defs.json"):
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


def test_export_all_and_by_name(offline_vtiger):
    gallery.create_metric("new-leads", offline_vtiger)
    gallery.create_metric("open-tickets", offline_vtiger)
    out, err = run("export_metrics")
    document = json.loads(out)
    assert document["format"] == portability.FORMAT
    assert [m["name"] for m in document["metrics"]] == ["New leads", "Open tickets"]
    assert "Exported 2 metrics" in err
    assert DEMO_ACCESS_KEY not in out

    out, _ = run("export_metrics", "Open tickets")
    assert [m["name"] for m in json.loads(out)["metrics"]] == ["Open tickets"]


def test_export_unknown_name_fails(offline_vtiger):
    gallery.create_metric("new-leads", offline_vtiger)
    out, _, message = fails("export_metrics", "New leads", "Nope")
    assert out == ""
    assert "'Nope'" in message


def test_import_file_then_round_trip(offline_vtiger, tmp_path):
    out, _ = run("import_metrics", write(tmp_path, {"format": portability.FORMAT, "metrics": [EXAMPLE]}))
    assert "Imported 1 metric" in out and "Deals won (amount)" in out
    assert definitions.from_metric(Metric.objects.get()) == EXAMPLE

    exported, _ = run("export_metrics")
    Metric.objects.all().delete()
    out, _ = run("import_metrics", write(tmp_path, exported, "again.json"), "--json")
    payload = json.loads(out)
    assert payload["ok"] is True and payload["created"][0]["name"] == "Deals won (amount)"
    assert definitions.from_metric(Metric.objects.get()) == EXAMPLE


def test_import_refuses_the_whole_file_on_one_problem(offline_vtiger, tmp_path):
    bad = {**EXAMPLE, "name": "Bad", "aggregation": "median"}
    path = write(tmp_path, {"format": portability.FORMAT, "metrics": [EXAMPLE, bad]})
    _, err, message = fails("import_metrics", path)
    assert "Nothing was imported: 1 problem found." in message
    assert "metrics[1].aggregation" in err
    assert not Metric.objects.exists()

    out, _, _ = fails("import_metrics", path, "--json")
    payload = json.loads(out)
    assert payload["ok"] is False
    assert payload["errors"][0]["path"] == "metrics[1].aggregation"
    assert not Metric.objects.exists()


def test_import_name_clash_and_rename(offline_vtiger, tmp_path):
    path = write(tmp_path, {"format": portability.FORMAT, "metrics": [EXAMPLE]})
    run("import_metrics", path)
    _, err, _ = fails("import_metrics", path)
    assert "metrics[0].name" in err and "taken" in err
    out, _ = run("import_metrics", path, "--rename", "--json")
    assert json.loads(out)["renamed"] == [{"from": "Deals won (amount)", "to": "Deals won (amount) (copy)"}]
    assert Metric.objects.count() == 2


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("{oops", "not valid JSON"),
        ("", "The file is empty"),
        ({"format": "something-else@1", "metrics": []}, "Unsupported format"),
        ([1, 2], "Expected an object"),
    ],
)
def test_import_bad_files(offline_vtiger, tmp_path, content, words):
    path = write(tmp_path, content)
    _, err, _ = fails("import_metrics", path)
    assert words in err
    out, _, _ = fails("import_metrics", path, "--json")
    assert words in json.loads(out)["errors"][0]["message"]
    assert not Metric.objects.exists()


def test_import_missing_file(db, tmp_path):
    out, _, _ = fails("import_metrics", str(tmp_path / "missing.json"), "--json")
    payload = json.loads(out)
    assert payload["ok"] is False and "Cannot read" in payload["errors"][0]["message"]


def test_exit_code_is_non_zero_from_the_shell(tmp_path):
    bad = write(tmp_path, "{oops")
    manage = Path(__file__).resolve().parents[2] / "manage.py"
    done = subprocess.run(  # noqa: S603 - our own manage.py with fixed arguments
        [sys.executable, str(manage), "import_metrics", bad, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        # DEBUG allows the generated development keys; LOCAL_DIR keeps them out of the repository.
        env={**os.environ, "DEBUG": "true", "LOCAL_DIR": str(tmp_path / "local")},
    )
    assert done.returncode == 1
    assert json.loads(done.stdout)["ok"] is False
