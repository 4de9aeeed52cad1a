"""builder.preview: Send request as a service, against the sandbox over HTTP; and the response viewer."""

from datetime import UTC, datetime

import pytest

from builder import preview
from builder.wizard_drafts import new_draft
from tests.connections.factories import custom_connection, vtiger_connection

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)


def _spec(endpoint, params=(), pagination=None, method="GET", body=None, headers=()):
    return {
        "method": method,
        "endpoint": endpoint,
        "params": [list(p) for p in params],
        "headers": [list(h) for h in headers],
        "body": body,
        "pagination": pagination or {"type": "none"},
    }


def test_vtiger_pages_are_followed_and_merged(sandbox):
    connection = vtiger_connection(sandbox.url)
    expected = len(sandbox.dataset.records("Potentials"))
    result = preview.send(
        connection,
        _spec("query", [("query", "SELECT id, amount FROM Potentials ORDER BY id;")], {"type": "vtiger"}),
        max_pages=100,
    )
    assert result.ok, result.error
    assert result.data["success"] is True and len(result.data["result"]) == expected
    meta = result.meta
    assert meta["status"] == 200 and meta["pages"] == expected // 100 + 1 and meta["cap_hit"] is False
    assert meta["size_bytes"] > 0 and meta["elapsed_ms"] >= 0 and 0 <= meta["own_ms"] <= meta["total_ms"]


def test_the_preview_cap_stops_paging_with_a_flag(sandbox):
    result = preview.send(
        vtiger_connection(sandbox.url), _spec("query", [("query", "SELECT id FROM Leads;")], {"type": "vtiger"})
    )
    assert result.ok
    assert result.meta["pages"] == preview.PREVIEW_MAX_PAGES and result.meta["cap_hit"] is True
    assert len(result.data["result"]) == 100 * preview.PREVIEW_MAX_PAGES


@pytest.mark.parametrize(
    ("tz", "start", "end"),
    [
        # Last 7 days cut in the analyst's zone, written in the connection's data zone (UTC).
        ("UTC", "2026-03-04 00:00:00", "2026-03-10 15:30:00"),
        ("Asia/Kolkata", "2026-03-03 18:30:00", "2026-03-10 15:30:00"),
        ("America/New_York", "2026-03-04 05:00:00", "2026-03-10 15:30:00"),
    ],
)
def test_placeholders_are_filled_for_the_preview_range(sandbox, tz, start, end):
    connection = custom_connection(sandbox.url)
    result = preview.send(
        connection,
        _spec("echo", [("from", "{{start}}"), ("to", "{{end:YYYY-MM-DD HH:mm:ss}}"), ("ts", "{{start:unix}}")]),
        preset="last_7_days",
        tz=tz,
        now=NOW,
    )
    assert result.ok, result.error
    query = result.data["query"]
    assert (query["from"], query["to"]) == (start, end)
    assert int(query["ts"]) == int(datetime.fromisoformat(start + "+00:00").timestamp())
    assert result.meta["window"]["preset"] == "last_7_days"


def test_a_json_body_is_rendered_and_posted(sandbox):
    connection = custom_connection(sandbox.url, options={"allowed_methods": ["GET", "POST"]})
    result = preview.send(
        connection, _spec("echo", method="POST", body={"since": "{{start:unix_ms}}", "q": "{{end:iso}}"}), now=NOW
    )
    assert result.ok and result.data["method"] == "POST"
    assert isinstance(result.data["json"]["since"], int) and result.data["json"]["q"].endswith("+00:00")


def test_bad_placeholders_never_reach_the_api(sandbox):
    before = sandbox.stats()
    result = preview.send(vtiger_connection(sandbox.url), _spec("query", [("query", "{{yesterday}}")]))
    assert result.error == {
        "kind": "placeholder",
        "message": "Unknown placeholder {{yesterday}}: only {{start}} and {{end}} exist.",
    }
    assert sandbox.stats() == before


@pytest.mark.parametrize(
    ("connection_kind", "spec", "kind", "words"),
    [
        ("vtiger", _spec("query", [("query", "SELECT * FROM Nope;")]), "vtiger_error", "Nope"),
        ("vtiger", _spec("query", method="POST"), "method_not_allowed", "only GET requests are allowed"),
        ("vtiger", _spec("../admin"), "bad_endpoint", "'..'"),
        ("custom", _spec("html"), "not_json", "HTML page instead of JSON"),
        ("custom", _spec("status/503"), "http_error", "HTTP 503"),
        ("custom", _spec("https://evil.example/x"), "bad_endpoint", "outside this connection"),
    ],
)
def test_connection_problems_become_readable_errors(sandbox, connection_kind, spec, kind, words):
    connection = vtiger_connection(sandbox.url) if connection_kind == "vtiger" else custom_connection(sandbox.url)
    result = preview.send(connection, spec)
    assert result.data is None and result.error["kind"] == kind and words in result.error["message"]


def test_a_cut_response_is_flagged_not_parsed(sandbox, settings):
    settings.OUTBOUND_MAX_BYTES = 64 * 1024
    result = preview.send(custom_connection(sandbox.url), _spec("big", [("kb", "200")]))
    assert result.ok and result.data is None
    assert result.meta["truncated"] is True and result.meta["size_bytes"] == 64 * 1024
    assert result.meta["text"].startswith('{"kb":200,"items":[')


def test_send_for_draft_keeps_the_response_and_meta(sandbox, analyst_user):
    connection = vtiger_connection(sandbox.url)
    draft = new_draft(analyst_user, connection)
    draft.definition["request"] = _spec("me")
    draft.save()
    preview.send_for_draft(draft, connection, "UTC")
    draft.refresh_from_db()
    assert draft.response["result"]["user_name"] == "demo"
    assert draft.response_meta["status"] == 200 and draft.response_meta["error"] is None
    assert draft.response_meta["connection"] == str(connection.uuid)


def test_echoed_credentials_are_masked(sandbox):
    connection = custom_connection(
        sandbox.url,
        auth_type="api_key_query",
        options={"api_key_name": "api_key"},
        secrets={"api_key": "sandbox-api-key"},
    )
    result = preview.send(connection, _spec("echo"))
    assert result.ok
    assert "sandbox-api-key" not in repr(result.data) and "sandbox-api-key" not in repr(result.meta)


# ---------------------------------------------------------------- the response viewer


def test_json_tree_escapes_and_caps():
    data = {"result": [{"name": "<script>alert(1)</script>", "n": i, "ok": True, "none": None} for i in range(80)]}
    html = preview.json_tree(data)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert html.count('<details class="j-node"') == 1 + 1 + preview.TREE_MAX_ITEMS
    assert html.count('<details class="j-node" open>') == 3, "the top levels and the first record"
    assert "30 more not shown" in html
    assert '<span class="j-bool">true</span>' in html and '<span class="j-null">null</span>' in html


def test_json_tree_stops_at_the_depth_cap():
    deep = current = {}
    for _ in range(20):
        current["next"] = {}
        current = current["next"]
    html = preview.json_tree(deep, max_depth=5)
    assert html.count("<details") == 5 and "too deep to show" in html


def test_json_tree_escapes_keys_and_values_from_the_api():
    from builder.preview import json_tree

    tree = str(json_tree({"<script>alert(1)</script>": "<img src=x onerror=alert(2)>", "n": [1, "</details>"]}))
    assert "<script>" not in tree
    assert "<img" not in tree
    assert "&lt;script&gt;" in tree
    assert "&lt;img src=x onerror=alert(2)&gt;" in tree
    assert tree.count("<details") == tree.count("</details>")
