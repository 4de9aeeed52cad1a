"""The wizard through the Django test client (no JavaScript), against the sandbox over HTTP."""

import base64
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from builder import steps
from builder.models import Draft, Metric
from builder.wizard_drafts import draft_for_metric, new_draft
from sandbox import DEMO_ACCESS_KEY
from tests.connections.factories import custom_connection, vtiger_connection
from tests.factories import MetricFactory

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def _draft(client, connection):
    response = client.post(reverse("builder:start"), {"connection": str(connection.uuid)})
    assert response.status_code == 302
    return Draft.objects.latest("created_at")


def _request_data(draft, **overrides):
    req = draft.definition["request"]
    data = {
        "connection": draft.definition["connection"],
        "endpoint": req["endpoint"],
        "method": req["method"],
        "pagination": req["pagination"]["type"],
        "pagination_options": "",
        "preview_range": draft.preview_range,
        "body": "",
        "params-TOTAL_FORMS": str(len(req["params"])),
    }
    for i, (key, value) in enumerate(req["params"]):
        data[f"params-{i}-key"] = key
        data[f"params-{i}-value"] = value
    data.update(overrides)
    return data


def _text(response):
    return response.content.decode()


def test_smoke(analyst_client, vtiger):
    draft = _draft(analyst_client, vtiger)
    page = analyst_client.get(reverse("builder:request", args=[draft.uuid]))
    assert page.status_code == 200, _text(page)


def _won_total(sandbox, start, end):
    return sum(
        float(row["amount"])
        for row in sandbox.dataset.records("Potentials")
        if row["sales_stage"] == "Closed Won" and start <= row["closingdate"] <= end
    )


def test_full_wizard_without_javascript(analyst_client, analyst_user, vtiger, sandbox):
    """Start → VTQL helper → Send → date field → generated JSONata → name → saved metric."""
    client = analyst_client
    draft = _draft(client, vtiger)
    url = reverse("builder:request", args=[draft.uuid])
    page = client.get(url)
    text = _text(page)
    assert "Prepare API Request" in text and "API Docs" in text
    assert "GET</strong> only" in text and 'value="Potentials"' in text, "modules come from listtypes"
    assert '<option value="describe">' in text, "endpoint suggestions for Vtiger"

    draft.refresh_from_db()
    page = client.post(url, _request_data(draft, action="vtql-fields", vtql_module="Potentials"))
    text = _text(page)
    assert page.status_code == 200
    assert 'name="vtql_fields" value="amount"' in text and "Closed Won" in text
    draft.refresh_from_db()
    page = client.post(
        url,
        _request_data(
            draft,
            action="vtql-write",
            vtql_module="Potentials",
            vtql_fields=["amount", "closingdate"],
            vtql_date_field="closingdate",
            vtql_condition="sales_stage=Closed Won",
        ),
    )
    draft.refresh_from_db()
    query = dict(draft.definition["request"]["params"])["query"]
    assert query == (
        "SELECT amount, closingdate FROM Potentials WHERE sales_stage = 'Closed Won' AND "
        "closingdate >= '{{start:YYYY-MM-DD}}' AND closingdate <= '{{end:YYYY-MM-DD}}';"
    )
    assert draft.definition["request"]["pagination"] == {"type": "vtiger"}

    sent = client.post(reverse("builder:send", args=[draft.uuid]), _request_data(draft), follow=True)
    text = _text(sent)
    assert sent.status_code == 200 and 'data-testid="json-tree"' in text
    draft.refresh_from_db()
    meta = draft.response_meta
    assert meta["status"] == 200 and meta["pages"] >= 1 and meta["error"] is None
    assert meta["own_ms"] >= 0 and meta["size_bytes"] > 0

    next_page = client.post(url, _request_data(draft, action="next"))
    assert next_page.status_code == 302 and next_page["Location"] == reverse("builder:date", args=[draft.uuid])

    date_page = client.get(reverse("builder:date", args=[draft.uuid]))
    text = _text(date_page)
    assert 'value="closingdate"' in text and "UTC" in text
    done = client.post(
        reverse("builder:date", args=[draft.uuid]),
        {"mode": "field", "field": "closingdate", "format": "YYYY-MM-DD", "timezone": "UTC", "action": "next"},
    )
    assert done.status_code == 302

    expression_page = client.get(reverse("builder:expression", args=[draft.uuid]))
    text = _text(expression_page)
    expected_expression = 'result.{"date": closingdate, "value": $number(amount)}'
    draft.refresh_from_db()
    assert draft.definition["expression"] == expected_expression
    today = datetime.now(UTC).date()
    start = (today - timedelta(days=29)).isoformat()
    expected = _won_total(sandbox, start, today.isoformat())
    assert expected > 0, "the sandbox has deals won in the last 30 days"
    total = re.search(r'data-testid="datapoint-total">([^<]+)<', text).group(1)
    assert float(total.replace(",", "")) == pytest.approx(expected, abs=0.01)

    assert (
        client.post(
            reverse("builder:expression", args=[draft.uuid]), {"expression": expected_expression, "action": "next"}
        ).status_code
        == 302
    )
    saved = client.post(
        reverse("builder:save", args=[draft.uuid]),
        {
            "name": "Deals won (amount)",
            "description": "",
            "aggregation": "sum",
            "number_format": "currency",
            "favourable_trend": "up",
            "action": "save",
        },
    )
    metric = Metric.objects.get(name="Deals won (amount)")
    assert saved.status_code == 302 and saved["Location"] == reverse("builder:metric", args=[metric.uuid])
    assert metric.connection == vtiger and metric.owner == analyst_user
    assert metric.params == [["query", query]] and metric.date_field == "closingdate"
    assert metric.expression == expected_expression and metric.pagination == {"type": "vtiger"}
    assert not Draft.objects.filter(pk=draft.pk).exists()


# ---------------------------------------------------------------- Key/Value rows


def test_rows_add_and_remove_without_javascript(analyst_client, vtiger):
    draft = _draft(analyst_client, vtiger)
    url = reverse("builder:request", args=[draft.uuid])
    data = _request_data(draft, **{"params-add": "1"})
    data["params-0-value"] = "SELECT id FROM Leads;"
    page = analyst_client.post(url, data)
    text = _text(page)
    assert page.status_code == 200 and "<html" in text
    assert 'name="params-TOTAL_FORMS" value="2"' in text and 'name="params-1-key"' in text
    assert "SELECT id FROM Leads;" in text, "the value typed before pressing + is kept"
    draft.refresh_from_db()
    assert draft.definition["request"]["params"] == [["query", "SELECT id FROM Leads;"], ["", ""]]

    data = {k: v for k, v in data.items() if k != "params-add"}
    data.update({"params-TOTAL_FORMS": "2", "params-1-key": "elementType", "params-1-value": "Leads"})
    page = analyst_client.post(url, {**data, "params-remove": "0"})
    text = _text(page)
    assert 'name="params-TOTAL_FORMS" value="1"' in text and 'value="elementType"' in text
    assert "SELECT id FROM Leads;" not in text
    draft.refresh_from_db()
    assert draft.definition["request"]["params"] == [["elementType", "Leads"]]


def test_rows_with_htmx_return_the_rows_fragment_only(analyst_client, vtiger):
    draft = _draft(analyst_client, vtiger)
    url = reverse("builder:request", args=[draft.uuid])
    page = analyst_client.post(url, _request_data(draft, **{"params-add": "1"}), **HX)
    text = _text(page)
    assert page.status_code == 200 and "<html" not in text
    assert text.strip().startswith('<fieldset class="kv-rows" id="params-rows">')
    assert 'name="params-TOTAL_FORMS" value="2"' in text


def test_custom_connection_has_header_rows(analyst_client, sandbox):
    connection = custom_connection(sandbox.url, name="Deals API")
    draft = _draft(analyst_client, connection)
    url = reverse("builder:request", args=[draft.uuid])
    text = _text(analyst_client.get(url))
    assert 'id="headers-rows"' in text and "GET</strong> only" not in text
    page = analyst_client.post(url, {**_request_data(draft, endpoint="deals"), "headers-add": "1"}, **HX)
    assert _text(page).strip().startswith('<fieldset class="kv-rows" id="headers-rows">')


# ---------------------------------------------------------------- bad input, nothing lost


def test_malformed_json_body_is_a_field_error(analyst_client, sandbox):
    connection = custom_connection(sandbox.url, name="Echo API", options={"allowed_methods": ["GET", "POST"]})
    draft = _draft(analyst_client, connection)
    body = '{"since": "{{start:iso}}",}'
    page = analyst_client.post(
        reverse("builder:request", args=[draft.uuid]),
        _request_data(draft, endpoint="echo", method="POST", body=body, action="next"),
    )
    text = _text(page)
    assert page.status_code == 422
    assert "The JSON body is not valid JSON" in text and "line 1, column 27" in text
    assert "{{start:iso}}&quot;,}" in text or '{{start:iso}}",}' in text, "the body typed is shown again"
    draft.refresh_from_db()
    assert draft.definition["_wizard"]["body_text"] == body

    good = '{"since": "{{start:unix}}"}'
    analyst_client.post(
        reverse("builder:send", args=[draft.uuid]),
        _request_data(draft, endpoint="echo", method="POST", body=good),
    )
    draft.refresh_from_db()
    assert draft.response_meta["error"] is None
    assert isinstance(draft.response["json"]["since"], int), "a lone unix placeholder is sent as a number"


def test_unknown_placeholder_is_an_error_and_nothing_is_lost(analyst_client, vtiger):
    draft = _draft(analyst_client, vtiger)
    query = "SELECT * FROM Leads WHERE createdtime >= '{{begin}}';"
    page = analyst_client.post(
        reverse("builder:send", args=[draft.uuid]), _request_data(draft, **{"params-0-value": query})
    )
    text = _text(page)
    assert page.status_code == 422
    assert "Unknown placeholder {{begin}}: only {{start}} and {{end}} exist." in text
    assert "{{begin}}" in text and "createdtime &gt;= " in text
    draft.refresh_from_db()
    assert draft.definition["request"]["params"] == [["query", query]]
    assert not draft.response_meta, "nothing was sent"

    bad_format = "SELECT * FROM Leads WHERE createdtime >= '{{start:YYYY-DD-MM-QQ}}';"
    page = analyst_client.post(
        reverse("builder:send", args=[draft.uuid]), _request_data(draft, **{"params-0-value": bad_format})
    )
    assert "Unknown date format" in _text(page)


def test_vtql_syntax_error_shows_vtigers_message(analyst_client, vtiger):
    draft = _draft(analyst_client, vtiger)
    page = analyst_client.post(
        reverse("builder:send", args=[draft.uuid]),
        _request_data(draft, **{"params-0-value": "SELECT * FROM Potentials WHERE;"}),
        follow=True,
    )
    text = _text(page)
    assert page.status_code == 200
    draft.refresh_from_db()
    error = draft.response_meta["error"]
    assert error["kind"] == "vtiger_error" and "Syntax Error" in error["vtiger_message"]
    assert 'data-testid="send-error"' in text and "Syntax Error" in text
    assert dict(draft.definition["request"]["params"])["query"] == "SELECT * FROM Potentials WHERE;"


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("../../other", "may not contain &#x27;..&#x27;"),
        ("query/../../../admin", "may not contain &#x27;..&#x27;"),
        ("https://evil.example/steal", "points outside this connection (evil.example)"),
        ("//evil.example/steal", "not a URL with a scheme or host"),
    ],
)
def test_endpoint_escaping_the_base_url_is_refused(analyst_client, vtiger, sandbox, endpoint, message):
    draft = _draft(analyst_client, vtiger)
    before = sandbox.stats()
    page = analyst_client.post(reverse("builder:send", args=[draft.uuid]), _request_data(draft, endpoint=endpoint))
    text = _text(page)
    assert page.status_code == 422 and message in text
    assert f'value="{endpoint}"' in text, "the endpoint typed is kept"
    draft.refresh_from_db()
    assert draft.definition["request"]["endpoint"] == endpoint and not draft.response_meta
    assert sandbox.stats() == before, "nothing was sent"


def test_a_response_over_the_size_cap_is_cut_with_a_banner(analyst_client, sandbox, settings):
    connection = custom_connection(sandbox.url, name="Big API")
    draft = _draft(analyst_client, connection)
    page = analyst_client.post(
        reverse("builder:send", args=[draft.uuid]),
        _request_data(
            draft, endpoint="big", **{"params-TOTAL_FORMS": "1", "params-0-key": "kb", "params-0-value": "10500"}
        ),
        follow=True,
    )
    text = _text(page)
    assert page.status_code == 200 and 'data-testid="truncated"' in text and "The response was cut" in text
    draft.refresh_from_db()
    assert draft.response is None and draft.response_meta["truncated"] is True
    assert draft.response_meta["size_bytes"] == settings.OUTBOUND_MAX_BYTES
    # The next steps explain there is nothing to work on instead of failing.
    assert analyst_client.get(reverse("builder:date", args=[draft.uuid])).status_code == 200
    expression = analyst_client.get(reverse("builder:expression", args=[draft.uuid]))
    assert expression.status_code == 200 and "There is no response to evaluate yet" in _text(expression)


def test_a_non_json_response_is_a_readable_error(analyst_client, sandbox):
    connection = custom_connection(sandbox.url, name="HTML site")
    draft = _draft(analyst_client, connection)
    page = analyst_client.post(
        reverse("builder:send", args=[draft.uuid]), _request_data(draft, endpoint="html"), follow=True
    )
    text = _text(page)
    assert page.status_code == 200
    assert "The server answered with an HTML page instead of JSON" in text and "Not an API" in text


def test_unreachable_host_is_a_readable_error(analyst_client, db):
    connection = vtiger_connection("http://127.0.0.1:9", name="Nowhere")
    draft = _draft(analyst_client, connection)
    page = analyst_client.post(reverse("builder:send", args=[draft.uuid]), _request_data(draft), follow=True)
    assert page.status_code == 200 and "refused the connection" in _text(page)


def test_an_expression_that_never_ends_is_stopped(analyst_client, vtiger):
    draft = _draft(analyst_client, vtiger)
    analyst_client.post(
        reverse("builder:send", args=[draft.uuid]),
        _request_data(draft, **{"params-0-value": "SELECT id FROM Leads;"}),
    )
    runaway = "($loop := function($n){ $loop($n + 1) }; $loop(0))"
    page = analyst_client.post(reverse("builder:evaluate", args=[draft.uuid]), {"expression": runaway}, **HX)
    text = _text(page)
    assert page.status_code == 200 and "<html" not in text
    assert "D1012" in text and "took too long" in text
    page = analyst_client.post(
        reverse("builder:expression", args=[draft.uuid]), {"expression": runaway, "action": "next"}
    )
    assert page.status_code == 422 and "D1012" in _text(page)
    draft.refresh_from_db()
    assert draft.definition["expression"] == runaway


def test_expression_errors_show_code_and_position(analyst_client, vtiger):
    draft = _draft(analyst_client, vtiger)
    analyst_client.post(
        reverse("builder:send", args=[draft.uuid]), _request_data(draft, **{"params-0-value": "SELECT id FROM Leads;"})
    )
    page = analyst_client.post(reverse("builder:evaluate", args=[draft.uuid]), {"expression": "result.(id"}, **HX)
    text = _text(page)
    assert 'data-error-code="S0203"' in text and 'data-error-position="' in text and "at character" in text
    shape = analyst_client.post(reverse("builder:evaluate", args=[draft.uuid]), {"expression": '"text"'}, **HX)
    assert "The expression must return a number" in _text(shape)


# ---------------------------------------------------------------- moving between steps


def test_back_keeps_everything(analyst_client, vtiger):
    draft = _draft(analyst_client, vtiger)
    query = "SELECT amount, closingdate FROM Potentials;"
    analyst_client.post(reverse("builder:send", args=[draft.uuid]), _request_data(draft, **{"params-0-value": query}))
    analyst_client.post(
        reverse("builder:request", args=[draft.uuid]), _request_data(draft, **{"params-0-value": query}, action="next")
    )
    date_url = reverse("builder:date", args=[draft.uuid])
    back = analyst_client.post(
        date_url, {"mode": "field", "field": "closingdate", "format": "YYYY-MM-DD", "timezone": "UTC", "action": "back"}
    )
    assert back.status_code == 302
    assert query in _text(analyst_client.get(reverse("builder:request", args=[draft.uuid])))
    date_page = _text(analyst_client.get(date_url))
    assert re.search(r'value="field"[^>]*checked', date_page) and re.search(
        r'value="closingdate"[^>]*checked', date_page
    )
    exp_url = reverse("builder:expression", args=[draft.uuid])
    analyst_client.post(exp_url, {"expression": "$count(result)", "action": "back"})
    assert "$count(result)" in _text(analyst_client.get(exp_url)), "an edited expression is not regenerated"
    name_url = reverse("builder:name", args=[draft.uuid])
    analyst_client.post(
        name_url,
        {
            "name": "Won",
            "description": "d",
            "aggregation": "max",
            "number_format": "percent",
            "favourable_trend": "down",
            "action": "back",
        },
    )
    name_page = _text(analyst_client.get(name_url))
    assert 'value="Won"' in name_page and re.search(r'value="down"[^>]*checked', name_page)
    assert re.search(r'<option value="max" selected>', name_page)


def test_name_errors_and_duplicate_name(analyst_client, vtiger):
    draft = _draft(analyst_client, vtiger)
    MetricFactory(name="Taken", current=True)
    page = analyst_client.post(
        reverse("builder:save", args=[draft.uuid]),
        {"name": "taken", "aggregation": "sum", "number_format": "number", "favourable_trend": "up"},
    )
    assert page.status_code == 422 and "already exists" in _text(page)
    page = analyst_client.post(
        reverse("builder:save", args=[draft.uuid]),
        {"name": "Fresh", "aggregation": "sum", "number_format": "number", "favourable_trend": "up"},
    )
    text = _text(page)
    assert page.status_code == 422 and "cannot be saved yet" in text and "expression" in text


def test_edit_reopens_the_wizard_filled_in(analyst_client, analyst_user, vtiger):
    metric = MetricFactory(name="Leads", current=True, connection=vtiger)
    draft = draft_for_metric(metric, analyst_user)
    assert draft.metric == metric and draft.definition["connection"] == str(vtiger.uuid)
    text = _text(analyst_client.get(reverse("builder:request", args=[draft.uuid])))
    assert "SELECT count(*) FROM Leads;" in text and "Editing <strong>Leads</strong>" in text
    saved = analyst_client.post(
        reverse("builder:save", args=[draft.uuid]),
        {"name": "Leads (all)", "aggregation": "latest", "number_format": "number", "favourable_trend": "up"},
    )
    assert saved.status_code == 302
    metric.refresh_from_db()
    assert metric.name == "Leads (all)" and metric.aggregation == "latest" and Metric.objects.count() == 1


# ---------------------------------------------------------------- who may see what


def _all_pages(client, draft):
    yield client.get(reverse("builder:start"))
    for step in ("request", "date", "expression", "name"):
        yield client.get(reverse(f"builder:{step}", args=[draft.uuid]))
    yield client.post(reverse("builder:evaluate", args=[draft.uuid]), {"expression": "$"}, **HX)
    yield client.post(reverse("builder:send", args=[draft.uuid]), _request_data(draft), **HX)


def test_analyst_sees_no_credential(analyst_client, vtiger, sandbox):
    draft = _draft(analyst_client, vtiger)
    basic = base64.b64encode(f"demo:{DEMO_ACCESS_KEY}".encode()).decode()
    responses = list(_all_pages(analyst_client, draft))
    # An error page too: a wrong key makes Vtiger refuse, and the message must not echo it.
    wrong = vtiger_connection(sandbox.url, name="Wrong key", access_key="wrong-key-1234567")
    draft2 = _draft(analyst_client, wrong)
    responses.append(
        analyst_client.post(reverse("builder:send", args=[draft2.uuid]), _request_data(draft2), follow=True)
    )
    assert "Wrong username or access key" in _text(responses[-1])
    # The echo endpoint sends back what it got, headers included.
    echo = custom_connection(sandbox.url, name="Echo", auth_type="bearer", secrets={"token": "sandbox-token"})
    draft3 = _draft(analyst_client, echo)
    responses.append(
        analyst_client.post(
            reverse("builder:send", args=[draft3.uuid]), _request_data(draft3, endpoint="echo"), follow=True
        )
    )
    for response in responses:
        assert response.status_code in (200, 422)
        text = _text(response)
        for secret in (DEMO_ACCESS_KEY, basic, "wrong-key-1234567", "sandbox-token"):
            assert secret not in text, f"{secret} leaked into {response.request['PATH_INFO']}"
    for stored in Draft.objects.all():
        dumped = json.dumps([stored.definition, stored.response, stored.response_meta])
        assert DEMO_ACCESS_KEY not in dumped and "sandbox-token" not in dumped


def test_outsider_gets_403_everywhere(client, outsider_user, analyst_user, vtiger):
    draft = new_draft(analyst_user, vtiger)
    client.force_login(outsider_user)
    assert client.get(reverse("builder:start")).status_code == 403
    for step in ("request", "date", "expression", "name"):
        assert client.get(reverse(f"builder:{step}", args=[draft.uuid])).status_code == 403
    for action in ("send", "evaluate", "save"):
        assert client.post(reverse(f"builder:{action}", args=[draft.uuid])).status_code == 403


def test_anonymous_goes_to_login(client, analyst_user, vtiger):
    response = client.get(reverse("builder:start"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_another_users_draft_is_404(analyst_client, admin_user, vtiger):
    draft = new_draft(admin_user, vtiger)
    for step in ("request", "date", "expression", "name"):
        assert analyst_client.get(reverse(f"builder:{step}", args=[draft.uuid])).status_code == 404
    for action in ("send", "evaluate", "save"):
        assert analyst_client.post(reverse(f"builder:{action}", args=[draft.uuid])).status_code == 404
    assert "Untitled" not in _text(analyst_client.get(reverse("builder:start")))


def test_start_page_empty_state_and_drafts(analyst_client, db):
    text = _text(analyst_client.get(reverse("builder:start")))
    assert "Ask an admin to add a connection in the Data Manager" in text
    assert reverse("builder:gallery") in text
    assert analyst_client.post(reverse("builder:start"), {"connection": "nope"}).status_code == 400


def test_start_lists_my_drafts(analyst_client, vtiger):
    draft = _draft(analyst_client, vtiger)
    text = _text(analyst_client.get(reverse("builder:start")))
    assert reverse("builder:request", args=[draft.uuid]) in text and "Untitled metric" in text


def test_send_and_helper_with_htmx_return_the_wizard_fragment(analyst_client, vtiger):
    draft = _draft(analyst_client, vtiger)
    draft.refresh_from_db()
    page = analyst_client.post(
        reverse("builder:request", args=[draft.uuid]),
        _request_data(draft, action="vtql-fields", vtql_module="Leads"),
        **HX,
    )
    text = _text(page)
    assert "<html" not in text and text.strip().startswith('<div id="wizard"') and 'value="leadsource"' in text
    draft.refresh_from_db()
    page = analyst_client.post(
        reverse("builder:send", args=[draft.uuid]),
        _request_data(draft, **{"params-0-value": "SELECT * FROM Leads;"}),
        **HX,
    )
    text = _text(page)
    assert page.status_code == 200 and "<html" not in text and 'class="wizard split"' in text
    assert 'data-testid="json-tree"' in text and 'data-meta="pages">10<' in text and "Stopped after 10 pages" in text
    nxt = analyst_client.post(reverse("builder:request", args=[draft.uuid]), _request_data(draft, action="next"), **HX)
    assert nxt.status_code == 200 and nxt["HX-Redirect"] == reverse("builder:date", args=[draft.uuid])


def test_vtql_hints_before_sending(analyst_client, vtiger):
    draft = _draft(analyst_client, vtiger)
    page = analyst_client.post(
        reverse("builder:request", args=[draft.uuid]),
        _request_data(draft, **{"params-0-value": "SELECT * FROM potentials WHERE closingdate >= 2026-01-01"}),
    )
    text = _text(page)
    assert 'data-testid="vtql-hints"' in text
    assert "Module names are case-sensitive: Potentials." in text and "Dates must be quoted" in text


def test_preview_range_changes_the_rendered_dates(analyst_client, vtiger):
    draft = _draft(analyst_client, vtiger)
    query = "SELECT id FROM Leads WHERE createdtime >= '{{start}}';"
    page = analyst_client.post(
        reverse("builder:request", args=[draft.uuid]),
        _request_data(draft, preview_range="yesterday", action="refresh", **{"params-0-value": query}),
        **HX,
    )
    text = _text(page)
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    assert f"createdtime &gt;= &#x27;{yesterday} 00:00:00&#x27;;" in text
    draft.refresh_from_db()
    assert draft.preview_range == "yesterday"


def test_vtiger_refuses_post_with_the_reason(analyst_client, vtiger, sandbox):
    draft = _draft(analyst_client, vtiger)
    analyst_client.get(reverse("builder:request", args=[draft.uuid]))  # the VTQL helper loads its modules
    before = sandbox.stats()
    page = analyst_client.post(reverse("builder:send", args=[draft.uuid]), _request_data(draft, method="POST"))
    assert page.status_code == 422
    assert "Vtiger connections allow GET only, so calls which change data are not allowed." in _text(page)
    assert sandbox.stats() == before


def test_date_candidates_show_utc_and_the_analysts_zone(analyst_client, analyst_user, vtiger):
    analyst_user.profile.time_zone = "Asia/Kolkata"
    analyst_user.profile.save()
    draft = _draft(analyst_client, vtiger)
    query = "SELECT createdtime, leadsource FROM Leads ORDER BY id LIMIT 5;"
    data = _request_data(draft, pagination="none", **{"params-0-value": query})
    analyst_client.post(reverse("builder:send", args=[draft.uuid]), data)
    draft.refresh_from_db()
    raw = draft.response["result"][0]["createdtime"]
    text = _text(analyst_client.get(reverse("builder:date", args=[draft.uuid])))
    moment = datetime.fromisoformat(raw).replace(tzinfo=UTC)
    local = moment + timedelta(hours=5, minutes=30)
    assert 'value="createdtime"' in text and raw in text
    assert f"{moment:%Y-%m-%d %H:%M:%S} UTC" in text and f"{local:%Y-%m-%d %H:%M:%S} IST" in text
    assert "Your time zone (Asia/Kolkata)" in text

    bad = analyst_client.post(
        reverse("builder:date", args=[draft.uuid]),
        {
            "mode": "field",
            "field": "createdtime",
            "format": "custom",
            "custom_format": "YYYY-QQ",
            "timezone": "Mars/Base",
        },
    )
    text = _text(bad)
    assert bad.status_code == 422 and "Unknown time zone" in text and "This pattern cannot be used" in text
    assert 'value="YYYY-QQ"' in text and 'value="Mars/Base"' in text, "what was typed is shown again"


def test_expression_step_evaluates_without_javascript(analyst_client, vtiger):
    draft = _draft(analyst_client, vtiger)
    analyst_client.post(
        reverse("builder:send", args=[draft.uuid]),
        _request_data(draft, pagination="none", **{"params-0-value": "SELECT id FROM Leads LIMIT 7;"}),
    )
    page = analyst_client.post(
        reverse("builder:expression", args=[draft.uuid]), {"expression": "$count(result)", "action": "evaluate"}
    )
    text = _text(page)
    assert page.status_code == 200 and "<html" in text
    assert re.search(r'data-testid="datapoint-count">1<', text) and 'data-testid="datapoint-total">7.00<' in text


def test_date_step_rechecks_live_with_htmx(analyst_client, vtiger):
    draft = _draft(analyst_client, vtiger)
    analyst_client.post(
        reverse("builder:send", args=[draft.uuid]),
        _request_data(draft, pagination="none", **{"params-0-value": "SELECT closingdate FROM Potentials LIMIT 3;"}),
    )
    page = analyst_client.post(
        reverse("builder:date", args=[draft.uuid]),
        {"mode": "field", "field": "closingdate", "format": "unix", "timezone": "UTC", "action": "check"},
        **HX,
    )
    text = _text(page)
    assert page.status_code == 200 and "How <code>closingdate</code> is read" in text
    assert "Cannot read" in text and "Epoch seconds" in text


def test_the_expression_preview_shows_a_calendar_date_on_its_date(analyst_user, offline_vtiger):
    """A closingdate is 15 October for a New York analyst too, not the evening of the 14th."""
    draft = new_draft(analyst_user, offline_vtiger)
    draft.response = {"result": [{"closingdate": "2026-10-15", "amount": "10.00"}]}
    draft.definition["date"] = {"mode": "field", "field": "closingdate", "format": "YYYY-MM-DD"}
    out = steps.evaluation(draft, '$.result.{"date": closingdate, "value": $number(amount)}', "America/New_York")
    assert [row["date"] for row in out["datapoints"]] == ["2026-10-15 (calendar date)"]
