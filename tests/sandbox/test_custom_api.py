"""The generic JSON API under /custom/v1: pagination styles, auth, redirects, HTML and size."""

import base64
from urllib.parse import parse_qs, urlsplit

import pytest

from sandbox import DEMO_ACCESS_KEY, DEMO_USERNAME


@pytest.fixture
def custom(sandbox, http):
    def get(path, **kwargs):
        kwargs.setdefault("timeout", 10)
        return http.get(f"{sandbox.url}/custom/v1/{path}", **kwargs)

    return get


def test_deals_are_the_potentials_as_plain_json(custom, sandbox):
    deals = custom("deals").json()
    potentials = sandbox.dataset.records("Potentials")
    assert isinstance(deals, list) and len(deals) == len(potentials) == 700
    first, row = deals[0], potentials[0]
    assert first["id"] == int(row["id"].split("x")[1])
    assert first["name"] == row["potentialname"]
    assert isinstance(first["amount"], float) and first["amount"] == float(row["amount"])
    assert isinstance(first["probability"], float)
    assert first["close_date"] == row["closingdate"]
    assert first["created_at"] == row["createdtime"].replace(" ", "T") + "Z"
    assert first["won"] is (row["sales_stage"] == "Closed Won")
    assert first["account"]["name"]


def _ids(items):
    return [item["id"] for item in items]


def test_page_pagination(custom):
    everything, page = [], 1
    while True:
        body = custom("deals", params={"paginate": "page", "page": page, "per_page": 64}).json()
        assert (body["page"], body["per_page"], body["total_pages"], body["total"]) == (page, 64, 11, 700)
        if not body["data"]:
            break
        everything += body["data"]
        page += 1
    assert page == 12
    assert _ids(everything) == _ids(custom("deals").json())


def test_offset_pagination(custom):
    everything, offset = [], 0
    while body := custom("deals", params={"paginate": "offset", "offset": offset, "limit": 300}).json():
        assert body["total"] == 700
        if not body["data"]:
            break
        everything += body["data"]
        offset += 300
    assert len(everything) == 700 and len(set(_ids(everything))) == 700


def test_cursor_pagination(custom):
    everything, cursor, pages = [], None, 0
    while True:
        params = {"paginate": "cursor", "limit": 250, **({"cursor": cursor} if cursor else {})}
        body = custom("deals", params=params).json()
        everything += body["data"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert _ids(everything) == _ids(custom("deals").json())


def test_next_link_pagination(custom, sandbox, http):
    everything, url = [], f"{sandbox.url}/custom/v1/deals?paginate=next&per_page=200&since=2025-01-01"
    while url:
        body = http.get(url, timeout=10).json()
        everything += body["data"]
        url = body["next"]
        if url:
            # An absolute link that keeps the other parameters.
            assert url.startswith(sandbox.url)
            assert parse_qs(urlsplit(url).query)["since"] == ["2025-01-01"]
    expected = [d for d in custom("deals").json() if d["created_at"] >= "2025-01-01"]
    assert len(expected) > 400
    assert _ids(everything) == _ids(expected)


def test_since_and_until_filter_on_created_at(custom):
    deals = custom("deals", params={"since": "2026-01-01", "until": "2026-02-01T00:00:00Z"}).json()
    assert deals
    assert all("2026-01-01" <= d["created_at"] < "2026-02-01" for d in deals)


@pytest.mark.parametrize(
    "params",
    [
        {"paginate": "pages"},
        {"paginate": "page", "page": "0"},
        {"paginate": "offset", "limit": "x"},
        {"paginate": "cursor", "cursor": "not-a-cursor"},
        {"since": "yesterday"},
    ],
)
def test_bad_parameters_are_400_json(custom, params):
    response = custom("deals", params=params)
    assert response.status_code == 400
    assert response.json()["error"]


def _basic(username, password):
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("headers", "params"),
    [
        ({"Authorization": "Bearer sandbox-token"}, {}),
        ({"X-API-Key": "sandbox-api-key"}, {}),
        ({}, {"api_key": "sandbox-api-key"}),
        ({"Authorization": _basic(DEMO_USERNAME, DEMO_ACCESS_KEY)}, {}),
    ],
)
def test_secure_deals_accept_each_credential(custom, headers, params):
    response = custom("secure/deals", headers=headers, params={"paginate": "page", **params})
    assert response.status_code == 200
    assert response.json()["total"] == 700


@pytest.mark.parametrize(
    ("headers", "params"),
    [
        ({}, {}),
        ({"Authorization": "Bearer wrong"}, {}),
        ({"X-API-Key": "wrong"}, {}),
        ({}, {"api_key": "wrong"}),
        ({"Authorization": _basic(DEMO_USERNAME, "wrong")}, {}),
        ({"Authorization": "Basic ???"}, {}),
    ],
)
def test_secure_deals_refuse_anything_else(custom, headers, params):
    response = custom("secure/deals", headers=headers, params=params)
    assert response.status_code == 401
    assert response.json()["error"].startswith("unauthorized")


def test_redirect(custom):
    response = custom("redirect", params={"to": "http://169.254.169.254/latest/"}, allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"] == "http://169.254.169.254/latest/"
    assert custom("redirect", params={"to": "/x", "status": 307}, allow_redirects=False).status_code == 307
    assert custom("redirect", allow_redirects=False).status_code == 400


def test_html_page(custom):
    response = custom("html")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text.startswith("<!doctype html>")


def test_big_answers_about_the_requested_size(custom):
    response = custom("big", params={"kb": 300})
    assert 300 * 1000 <= len(response.content) <= 320 * 1024
    assert len(response.json()["items"]) == 300


@pytest.mark.parametrize("code", [200, 404, 418, 500, 503])
def test_status_endpoint(custom, code):
    response = custom(f"status/{code}")
    assert response.status_code == code
    assert response.json() == {"status": code}


def test_status_204_has_no_body(custom):
    response = custom("status/204")
    assert (response.status_code, response.content) == (204, b"")


def test_echo_returns_the_json_body(sandbox, http):
    response = http.post(f"{sandbox.url}/custom/v1/echo?a=1", json={"hello": ["world", 2]}, timeout=5)
    assert response.json() == {
        "method": "POST",
        "path": "/custom/v1/echo",
        "query": {"a": "1"},
        "content_type": "application/json",
        "json": {"hello": ["world", 2]},
    }


def test_other_endpoints_are_get_only_and_unknown_ones_404(sandbox, http, custom):
    assert http.post(f"{sandbox.url}/custom/v1/deals", json={}, timeout=5).status_code == 405
    assert custom("nothing-here").status_code == 404


def test_the_custom_api_shares_the_fault_switches(sandbox, custom):
    sandbox.configure(error_rate=1)
    assert custom("deals").status_code == 503
    # The failed call above counts towards the minute too.
    sandbox.configure(error_rate=0, rate_limit_per_minute=2)
    assert custom("html").status_code == 200
    limited = custom("html")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
