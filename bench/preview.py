"""Benchmark: the wizard's Send request plus evaluation, timing our own code only.

    DJANGO_SETTINGS_MODULE=config.settings DEBUG=true .venv/bin/python bench/preview.py [--runs N]

Starts the Vtiger sandbox on a free port (latency 0), creates connections in a throw-away
in-memory database, and for each case runs what the wizard runs for one Send request and one
evaluation: builder.preview.send_for_draft (placeholders, the HTTP client, pagination, parsing,
storing the capped response on the draft), the response viewer (builder.preview.json_tree) and
the JSONata evaluation with its datapoints table (builder.views.wizard.evaluation).

"Our time" is the total minus the upstream wait, which is the time spent inside the HTTP calls
(``Response.elapsed_ms``, summed over pages). Prints p50/p95 per case, then one JSON object as
the last line. Targets (issue 3): p95 <= 50 ms for a 100-record Vtiger page, <= 300 ms for
5,000 records.

The "live" line (issue 13, item 7), on the 5,000-record Vtiger response, all measured in this run:
    bare        jsonata-python alone: the compiled expression's ``evaluate(data)`` over the parsed
                response in this process (compiled by ``builder.jsonata_eval.parse``, which turns the
                library's walk over the input off, as every evaluation of ours does)
    live        one live evaluation as the server does it, once the analyst is typing: the view the
                live editor posts to (``builder.views.wizard.evaluate``: the draft loaded, the typed
                expression saved, evaluated against the stored response, the fragment rendered),
                called directly with a request object (no HTTP)
    first_live  the same, the first time after a Send (the response is read from the database)
    parse       ``json.loads`` of the response's body, once
    send_own    Send request's own time, ``meta.own_ms`` (the HTTP wait left out)
and the ratios ``live_over_bare`` = live / bare (target <= 1.25) and ``send_over_parse_plus_bare``
= send_own / (parse + bare) (target <= 2), from medians. Each pair is measured alternately, so both
sides see the same load.

The "box" line: the cost of evaluating in the expression box (builder.expression_box: a worker
process, JSON bytes over a pipe, the input kept in the worker by digest) against evaluating in
this process, on the 100-record page: p50 of each, their ratio and the difference per evaluation.

Cases
    vtiger_100     GET query ``SELECT * FROM Potentials LIMIT 0,100;``: one Vtiger page of 100 records
    vtiger_5000    5,000 Vtiger Leads in one answer: the sandbox runs with ``scale=3`` (6,000 Leads)
                   and the switch max_rows=5000, so ``SELECT * FROM Leads LIMIT 0,5000;`` returns 5,000
    records_5000   5,000 plain JSON objects of about 1 KB each (5 MB) from the sandbox's custom API
                   ``/custom/v1/big?kb=5000``: a heavier custom-API response, for comparison
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402 - after the path and settings are set

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection as db_connection  # noqa: E402
from django.test import RequestFactory  # noqa: E402
from django.test.utils import setup_test_environment, teardown_test_environment  # noqa: E402
from django.urls import reverse  # noqa: E402

from accounts.roles import ANALYST  # noqa: E402
from builder import jsonata_eval, preview, transform  # noqa: E402
from builder.dates import find_records  # noqa: E402
from builder.steps import evaluation  # noqa: E402
from builder.views import wizard  # noqa: E402
from builder.wizard_drafts import new_draft  # noqa: E402
from connections.models import Connection  # noqa: E402
from sandbox import DEMO_ACCESS_KEY, DEMO_USERNAME  # noqa: E402
from sandbox.server import SandboxServer  # noqa: E402

TARGETS_MS = {"vtiger_100": 50, "vtiger_5000": 300}
LIVE_TARGETS = {"live_over_bare": 1.25, "send_over_parse_plus_bare": 2.0}


def _percentile(values, fraction):
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def _vtiger(sandbox):
    connection = Connection(
        name="Bench Vtiger",
        integration=Connection.Integration.VTIGER,
        base_url=sandbox.url + "/restapi/v1/vtiger/default",
        username=DEMO_USERNAME,
        auth_type=Connection.AuthType.BASIC,
        options={"plan": "enterprise", "data_timezone": "UTC"},
    )
    connection.set_secret("access_key", DEMO_ACCESS_KEY)
    connection.save()
    return connection


def _custom(sandbox):
    return Connection.objects.create(
        name="Bench custom",
        integration=Connection.Integration.CUSTOM,
        base_url=sandbox.url + "/custom/v1",
        options={"allowed_methods": ["GET"], "data_timezone": "UTC"},
    )


def _case(user, connection, request_spec, date, expression, runs):
    draft = new_draft(user, connection)
    draft.definition["request"] = request_spec
    draft.definition["date"] = date
    draft.definition["expression"] = expression
    draft.save()
    own, upstream, records = [], [], 0
    for run in range(runs + 2):
        started = time.perf_counter()
        result = preview.send_for_draft(draft, connection, "UTC")
        if result.error:
            raise SystemExit(f"The request failed: {result.error['message']}")
        preview.json_tree(draft.response)
        evaluated = evaluation(draft, expression, "UTC")
        total = (time.perf_counter() - started) * 1000
        if evaluated.get("error"):
            raise SystemExit(f"The expression failed: {evaluated['error']}")
        records = len(find_records(draft.response)[1])
        if run >= 2:  # two warm-up runs: connection pools, compiled expressions
            own.append(total - result.meta["elapsed_ms"])
            upstream.append(result.meta["elapsed_ms"])
    figures = {
        "records": records,
        "runs": runs,
        "own_p50_ms": round(statistics.median(own), 1),
        "own_p95_ms": round(_percentile(own, 0.95), 1),
        "upstream_p50_ms": round(statistics.median(upstream), 1),
        "bytes": draft.response_meta["size_bytes"],
    }
    return figures, draft


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _live_request(user, draft, expression):
    request = RequestFactory().post(
        reverse("builder:evaluate", args=[draft.uuid]), {"expression": expression}, HTTP_HX_REQUEST="true"
    )
    request.user = user
    return request


def _live_evaluation(user, draft, expression) -> float:
    """ms of one live evaluation by the live editor's view; it must have evaluated without an error."""
    request = _live_request(user, draft, expression)
    started = time.perf_counter()
    response = wizard.evaluate(request, draft=draft.uuid)
    elapsed = _ms(started)
    if (
        response.status_code != 200
        or b"data-error-code" in response.content
        or b"datapoint-count" not in response.content
    ):
        raise SystemExit(f"The live evaluation failed: {response.content[:500]!r}")
    return elapsed


def _live(user, connection, draft, expression, body: bytes, runs):
    """The live evaluation and Send against the bare evaluation and the parse (see the module's docstring)."""
    compiled = jsonata_eval.parse(expression)
    bare_send, parse, send_own, first_live = [], [], [], []
    for run in range(runs + 1):
        result = preview.send_for_draft(draft, connection, "UTC")
        if result.error:
            raise SystemExit(f"The request failed: {result.error['message']}")
        started = time.perf_counter()
        data = json.loads(body)
        parse_ms = _ms(started)
        started = time.perf_counter()
        compiled.evaluate(data)
        bare_ms = _ms(started)
        first_ms = _live_evaluation(user, draft, expression)
        if run >= 1:  # one warm-up
            send_own.append(result.meta["own_ms"])
            parse.append(parse_ms)
            bare_send.append(bare_ms)
            first_live.append(first_ms)
    data = json.loads(body)
    bare, live = [], []
    for run in range(runs + 1):
        started = time.perf_counter()
        compiled.evaluate(data)
        bare_ms = _ms(started)
        live_ms = _live_evaluation(user, draft, expression)
        if run >= 1:
            bare.append(bare_ms)
            live.append(live_ms)
    median = statistics.median
    figures = {
        "runs": runs,
        "bare_ms": round(median(bare), 1),
        "live_ms": round(median(live), 1),
        "first_live_ms": round(median(first_live), 1),
        "parse_ms": round(median(parse), 1),
        "bare_beside_send_ms": round(median(bare_send), 1),
        "send_own_ms": round(median(send_own), 1),
    }
    figures["live_over_bare"] = round(median(live) / median(bare), 2)
    figures["send_over_parse_plus_bare"] = round(median(send_own) / (median(parse) + median(bare_send)), 2)
    figures["ok"] = all(figures[name] <= target for name, target in LIVE_TARGETS.items())
    return figures


def _body(sandbox, query) -> bytes:
    """The raw body the sandbox answers ``query`` with, as Send receives it."""
    answer = requests.get(
        sandbox.url + "/restapi/v1/vtiger/default/query",
        params={"query": query},
        auth=(DEMO_USERNAME, DEMO_ACCESS_KEY),
        timeout=60,
    )
    answer.raise_for_status()
    return answer.content


def _box_cost(data, expression, runs):
    """p50 ms of one evaluation in the box and in this process, alternated so both see the same load."""
    compiled = transform.compile_expression(expression)
    boxed, here = [], []
    for run in range(runs + 3):
        started = time.perf_counter()
        in_box = transform.evaluate(expression, data, max_input_bytes=None)
        middle = time.perf_counter()
        in_process = jsonata_eval.evaluate_in_process(compiled, data)
        ended = time.perf_counter()
        if in_box != in_process:
            raise SystemExit("The box and this process disagree on the result.")
        if run >= 3:  # warm-up: the worker starts, compiles, keeps the input
            boxed.append((middle - started) * 1000)
            here.append((ended - middle) * 1000)
    box_ms, here_ms = statistics.median(boxed), statistics.median(here)
    return {
        "runs": runs,
        "box_p50_ms": round(box_ms, 2),
        "box_p95_ms": round(_percentile(boxed, 0.95), 2),
        "in_process_p50_ms": round(here_ms, 2),
        "ratio": round(box_ms / here_ms, 2),
        "cost_per_evaluation_ms": round(box_ms - here_ms, 2),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=30, help="measured runs per case (default 30)")
    args = parser.parse_args()

    setup_test_environment()
    old_name = db_connection.creation.create_test_db(verbosity=0, autoclobber=True)
    settings.ALLOW_PRIVATE_HOSTS = True  # the sandbox listens on loopback
    # Three times the default data, so one module (Leads) holds more than 5,000 records.
    sandbox = SandboxServer(host="127.0.0.1", port=0, latency_ms=0, scale=3).start()
    try:
        user = get_user_model().objects.create_user("bench")
        user.groups.add(Group.objects.get_or_create(name=ANALYST)[0])  # the wizard's views are for analysts
        vtiger, custom = _vtiger(sandbox), _custom(sandbox)
        field = {"mode": "field", "format": "YYYY-MM-DD", "timezone": "UTC"}
        expression_100 = 'result.{"date": closingdate, "value": $number(amount)}'
        figures_100, draft_100 = _case(
            user,
            vtiger,
            {
                "method": "GET",
                "endpoint": "query",
                "params": [["query", "SELECT * FROM Potentials LIMIT 0,100;"]],
                "headers": [],
                "body": None,
                "pagination": {"type": "none"},
            },
            {**field, "field": "closingdate"},
            expression_100,
            args.runs,
        )
        results = {"vtiger_100": figures_100}
        box = _box_cost(draft_100.response, expression_100, max(100, args.runs * 10))
        sandbox.configure(max_rows=5000)
        query_5000 = "SELECT * FROM Leads LIMIT 0,5000;"
        expression_5000 = 'result.{"date": createdtime, "value": 1, "dimension": leadsource}'
        results["vtiger_5000"], draft_5000 = _case(
            user,
            vtiger,
            {
                "method": "GET",
                "endpoint": "query",
                "params": [["query", query_5000]],
                "headers": [],
                "body": None,
                "pagination": {"type": "none"},
            },
            {"mode": "field", "format": "YYYY-MM-DD HH:mm:ss", "timezone": "UTC", "field": "createdtime"},
            expression_5000,
            max(5, args.runs // 3),
        )
        live = _live(user, vtiger, draft_5000, expression_5000, _body(sandbox, query_5000), max(5, args.runs // 3))
        results["records_5000"], _ = _case(
            user,
            custom,
            {
                "method": "GET",
                "endpoint": "big",
                "params": [["kb", "5000"]],
                "headers": [],
                "body": None,
                "pagination": {"type": "none"},
            },
            {"mode": "dynamic", "format": "", "timezone": "UTC"},
            'items.{"value": i}',
            max(5, args.runs // 3),
        )
    finally:
        sandbox.stop()
        db_connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()

    for name, figures in results.items():
        target = TARGETS_MS.get(name)
        verdict = (
            ""
            if target is None
            else f" (target p95 <= {target} ms: {'met' if figures['own_p95_ms'] <= target else 'MISSED'})"
        )
        print(
            f"{name:13} {figures['records']:>5} records, {figures['bytes'] / 1024:,.0f} KB: "
            f"our time p50 {figures['own_p50_ms']} ms, p95 {figures['own_p95_ms']} ms; "
            f"upstream p50 {figures['upstream_p50_ms']} ms{verdict}"
        )
    print(
        f"box          {figures_100['records']:>5} records, one evaluation: in the box p50 {box['box_p50_ms']} ms "
        f"(p95 {box['box_p95_ms']} ms), in this process p50 {box['in_process_p50_ms']} ms: x{box['ratio']}, "
        f"{box['cost_per_evaluation_ms']} ms more per evaluation"
    )
    print(
        f"live          5000 records: one live evaluation {live['live_ms']} ms against the bare jsonata "
        f"{live['bare_ms']} ms: x{live['live_over_bare']} (target <= {LIVE_TARGETS['live_over_bare']}); "
        f"the first after a Send {live['first_live_ms']} ms; Send's own {live['send_own_ms']} ms against "
        f"parse {live['parse_ms']} ms + bare {live['bare_beside_send_ms']} ms: x{live['send_over_parse_plus_bare']} "
        f"(target <= {LIVE_TARGETS['send_over_parse_plus_bare']})"
    )
    summary = {name: {**figures, "target_p95_ms": TARGETS_MS.get(name)} for name, figures in results.items()}
    summary["box_100"] = box
    summary["live_5000"] = {**live, "targets": LIVE_TARGETS}
    summary["live_over_bare"] = live["live_over_bare"]
    summary["send_over_parse_plus_bare"] = live["send_over_parse_plus_bare"]
    summary["ok"] = live["ok"] and all(results[name]["own_p95_ms"] <= target for name, target in TARGETS_MS.items())
    print(json.dumps(summary, sort_keys=True))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
