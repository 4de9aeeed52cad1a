"""builder.definitions: Metric rows <-> the definition format, and checking definitions by field path."""

import copy
import json

import pytest

from builder import definitions
from builder.models import Metric
from sandbox import DEMO_ACCESS_KEY
from tests.connections.factories import custom_connection

EXAMPLE = {
    "name": "Deals won (amount)",
    "description": "Sum of won deal amounts by closing date",
    "connection": "Vtiger",
    "request": {
        "method": "GET",
        "endpoint": "query",
        "params": [
            [
                "query",
                "SELECT amount, closingdate FROM Potentials WHERE sales_stage = 'Closed Won' AND closingdate >= "
                "'{{start:YYYY-MM-DD}}' AND closingdate <= '{{end:YYYY-MM-DD}}';",
            ]
        ],
        "headers": [],
        "body": None,
        "pagination": {"type": "vtiger"},
    },
    "date": {"mode": "field", "format": "YYYY-MM-DD", "timezone": "UTC"},
    "expression": 'result.{"date": closingdate, "value": $number(amount)}',
    "aggregation": "sum",
    "number_format": "currency",
    "currency": "USD",
    "favourable_trend": "up",
    "sync": {"interval_minutes": 60, "window_days": 7, "history_days": 365},
}


@pytest.fixture
def api(db):
    return custom_connection("https://api.example.com", name="API", options={"allowed_methods": ["GET", "POST"]})


def changed(change):
    definition = copy.deepcopy(EXAMPLE)
    change(definition)
    return definition


def paths(errors):
    return [path for path, _ in errors]


def test_the_product_example_is_valid(offline_vtiger):
    cleaned, errors = definitions.validate(EXAMPLE)
    assert errors == []
    assert cleaned["connection"] == offline_vtiger
    assert cleaned["request"]["pagination"] == {"type": "vtiger"}
    assert cleaned["date"] == {"mode": "field", "format": "YYYY-MM-DD", "timezone": "UTC", "field": ""}


def test_optional_keys_take_their_defaults(offline_vtiger):
    minimal = {
        "name": "Leads",
        "connection": "Vtiger",
        "request": {"endpoint": "query", "params": [["query", "SELECT count(*) FROM Leads;"]]},
        "date": {"mode": "none"},
        "expression": "$number(result[0].count)",
    }
    cleaned, errors = definitions.validate(minimal)
    assert errors == []
    assert cleaned["request"]["method"] == "GET"
    assert cleaned["request"]["pagination"] == {"type": "none"}
    assert cleaned["aggregation"] == "sum"
    assert cleaned["favourable_trend"] == "up"
    assert cleaned["sync"] == {"interval_minutes": 60, "window_days": 7, "history_days": 365}


def _set(path, value):
    def change(definition):
        *parents, last = path
        target = definition
        for key in parents:
            target = target[key]
        target[last] = value

    return change


def _drop(path):
    def change(definition):
        *parents, last = path
        target = definition
        for key in parents:
            target = target[key]
        del target[last]

    return change


CASES = [
    # (id, change, path, words in the message)
    ("typo at the top", _set(("aggregaton",), "sum"), "aggregaton", "did you mean 'aggregation'"),
    ("typo in request", _set(("request", "parms"), []), "request.parms", "Unknown key"),
    ("typo in date", _set(("date", "fromat"), "iso"), "date.fromat", "Unknown key"),
    ("typo in sync", _set(("sync", "interval"), 5), "sync.interval", "Unknown key"),
    ("no name", _drop(("name",)), "name", "required"),
    ("blank name", _set(("name",), "  "), "name", "cannot be empty"),
    ("long name", _set(("name",), "x" * 121), "name", "At most 120"),
    ("no expression", _drop(("expression",)), "expression", "required"),
    ("no request", _drop(("request",)), "request", "required"),
    ("no endpoint", _drop(("request", "endpoint")), "request.endpoint", "required"),
    ("no date", _drop(("date",)), "date", "required"),
    ("no date mode", _drop(("date", "mode")), "date.mode", "required"),
    ("bad aggregation", _set(("aggregation",), "median"), "aggregation", "sum, average, min, max, latest, count"),
    ("bad number format", _set(("number_format",), "money"), "number_format", "not one of"),
    ("bad trend", _set(("favourable_trend",), "sideways"), "favourable_trend", "up, down"),
    ("bad date mode", _set(("date", "mode"), "sometimes"), "date.mode", "none, dynamic, field"),
    ("bad pagination", _set(("request", "pagination"), {"type": "pages"}), "request.pagination.type", "not one of"),
    (
        "pagination option of another type",
        _set(("request", "pagination"), {"type": "vtiger", "cursor_path": "x"}),
        "request.pagination.cursor_path",
        "Unknown key",
    ),
    ("unknown connection", _set(("connection",), "Nope"), "connection", "No connection is named 'Nope'"),
    ("no connection", _set(("connection",), None), "connection", "Choose a connection"),
    ("vtiger POST", _set(("request", "method"), "POST"), "request.method", "Vtiger connections allow GET only"),
    ("vtiger DELETE", _set(("request", "method"), "DELETE"), "request.method", "not one of: GET, POST"),
    ("vtiger body", _set(("request", "body"), {"a": 1}), "request.body", "no body"),
    ("vtiger headers", _set(("request", "headers"), [["X-A", "1"]]), "request.headers", "don't take extra headers"),
    (
        "unknown placeholder",
        _set(("request", "params"), [["query", "SELECT * FROM Leads WHERE createdtime >= '{{begin}}';"]]),
        "request.params[0]",
        "Unknown placeholder {{begin}}",
    ),
    (
        "unknown placeholder format",
        _set(("request", "params"), [["q", "{{start:YYYY-MM-DD}}"], ["since", "{{end:yyyy}}"]]),
        "request.params[1]",
        "Unknown date format",
    ),
    ("param not a pair", _set(("request", "params"), [["query"]]), "request.params[0]", "[key, value] pair"),
    ("params not a list", _set(("request", "params"), {"query": "x"}), "request.params", "list of [key, value]"),
    ("endpoint escapes", _set(("request", "endpoint"), "../admin"), "request.endpoint", "'..'"),
    ("endpoint other host", _set(("request", "endpoint"), "https://evil.example/x"), "request.endpoint", "outside"),
    ("expression broken", _set(("expression",), 'result.{"date": closingdate'), "expression", "does not compile"),
    ("time zone", _set(("date", "timezone"), "Mars/Olympus"), "date.timezone", "Unknown time zone"),
    ("field without format", _drop(("date", "format")), "date.format", "Required when the date comes from a field"),
    ("bad date format", _set(("date", "format"), "YYYY-QQ"), "date.format", "Unknown date format"),
    ("interval too short", _set(("sync", "interval_minutes"), 1), "sync.interval_minutes", "out of range"),
    ("interval not a number", _set(("sync", "interval_minutes"), "60"), "sync.interval_minutes", "whole number"),
    ("window negative", _set(("sync", "window_days"), -1), "sync.window_days", "out of range"),
    ("history too long", _set(("sync", "history_days"), 99999), "sync.history_days", "out of range"),
    ("history under window", _set(("sync", "history_days"), 3), "sync.history_days", "shorter than the sync window"),
    ("not an object", lambda d: d.update(request="GET query"), "request", "Expected an object"),
    (
        "vtql unquoted placeholder",
        _set(("request", "params"), [["query", "SELECT * FROM Leads WHERE createdtime >= {{start}};"]]),
        "request.params[0]",
        "Put the placeholder {{start}} in single quotes",
    ),
    ("vtql missing", _set(("request", "params"), []), "request.params", 'needs a "query" parameter'),
]


@pytest.mark.parametrize(("change", "path", "words"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_each_problem_is_reported_at_its_field(offline_vtiger, change, path, words):
    _, errors = definitions.validate(changed(change))
    assert path in paths(errors), errors
    message = dict(errors)[path]
    assert words in message


def test_paths_carry_the_prefix_and_every_problem_is_collected(offline_vtiger):
    broken = changed(lambda d: d.update(aggregation="avg", favourable_trend="left", connection="Nope"))
    _, errors = definitions.validate(broken, path="metrics[2]")
    assert paths(errors) == ["metrics[2].connection", "metrics[2].aggregation", "metrics[2].favourable_trend"]
    broken["request"]["method"] = "POST"
    _, errors = definitions.validate(changed(_set(("request", "method"), "POST")), path="metrics[2]")
    assert ("metrics[2].request.method", dict(errors)["metrics[2].request.method"]) in errors
    assert dict(errors)["metrics[2].request.method"].startswith("Vtiger connections allow GET only")


def test_not_a_definition_at_all(db):
    assert definitions.validate(["x"], path="metrics[0]") == (
        {},
        [("metrics[0]", "Expected a metric definition (an object), got a list.")],
    )


def test_custom_connections_follow_their_allowed_methods(api):
    post = changed(lambda d: d.update(connection="API"))
    post["request"].update(method="POST", endpoint="reports", params=[], body={"from": "{{start:iso}}"})
    post["request"]["pagination"] = {"type": "page", "param": "p"}
    post["request"]["headers"] = [["X-Team", "analytics"]]
    cleaned, errors = definitions.validate(post)
    assert errors == []
    assert cleaned["request"]["body"] == {"from": "{{start:iso}}"}

    api.options = {**api.options, "allowed_methods": ["GET"]}
    api.save()
    _, errors = definitions.validate(post)
    assert "allows GET only" in dict(errors)["request.method"]

    post["request"].update(method="GET")
    _, errors = definitions.validate(post)
    assert "GET request carries no body" in dict(errors)["request.body"]

    post["request"].update(body=None, headers=[["Host", "evil.example"]])
    _, errors = definitions.validate(post)
    assert "set by the connection" in dict(errors)["request.headers[0]"]


def test_the_site_minimum_interval_applies(offline_vtiger, settings):
    settings.SYNC_MIN_INTERVAL_MINUTES = 30
    _, errors = definitions.validate(changed(_set(("sync", "interval_minutes"), 15)))
    assert dict(errors)["sync.interval_minutes"] == "15 is out of range: use 30 to 10080."


def test_a_custom_lookup_finds_the_connection(offline_vtiger):
    definition = changed(lambda d: d.update(connection=str(offline_vtiger.uuid)))
    cleaned, errors = definitions.validate(definition, connection_lookup=definitions.by_uuid)
    assert errors == []
    assert cleaned["connection"] == offline_vtiger
    assert definitions.by_uuid("not-a-uuid") is None
    assert definitions.by_uuid(None) is None
    _, errors = definitions.validate(changed(lambda d: d.update(connection="x")), connection_lookup=definitions.by_uuid)
    assert "No connection" in dict(errors)["connection"]


def test_naive_time_zone_defaults_to_the_connections(offline_vtiger):
    cleaned, errors = definitions.validate(changed(lambda d: d["date"].pop("timezone")))
    assert errors == []
    assert cleaned["date"]["timezone"] == "UTC"


def _saved(definition, **extra):
    cleaned, errors = definitions.validate(definition)
    assert errors == []
    metric = definitions.to_metric(cleaned, **extra)
    metric.save()
    return metric


def test_round_trip_keeps_every_field(offline_vtiger):
    definition = changed(lambda d: d["date"].update(field="closingdate"))
    metric = _saved(definition)
    exported = definitions.from_metric(Metric.objects.get(pk=metric.pk))
    assert exported == definition

    # And back onto another metric, which then exports the same definition.
    cleaned, errors = definitions.validate(json.loads(json.dumps(exported)))
    assert errors == []
    other = definitions.apply_to_metric(Metric(), {**cleaned, "name": "Other"})
    other.save()
    assert {**definitions.from_metric(other), "name": exported["name"]} == exported


def test_from_metric_never_holds_a_credential(offline_vtiger):
    metric = _saved(EXAMPLE)
    text = json.dumps(definitions.from_metric(metric))
    assert DEMO_ACCESS_KEY not in text
    assert offline_vtiger.secrets_encrypted not in text
    assert json.loads(text)["connection"] == "Vtiger"


def test_a_deleted_connection_exports_as_null(offline_vtiger):
    metric = _saved(EXAMPLE)
    offline_vtiger.delete()
    metric.refresh_from_db()
    assert definitions.from_metric(metric)["connection"] is None


def test_unique_name(offline_vtiger):
    assert definitions.unique_name("Deals won (amount)") == "Deals won (amount)"
    _saved(EXAMPLE)
    assert definitions.unique_name("Deals won (amount)") == "Deals won (amount) (copy)"
    _saved(changed(lambda d: d.update(name="Deals won (amount) (copy)")))
    assert definitions.unique_name("Deals won (amount)") == "Deals won (amount) (copy 2)"
    # Copying a copy does not stack suffixes.
    assert definitions.unique_name("Deals won (amount) (copy)") == "Deals won (amount) (copy 2)"
    assert definitions.unique_name("New", taken={"New"}) == "New (copy)"
    long_name = "x" * 120
    _saved(changed(lambda d: d.update(name=long_name)))
    copy_name = definitions.unique_name(long_name)
    assert len(copy_name) <= 120 and copy_name.endswith(" (copy)")
