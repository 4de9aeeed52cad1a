"""The client against the sandbox's custom JSON API: auth types, methods, size cap, errors."""

from urllib.parse import urlencode

import pytest

from connections.client import Client
from connections.errors import (
    AuthRejected,
    BadEndpoint,
    HTTPError,
    MethodNotAllowed,
    NotJSON,
    RateLimited,
    ResponseTooLarge,
)
from connections.integrations import custom_rest
from sandbox import DEMO_ACCESS_KEY, DEMO_USERNAME
from tests.connections.factories import custom_connection

pytestmark = pytest.mark.django_db

AUTH_CASES = {
    "bearer": {"auth_type": "bearer", "secrets": {"token": "sandbox-token"}},
    "api_key_header": {
        "auth_type": "api_key_header",
        "options": {"api_key_name": "X-API-Key"},
        "secrets": {"api_key": "sandbox-api-key"},
    },
    "api_key_query": {
        "auth_type": "api_key_query",
        "options": {"api_key_name": "api_key"},
        "secrets": {"api_key": "sandbox-api-key"},
    },
    "basic": {"auth_type": "basic", "username": DEMO_USERNAME, "secrets": {"password": DEMO_ACCESS_KEY}},
}


def capture_requests(client):
    sent = []
    original = client.session.send

    def send(request, **kwargs):
        sent.append(request)
        return original(request, **kwargs)

    client.session.send = send
    return sent


def test_plain_get_returns_parsed_json(sandbox):
    with Client(custom_connection(sandbox.url)) as client:
        response = client.request("GET", "deals", params=[("paginate", "page"), ("per_page", "3")])
    assert response.status == 200
    assert len(response.data["data"]) == 3 and response.data["page"] == 1
    assert response.result == response.data  # no envelope to unwrap
    assert response.content_type == "application/json"


@pytest.mark.parametrize("case", list(AUTH_CASES))
def test_each_auth_type_opens_the_secure_endpoint(sandbox, case):
    with Client(custom_connection(sandbox.url, **AUTH_CASES[case])) as client:
        assert client.request("GET", "secure/deals").status == 200


def test_auth_types_put_credentials_where_they_belong(sandbox):
    sent = {}
    for case, spec in AUTH_CASES.items():
        with Client(custom_connection(sandbox.url, **spec)) as client:
            requests_sent = capture_requests(client)
            client.request("GET", "secure/deals")
            sent[case] = requests_sent[0]
    assert sent["bearer"].headers["Authorization"] == "Bearer sandbox-token"
    assert sent["api_key_header"].headers["X-API-Key"] == "sandbox-api-key"
    assert "Authorization" not in sent["api_key_header"].headers
    assert sent["api_key_query"].url.endswith("/secure/deals?api_key=sandbox-api-key")
    assert sent["basic"].headers["Authorization"].startswith("Basic ")


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"auth_type": "bearer", "secrets": {"token": "wrong-token"}},
        {"auth_type": "api_key_query", "options": {"api_key_name": "api_key"}, "secrets": {"api_key": "nope-nope"}},
    ],
)
def test_missing_or_wrong_credentials_are_auth_rejected(sandbox, spec):
    with Client(custom_connection(sandbox.url, **spec)) as client, pytest.raises(AuthRejected, match="HTTP 401"):
        client.request("GET", "secure/deals")


def test_default_headers_are_sent_and_request_headers_override_them(sandbox):
    conn = custom_connection(sandbox.url, options={"default_headers": [["X-Team", "data"], ["Accept-Language", "en"]]})
    with Client(conn) as client:
        sent = capture_requests(client)
        client.request("GET", "deals", headers=[("Accept-Language", "de")])
    assert sent[0].headers["X-Team"] == "data"
    assert sent[0].headers["Accept-Language"] == "de"


@pytest.mark.parametrize(
    "headers",
    [[("Host", "evil.example")], [("Authorization", "Bearer x")], [("Bad Name", "x")], [("X-A", "a\r\nX-B: b")]],
)
def test_unsafe_request_headers_are_refused(sandbox, headers):
    conn = custom_connection(sandbox.url, auth_type="bearer", secrets={"token": "sandbox-token"})
    with Client(conn) as client, pytest.raises(BadEndpoint):
        client.request("GET", "deals", headers=headers)
    assert sandbox.stats()["total_requests"] == 0


def test_api_key_parameter_cannot_be_overridden_per_request(sandbox):
    conn = custom_connection(sandbox.url, **AUTH_CASES["api_key_query"])
    with Client(conn) as client, pytest.raises(BadEndpoint, match="carries the API key"):
        client.request("GET", "secure/deals", params=[("api_key", "other")])


def test_post_with_a_json_body_when_allowed(sandbox):
    conn = custom_connection(sandbox.url, options={"allowed_methods": ["GET", "POST"]})
    with Client(conn) as client:
        response = client.request("POST", "echo", params=[("a", "1")], json_body={"range": {"from": "2024-01-01"}})
    assert response.data["method"] == "POST"
    assert response.data["json"] == {"range": {"from": "2024-01-01"}}
    assert response.data["content_type"] == "application/json"
    assert response.data["query"] == {"a": "1"}


def test_post_is_refused_before_any_request_when_only_get_is_allowed(sandbox):
    with Client(custom_connection(sandbox.url)) as client, pytest.raises(MethodNotAllowed, match="allowed: GET"):
        client.request("POST", "echo", json_body={})
    with Client(custom_connection(sandbox.url)) as client, pytest.raises(MethodNotAllowed):
        client.request("DELETE", "echo")
    assert sandbox.stats()["total_requests"] == 0


def test_get_with_a_body_is_refused(sandbox):
    conn = custom_connection(sandbox.url, options={"allowed_methods": ["GET", "POST"]})
    with Client(conn) as client, pytest.raises(MethodNotAllowed, match="carries no body"):
        client.request("GET", "echo", json_body={"a": 1})


def test_big_response_is_refused_or_cut(sandbox, settings):
    settings.OUTBOUND_MAX_BYTES = 50_000
    with Client(custom_connection(sandbox.url)) as client:
        with pytest.raises(ResponseTooLarge, match="larger than the 48 KB limit"):
            client.request("GET", "big", params=[("kb", "100")])
        cut = client.request("GET", "big", params=[("kb", "100")], allow_truncated=True)
        small = client.request("GET", "big", params=[("kb", "10")])
    assert cut.truncated and cut.data is None and cut.size_bytes == 50_000 and cut.status == 200
    assert not small.truncated and len(small.data["items"]) == 10


def test_html_is_not_json_with_a_snippet(sandbox):
    with Client(custom_connection(sandbox.url)) as client, pytest.raises(NotJSON) as excinfo:
        client.request("GET", "html")
    assert excinfo.value.is_html and excinfo.value.content_type == "text/html"
    assert "<title>Not an API</title>" in excinfo.value.snippet
    assert len(excinfo.value.snippet) <= 201


@pytest.mark.parametrize(("code", "transient"), [(404, False), (500, True), (503, True), (418, False)])
def test_error_statuses_are_http_errors(sandbox, code, transient):
    with Client(custom_connection(sandbox.url)) as client, pytest.raises(HTTPError) as excinfo:
        client.request("GET", f"status/{code}")
    assert excinfo.value.status == code and excinfo.value.transient is transient
    assert f"HTTP {code}" in excinfo.value.message


def test_injected_server_errors_are_http_errors(sandbox):
    sandbox.configure(error_rate=1)
    with Client(custom_connection(sandbox.url)) as client, pytest.raises(HTTPError) as excinfo:
        client.request("GET", "deals")
    assert excinfo.value.status == 503


def test_rate_limited_custom_api(sandbox):
    sandbox.configure(rate_limit_per_minute=1)
    with Client(custom_connection(sandbox.url)) as client:
        client.request("GET", "deals")
        with pytest.raises(RateLimited) as excinfo:
            client.request("GET", "deals")
    assert excinfo.value.retry_after and excinfo.value.reset_at


def test_same_origin_redirects_are_followed_and_capped(sandbox):
    with Client(custom_connection(sandbox.url)) as client:
        followed = client.request("GET", "redirect", params=[("to", f"{sandbox.url}/custom/v1/deals")])
        assert followed.status == 200 and isinstance(followed.data, list)
        assert client.request("GET", "redirect", params=[("to", chain(sandbox.url, 4))]).status == 200
        with pytest.raises(HTTPError, match="redirected more than 5 times"):
            client.request("GET", "redirect", params=[("to", chain(sandbox.url, 5))])


def chain(url, hops):
    """A URL that redirects `hops` times before reaching the deals."""
    target = f"{url}/custom/v1/deals"
    for _ in range(hops):
        target = f"{url}/custom/v1/redirect?{urlencode({'to': target})}"
    return target


def test_endpoint_query_strings_are_merged(sandbox):
    with Client(custom_connection(sandbox.url)) as client:
        response = client.request("GET", "echo?x=1", params=[("y", "2")])
    assert response.data["query"] == {"x": "1", "y": "2"}


@pytest.mark.parametrize("endpoint", ["../restapi/v1/vtiger/default/me", "http://127.0.0.1:1/x", "deals/../../x"])
def test_endpoints_cannot_escape_the_base_url(sandbox, endpoint):
    with Client(custom_connection(sandbox.url)) as client, pytest.raises(BadEndpoint):
        client.request("GET", endpoint)


def test_connection_test_uses_the_test_path(sandbox):
    conn = custom_connection(sandbox.url, save=False, options={"test_path": "secure/deals"}, **AUTH_CASES["bearer"])
    outcome = custom_rest.test(conn)
    assert outcome.ok and outcome.status == "connected" and "HTTP 200" in outcome.message
    conn.options["test_path"] = ""
    untested = custom_rest.test(conn)
    assert untested.ok and untested.status == "new" and "without a test" in untested.message
    conn.options["test_path"] = "html"
    outcome = custom_rest.test(conn)
    assert not outcome.ok and "HTML page instead of JSON" in outcome.message
