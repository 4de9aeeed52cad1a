"""The client against the sandbox's Vtiger Cloud REST API and self-hosted webservice.php."""

import base64
import threading
from datetime import UTC, datetime

import pytest

from conftest import free_port
from connections.client import Client
from connections.errors import (
    AuthRejected,
    BadEndpoint,
    HTTPError,
    MethodNotAllowed,
    NotJSON,
    NotVtiger,
    RateLimited,
    Timeout,
    Unreachable,
    VtigerError,
)
from connections.integrations import vtiger_cloud, vtiger_selfhosted
from sandbox import DEMO_ACCESS_KEY
from tests.connections.factories import selfhosted_connection, vtiger_connection

pytestmark = pytest.mark.django_db


def capture_requests(client):
    """Record every PreparedRequest the client's session sends."""
    sent = []
    original = client.session.send

    def send(request, **kwargs):
        sent.append(request)
        return original(request, **kwargs)

    client.session.send = send
    return sent


# --- Cloud REST ----------------------------------------------------------------------


def test_me_keeps_the_envelope_and_exposes_the_result(sandbox):
    with Client(vtiger_connection(sandbox.url)) as client:
        response = client.request("GET", "me")
    assert response.status == 200
    assert response.data["success"] is True
    assert response.result["user_name"] == "demo" and response.result["first_name"] == "Dana"
    assert response.size_bytes > 0 and response.elapsed_ms >= 0 and not response.truncated
    assert "x-floodcontrol-remaining" in response.headers


def test_basic_auth_header_is_username_and_access_key(sandbox):
    with Client(vtiger_connection(sandbox.url)) as client:
        sent = capture_requests(client)
        client.request("GET", "query", params=[("query", "SELECT count(*) FROM Leads;")])
    expected = base64.b64encode(f"demo:{DEMO_ACCESS_KEY}".encode()).decode()
    assert sent[0].headers["Authorization"] == f"Basic {expected}"
    assert sent[0].method == "GET"
    assert sent[0].url.startswith(f"{sandbox.url}/restapi/v1/vtiger/default/query?query=SELECT")


@pytest.mark.parametrize("make_connection", [vtiger_connection, selfhosted_connection])
def test_requests_use_the_credentials_the_client_decrypted(sandbox, make_connection):
    """The stored credentials are decrypted once, by the client: no request decrypts them again."""
    connection = make_connection(sandbox.url)
    with Client(connection) as client:
        connection.secrets_encrypted = "no longer a Fernet token"
        response = client.request("GET", "me")
        assert client.secret("access_key") == DEMO_ACCESS_KEY and client.secret("missing") == ""
    assert response.status == 200


def test_query_result_is_the_rows(sandbox):
    with Client(vtiger_connection(sandbox.url)) as client:
        response = client.request("GET", "query", params=[("query", "SELECT leadstatus FROM Leads LIMIT 0,5;")])
    assert isinstance(response.result, list) and len(response.result) == 5
    assert set(response.result[0]) == {"leadstatus", "id"}


def test_wrong_access_key_is_auth_rejected(sandbox):
    conn = vtiger_connection(sandbox.url, access_key="wrong-key-1234")
    with Client(conn) as client, pytest.raises(AuthRejected, match="Wrong username or access key") as excinfo:
        client.request("GET", "me")
    assert excinfo.value.kind == "auth_rejected"


def test_vtql_error_carries_the_code_and_message(sandbox):
    with Client(vtiger_connection(sandbox.url)) as client, pytest.raises(VtigerError) as excinfo:
        client.request("GET", "query", params=[("query", "SELECT * FROM Leads WHERE;")])
    assert excinfo.value.code == "QUERY_SYNTAX_ERROR"
    assert "Unexpected SEMICOLON" in excinfo.value.vtiger_message
    assert "QUERY_SYNTAX_ERROR" in excinfo.value.message


def test_rate_limit_gives_retry_after_and_reset(sandbox):
    sandbox.configure(rate_limit_per_minute=1)
    with Client(vtiger_connection(sandbox.url)) as client:
        client.request("GET", "me")
        with pytest.raises(RateLimited) as excinfo:
            client.request("GET", "me")
    problem = excinfo.value
    assert 0 < problem.retry_after <= 60
    assert problem.reset_at.tzinfo is not None
    assert 0 < (problem.reset_at - datetime.now(UTC)).total_seconds() <= 61
    assert f"try again at {problem.reset_at:%H:%M} UTC" in problem.message


def test_malformed_json_is_not_json(sandbox):
    sandbox.configure(malformed_rate=1)
    with Client(vtiger_connection(sandbox.url)) as client, pytest.raises(NotJSON) as excinfo:
        client.request("GET", "me")
    assert "not valid JSON" in excinfo.value.message and excinfo.value.snippet


def test_hang_longer_than_the_read_timeout_is_timeout(sandbox, settings):
    settings.OUTBOUND_READ_TIMEOUT = 0.3
    sandbox.configure(hang_ms=5000)
    with Client(vtiger_connection(sandbox.url)) as client, pytest.raises(Timeout, match="did not answer within 0.3"):
        client.request("GET", "me")


def test_closed_port_is_unreachable():
    conn = vtiger_connection(f"http://127.0.0.1:{free_port()}")
    with Client(conn) as client, pytest.raises(Unreachable, match="refused the connection"):
        client.request("GET", "me")


def test_unknown_host_is_unreachable():
    conn = vtiger_connection("https://no-such-host.invalid")
    with Client(conn) as client, pytest.raises(Unreachable, match="could not be found"):
        client.request("GET", "me")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_writes_are_refused_before_any_request(sandbox, method):
    with Client(vtiger_connection(sandbox.url)) as client, pytest.raises(MethodNotAllowed, match="read-only"):
        client.request(method, "query", json_body={"x": 1})
    assert sandbox.stats()["total_requests"] == 0


def test_html_answer_is_not_json_and_json_without_success_is_not_vtiger(sandbox):
    conn = vtiger_connection(f"{sandbox.url}/custom/v1")
    with Client(conn) as client:
        with pytest.raises(NotJSON) as excinfo:
            client.request("GET", "html")
        assert excinfo.value.is_html
        with pytest.raises(NotVtiger, match="not a Vtiger API"):
            client.request("GET", "deals")


@pytest.mark.parametrize(
    "endpoint",
    [
        "../me",
        "a/../../etc",
        "%2e%2e/me",
        "https://evil.example/me",
        "//evil.example/me",
        "javascript:alert(1)",
        "a\\b",
    ],
)
def test_endpoints_outside_the_base_url_are_refused(sandbox, endpoint):
    with Client(vtiger_connection(sandbox.url)) as client, pytest.raises(BadEndpoint):
        client.request("GET", endpoint)
    assert sandbox.stats()["total_requests"] == 0


def test_a_pasted_full_url_under_the_base_is_accepted(sandbox):
    conn = vtiger_connection(sandbox.url)
    with Client(conn) as client:
        assert client.request("GET", f"{conn.base_url}/me").result["user_name"] == "demo"
        assert client.request("GET", "/me").status == 200


def test_connection_test_names_the_user(sandbox):
    outcome = vtiger_cloud.test(vtiger_connection(sandbox.url, save=False))
    assert outcome.ok and outcome.status == "connected"
    assert outcome.message == "Connected as Dana Demo (demo)."


@pytest.mark.parametrize(
    ("url", "access_key", "status", "words"),
    [
        ("{sandbox}", "wrong-key-1234", "auth_failed", "Wrong username or access key"),
        ("http://127.0.0.1:{port}", DEMO_ACCESS_KEY, "unreachable", "refused the connection"),
    ],
)
def test_connection_test_failures_in_plain_words(sandbox, url, access_key, status, words):
    conn = vtiger_connection(url.format(sandbox=sandbox.url, port=free_port()), access_key=access_key, save=False)
    outcome = vtiger_cloud.test(conn)
    assert not outcome.ok and outcome.status == status
    assert words in outcome.message


@pytest.mark.parametrize(
    ("endpoint", "words"),
    [
        ("html", "This doesn't look like a Vtiger API: the server answered with an HTML page"),
        ("deals", "This is not a Vtiger API"),
    ],
)
def test_connection_test_says_when_it_is_not_vtiger(sandbox, monkeypatch, endpoint, words):
    # `test` always calls `me`; aim it at a sandbox page that is not Vtiger.
    real = Client.request
    monkeypatch.setattr(Client, "request", lambda self, method, _, **kwargs: real(self, method, endpoint, **kwargs))
    outcome = vtiger_cloud.test(vtiger_connection(f"{sandbox.url}/custom/v1", save=False))
    assert not outcome.ok and outcome.status == "error"
    assert outcome.message.startswith(words)


def test_rate_limited_test_says_when_to_try_again(sandbox):
    sandbox.configure(rate_limit_per_minute=1)
    conn = vtiger_connection(sandbox.url, save=False)
    assert vtiger_cloud.test(conn).ok
    outcome = vtiger_cloud.test(conn)
    assert outcome.status == "rate_limited"
    assert "try again at" in outcome.message and "UTC" in outcome.message


# --- self-hosted webservice.php -----------------------------------------------------------


def test_self_hosted_logs_in_once_and_reuses_the_session(sandbox):
    conn = selfhosted_connection(sandbox.url)
    with Client(conn) as client:
        sent = capture_requests(client)
        rows = client.request("GET", "query", params=[("query", "SELECT count(*) FROM Leads;")]).result
        client.request("GET", "listtypes")
    with Client(conn) as client:
        client.request("GET", "describe", params=[("elementType", "Leads")])
    assert int(rows[0]["count"]) > 0
    stats = sandbox.stats()
    assert (stats["challenges"], stats["logins"]) == (1, 1)
    # Challenge by GET, login by POST with md5(token + access key), operations by GET.
    assert [r.method for r in sent[:3]] == ["GET", "POST", "GET"]
    assert "operation=getchallenge" in sent[0].url and "username=demo" in sent[0].url
    assert "operation=login" in sent[1].body and "accessKey=" in sent[1].body
    assert DEMO_ACCESS_KEY not in sent[1].body
    assert "sessionName=" in sent[2].url and "operation=query" in sent[2].url


def test_self_hosted_logs_in_again_when_the_session_expired(sandbox, time_machine):
    # The sandbox runs in this process: moving the clock ages its session.
    time_machine.move_to(datetime.now(UTC), tick=False)
    sandbox.configure(session_idle_s=60)
    conn = selfhosted_connection(sandbox.url)
    with Client(conn) as client:
        client.request("GET", "listtypes")
        time_machine.shift(61)
        assert client.request("GET", "listtypes").result["types"]
    stats = sandbox.stats()
    assert stats["logins"] == 2 and stats["sessions_expired"] == 1


def test_self_hosted_wrong_key_is_auth_rejected_and_caches_nothing(sandbox):
    conn = selfhosted_connection(sandbox.url, access_key="wrong-key-1234")
    with Client(conn) as client, pytest.raises(AuthRejected, match="INVALID_USER_CREDENTIALS"):
        client.request("GET", "listtypes")
    assert vtiger_selfhosted._sessions == {}


def test_self_hosted_unknown_user_is_auth_rejected(sandbox):
    conn = selfhosted_connection(sandbox.url, username="nobody")
    with Client(conn) as client, pytest.raises(AuthRejected, match="username does not exists"):
        client.request("GET", "listtypes")


def test_self_hosted_me_retrieves_the_logged_in_user(sandbox):
    with Client(selfhosted_connection(sandbox.url)) as client:
        user = client.request("GET", "me").result
    assert (user["id"], user["user_name"], user["first_name"]) == ("19x1", "demo", "Dana")


def test_self_hosted_empty_500_is_a_server_failure_not_a_parse_error(sandbox):
    sandbox.configure(selfhosted_sync_broken=True)
    with Client(selfhosted_connection(sandbox.url)) as client, pytest.raises(HTTPError) as excinfo:
        client.request("GET", "sync", params=[("modifiedTime", "0"), ("elementType", "Leads")])
    assert excinfo.value.status == 500
    assert excinfo.value.message.startswith("The Vtiger server failed on this operation")


@pytest.mark.parametrize(
    ("endpoint", "params"),
    [("login", []), ("logout", []), ("getchallenge", []), ("query/x", []), ("listtypes", [("sessionName", "x")])],
)
def test_self_hosted_refuses_reserved_operations_and_params(sandbox, endpoint, params):
    with Client(selfhosted_connection(sandbox.url)) as client, pytest.raises(BadEndpoint):
        client.request("GET", endpoint, params=params)
    assert sandbox.stats()["total_requests"] == 0


def test_self_hosted_refuses_post_before_any_request(sandbox):
    with Client(selfhosted_connection(sandbox.url)) as client, pytest.raises(MethodNotAllowed):
        client.request("POST", "query")
    assert sandbox.stats()["total_requests"] == 0


def test_self_hosted_session_is_shared_across_threads(sandbox):
    conn = selfhosted_connection(sandbox.url)
    errors = []

    def work():
        try:
            with Client(conn) as client:
                client.request("GET", "listtypes")
        except Exception as exc:  # noqa: BLE001 -- collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sandbox.stats()["logins"] == 1


def test_self_hosted_test_names_the_user_and_logs_in_fresh(sandbox):
    conn = selfhosted_connection(sandbox.url)
    with Client(conn) as client:
        client.request("GET", "listtypes")
    outcome = vtiger_selfhosted.test(conn)
    assert outcome.ok and outcome.message == "Connected as Dana Demo (demo)."
    assert sandbox.stats()["logins"] == 2  # the test proved the key with a login of its own
