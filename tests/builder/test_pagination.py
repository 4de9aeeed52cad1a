"""builder.pagination: pure paging rules, then every type walked against the sandbox over HTTP."""

import pytest

from builder import pagination
from builder.pagination import Pager, PaginationError
from connections.client import Client
from tests.connections.factories import custom_connection, vtiger_connection


def _walk(pager, client, method="GET"):
    page = pager.first()
    while page is not None:
        response = client.request(method, page.endpoint, params=page.params)
        page = pager.advance(response.data)
    return pager.merged()


# ---------------------------------------------------------------- pure


def test_every_type_has_a_label_and_its_options_and_is_valid_without_them():
    assert tuple(pagination.TYPE_LABELS) == pagination.TYPES
    assert tuple(pagination.OPTIONS) == pagination.TYPES
    for kind in pagination.TYPES:
        assert pagination.validate({"type": kind}) == [], kind


def test_unknown_type_and_option_are_errors():
    assert "Unknown pagination type 'pages'" in pagination.validate({"type": "pages"})[0]
    assert "no option size" in pagination.validate({"type": "offset", "size": 3})[0]
    assert "whole number" in pagination.validate({"type": "offset", "limit": "ten"})[0]
    assert pagination.validate({"type": "vtiger"}) == []
    assert pagination.validate(None) == []


def test_none_is_one_request():
    pager = Pager({"type": "none"}, "deals", [("a", "1")])
    assert pager.first() == pagination.Page("deals", [("a", "1")])
    assert pager.advance({"x": 1}) is None
    assert pager.merged() == {"x": 1}
    assert (pager.pages, pager.cap_hit) == (1, False)


def test_vtiger_rewrites_limit_until_a_short_page():
    pager = Pager({"type": "vtiger"}, "query", [("query", "SELECT id FROM Leads LIMIT 5;")])
    first = pager.first()
    assert first.params == [("query", "SELECT id FROM Leads LIMIT 0,100;")]
    full = {"success": True, "result": [{"id": i} for i in range(100)]}
    second = pager.advance(full)
    assert second.params == [("query", "SELECT id FROM Leads LIMIT 100,100;")]
    assert pager.advance({"success": True, "result": [{"id": "last"}]}) is None
    merged = pager.merged()
    assert merged["success"] is True and len(merged["result"]) == 101
    assert len(full["result"]) == 100, "the first page's body is not changed"


def test_vtiger_needs_a_query():
    with pytest.raises(PaginationError, match="query"):
        Pager({"type": "vtiger"}, "query", [])


def test_cap_hit_when_pages_remain():
    pager = Pager({"type": "offset", "limit": 2}, "deals", [], max_pages=3)
    page = pager.first()
    offsets = []
    while page is not None:
        offsets.append(dict(page.params)["offset"])
        page = pager.advance({"data": [1, 2]})
    assert offsets == ["0", "2", "4"]
    assert pager.cap_hit is True and pager.pages == 3 and pager.merged() == {"data": [1, 2] * 3}


def test_no_cap_hit_when_the_last_page_is_at_the_cap():
    pager = Pager({"type": "offset", "limit": 2}, "deals", [], max_pages=2)
    pager.first()
    assert pager.advance({"data": [1, 2]}) is not None
    assert pager.advance({"data": [3]}) is None
    assert pager.cap_hit is False


def test_at_most_100_pages():
    assert Pager({"type": "page"}, "x", [], max_pages=500).max_pages == 100


def test_page_stops_at_total_pages_and_nested_records():
    pager = Pager({"type": "page", "total_pages_path": "meta.pages", "records": "meta.items"}, "x", [])
    assert dict(pager.first().params) == {"page": "1"}
    nxt = pager.advance({"meta": {"pages": 2, "items": [1]}})
    assert dict(nxt.params) == {"page": "2"}
    assert pager.advance({"meta": {"pages": 2, "items": [2]}}) is None
    assert pager.merged() == {"meta": {"pages": 2, "items": [1, 2]}}


def test_cursor_and_next_stop_on_empty_values():
    pager = Pager({"type": "cursor"}, "x", [("cursor", "old")])
    pager.first()
    assert pager.advance({"data": [1], "next_cursor": "abc"}).params == [("cursor", "abc")]
    assert pager.advance({"data": [2], "next_cursor": None}) is None
    nexts = Pager({"type": "next"}, "x", [])
    nexts.first()
    assert nexts.advance({"data": [1], "next": "http://h/x?page=2"}).endpoint == "http://h/x?page=2"
    assert nexts.advance({"data": [1], "next": ""}) is None


# ---------------------------------------------------------------- against the sandbox


@pytest.mark.parametrize(
    ("spec", "params"),
    [
        ({"type": "page", "size_param": "per_page", "size": 40}, [("paginate", "page")]),
        ({"type": "offset", "limit": 40}, [("paginate", "offset")]),
        ({"type": "cursor", "cursor_path": "next_cursor"}, [("paginate", "cursor"), ("limit", "40")]),
        ({"type": "next"}, [("paginate", "next"), ("per_page", "40")]),
    ],
)
def test_custom_api_styles_fetch_every_deal(sandbox, spec, params):
    expected = [int(row["id"].split("x")[1]) for row in sandbox.dataset.records("Potentials")]
    with Client(custom_connection(sandbox.url, save=False)) as client:
        pager = Pager(spec, "deals", params)
        merged = _walk(pager, client)
    ids = [deal["id"] for deal in merged["data"]]
    assert ids == expected
    assert pager.pages >= len(expected) // 40 and not pager.cap_hit


def test_vtiger_pages_a_query_to_the_end(sandbox):
    expected = {row["id"] for row in sandbox.dataset.records("Potentials")}
    assert len(expected) > 100, "the sandbox must hold more than one page of deals"
    with Client(vtiger_connection(sandbox.url, save=False)) as client:
        pager = Pager({"type": "vtiger"}, "query", [("query", "SELECT id FROM Potentials ORDER BY id;")])
        merged = _walk(pager, client)
    assert [row["id"] for row in merged["result"]] == sorted(expected, key=lambda i: int(i.split("x")[1]))
    assert pager.pages == len(expected) // 100 + 1


def test_vtiger_cap_hit_against_the_sandbox(sandbox):
    with Client(vtiger_connection(sandbox.url, save=False)) as client:
        pager = Pager({"type": "vtiger"}, "query", [("query", "SELECT id FROM Potentials;")], max_pages=2)
        merged = _walk(pager, client)
    assert pager.cap_hit and pager.pages == 2 and len(merged["result"]) == 200
