"""builder.portability: export documents, and imports that are all or nothing."""

import copy
import json

import pytest

from builder import definitions, gallery, portability
from builder.models import Metric
from sandbox import DEMO_ACCESS_KEY
from tests.builder.test_definitions import EXAMPLE
from tests.connections.factories import vtiger_connection


def document(*metrics):
    return {"format": portability.FORMAT, "metrics": [copy.deepcopy(m) for m in metrics]}


def named(name, **changes):
    return {**copy.deepcopy(EXAMPLE), "name": name, **changes}


def test_export_document_holds_every_metric_and_no_credential(offline_vtiger):
    for slug in ("new-leads", "deals-won-amount", "open-tickets"):
        gallery.create_metric(slug, offline_vtiger)
    exported = portability.export_document(Metric.objects.order_by("name"))
    assert exported["format"] == "metric-builder/metrics@1"
    assert [m["name"] for m in exported["metrics"]] == ["Deals won (amount)", "New leads", "Open tickets"]
    text = portability.dumps(exported)
    assert DEMO_ACCESS_KEY not in text and offline_vtiger.secrets_encrypted not in text
    assert json.loads(text) == exported


def test_round_trip_to_another_site_gives_the_same_metrics(offline_vtiger):
    for item in gallery.ITEMS:
        gallery.create_metric(item.slug, offline_vtiger)
    before = [definitions.from_metric(m) for m in Metric.objects.order_by("name")]
    text = portability.dumps(portability.export_document(Metric.objects.order_by("name")))

    # "Elsewhere": no metrics, a connection of the same name (another id, another key).
    Metric.objects.all().delete()
    offline_vtiger.delete()
    vtiger_connection("http://127.0.0.1:10", name="Vtiger", access_key="another-key-1234")
    loaded, errors = portability.loads(text)
    assert errors == []
    result = portability.import_document(loaded)
    assert result.ok, result.errors
    after = [definitions.from_metric(m) for m in Metric.objects.order_by("name")]
    assert after == before
    assert len(result.created) == len(gallery.ITEMS)


def test_import_is_all_or_nothing_with_every_problem_by_path(offline_vtiger):
    good = named("Good one")
    bad_method = named("Bad method")
    bad_method["request"]["method"] = "POST"
    typo = named("Typo")
    typo["aggregaton"] = "sum"
    result = portability.import_document(document(good, bad_method, typo, "not an object"))
    assert not result.ok
    assert not Metric.objects.exists()
    paths = [path for path, _ in result.errors]
    assert paths == ["metrics[1].request.method", "metrics[2].aggregaton", "metrics[3]"]
    assert "Vtiger connections allow GET only" in dict(result.errors)["metrics[1].request.method"]


@pytest.mark.parametrize(
    ("doc", "path", "words"),
    [
        ([], "", "Expected an object"),
        ({"metrics": []}, "format", "required"),
        ({"format": "metric-builder/metrics@2", "metrics": []}, "format", "Unsupported format"),
        ({"format": portability.FORMAT}, "metrics", "required"),
        ({"format": portability.FORMAT, "metrics": {}}, "metrics", "Expected a list"),
        ({"format": portability.FORMAT, "metrics": []}, "metrics", "nothing to import"),
        ({"format": portability.FORMAT, "metrics": [EXAMPLE], "extra": 1}, "extra", "Unknown key"),
    ],
)
def test_document_problems(offline_vtiger, doc, path, words):
    result = portability.import_document(doc)
    assert path in dict(result.errors), result.errors
    assert words in dict(result.errors)[path]
    assert not Metric.objects.exists()


def test_unknown_connection_is_reported(db):
    result = portability.import_document(document(EXAMPLE))
    assert result.errors == [("metrics[0].connection", "No connection is named 'Vtiger'; an admin can add it.")]


def test_name_clashes_are_reported_or_renamed(offline_vtiger):
    assert portability.import_document(document(EXAMPLE)).ok
    clash = portability.import_document(document(EXAMPLE, named("Fresh"), named("Fresh")))
    assert [path for path, _ in clash.errors] == ["metrics[0].name", "metrics[2].name"]
    assert "exists already" in clash.errors[0][1]
    assert "metric 1 of this file" in clash.errors[1][1]
    assert Metric.objects.count() == 1

    renamed = portability.import_document(document(EXAMPLE, named("Fresh"), named("Fresh")), rename=True)
    assert renamed.ok
    assert [m.name for m in renamed.created] == ["Deals won (amount) (copy)", "Fresh", "Fresh (copy)"]
    assert renamed.renamed == [("Deals won (amount)", "Deals won (amount) (copy)"), ("Fresh", "Fresh (copy)")]
    assert Metric.objects.count() == 4


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"{not json", "not valid JSON: Expecting property name enclosed in double quotes at line 1, column 2"),
        (b"\xff\xfe\x00", "not UTF-8"),
    ],
)
def test_loads_explains_bad_files(data, words):
    document_, errors = portability.loads(data)
    assert document_ is None
    assert words in errors[0][1]


def test_result_as_dict_is_json(offline_vtiger):
    result = portability.import_document(document(EXAMPLE))
    payload = json.loads(json.dumps(result.as_dict()))
    assert payload["ok"] is True
    assert payload["created"][0]["name"] == "Deals won (amount)"


def test_a_failure_while_writing_leaves_nothing_behind(offline_vtiger, monkeypatch):
    """A clash that appears between the check and the write (another user) rolls back the whole import."""
    real_check = portability.check

    def racing_check(document_, **kwargs):
        plan = real_check(document_, **kwargs)
        plan.items = [(cleaned, "Same name") for cleaned, _ in plan.items]
        return plan

    monkeypatch.setattr(portability, "check", racing_check)
    result = portability.import_document(document(named("One"), named("Two")))
    assert not result.ok and result.created == []
    assert "created meanwhile" in result.errors[0][1]
    assert not Metric.objects.exists()
