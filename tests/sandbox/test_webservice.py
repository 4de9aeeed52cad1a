"""Self-hosted /webservice.php: the login flow, sessions, operations and 8.2's recorded errors."""

import time
from datetime import UTC, datetime

import pytest

from sandbox import DEMO_ACCESS_KEY, DEMO_USERNAME
from tests.recordings import recorded
from tests.sandbox.conftest import md5

ERRORS = recorded("errors.json")


def _error_request(case, client):
    """Reproduce the request behind one recorded error case; returns the HTTP response."""
    client.login()
    session = client.session_name
    requests_by_case = {
        "syntax_error": lambda: client.get(operation="query", sessionName=session, query="SELECT * FROM Leads WHERE;"),
        "missing_semicolon": lambda: client.get(
            operation="query", sessionName=session, query="SELECT count(*) FROM Leads"
        ),
        "lowercase_module": lambda: client.get(
            operation="query", sessionName=session, query="select count(*) from leads;"
        ),
        "unknown_field": lambda: client.get(
            operation="query", sessionName=session, query="SELECT nosuchfield FROM Leads;"
        ),
        "unquoted_date_literal": lambda: client.get(
            operation="query",
            sessionName=session,
            query="SELECT potentialname, closingdate FROM Potentials WHERE closingdate > 2026-09-01;",
        ),
        "unknown_module": lambda: client.get(
            operation="query", sessionName=session, query="SELECT * FROM NoSuchModule;"
        ),
        "describe_unknown_module": lambda: client.get(
            operation="describe", sessionName=session, elementType="NoSuchModule"
        ),
        "retrieve_nonexistent_id": lambda: client.get(operation="retrieve", sessionName=session, id="10x99999"),
        "bad_session": lambda: client.get(
            operation="query", sessionName="invalidsession123", query="SELECT count(*) FROM Leads;"
        ),
        "missing_session": lambda: client.get(operation="query", query="SELECT count(*) FROM Leads;"),
        "query_sent_by_post": lambda: client.post(
            operation="query", sessionName=session, query="SELECT count(*) FROM Leads;"
        ),
        "login_sent_by_get": lambda: client.get(
            operation="login", username=DEMO_USERNAME, accessKey=md5(client.challenge() + DEMO_ACCESS_KEY)
        ),
        "wrong_access_key": lambda: client.post(
            operation="login", username=DEMO_USERNAME, accessKey=md5(client.challenge() + "not-the-key")
        ),
    }
    return requests_by_case[case]()


@pytest.mark.parametrize(
    "case",
    [
        "syntax_error",
        "missing_semicolon",
        "lowercase_module",
        "unknown_field",
        "unquoted_date_literal",
        "unknown_module",
        "describe_unknown_module",
        "retrieve_nonexistent_id",
        "bad_session",
        "missing_session",
        "query_sent_by_post",
        "login_sent_by_get",
        "wrong_access_key",
    ],
)
def test_errors_are_the_recorded_ones(sandbox, http, case):
    from tests.sandbox.conftest import WebserviceClient

    response = _error_request(case, WebserviceClient(sandbox, http))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == ERRORS[case]


def test_getchallenge_shape(sandbox, http):
    response = http.get(sandbox.webservice_url, params={"operation": "getchallenge", "username": "demo"}, timeout=5)
    result = response.json()["result"]
    assert set(result) == set(recorded("getchallenge.json")["result"])
    assert isinstance(result["token"], str) and len(result["token"]) == 13
    assert isinstance(result["serverTime"], int) and isinstance(result["expireTime"], int)
    assert result["expireTime"] - result["serverTime"] == 300
    assert abs(result["serverTime"] - time.time()) < 5


@pytest.mark.parametrize(
    ("params", "message"),
    [({}, "No username given"), ({"username": "nobody"}, "username does not exists")],
)
def test_getchallenge_needs_a_known_username(ws, params, message):
    body = ws.get(operation="getchallenge", **params).json()
    assert body == {"success": False, "error": {"message": message, "code": "ACCESS_DENIED"}}


def test_login_result_has_the_recorded_keys(ws, sandbox):
    result = ws.login()
    assert list(result) == list(recorded("login.json")["result"])
    assert (result["userId"], result["username"], result["version"], result["vtigerVersion"]) == (
        "19x1",
        "demo",
        "0.22",
        "8.2.0",
    )
    assert (result["first_name"], result["last_name"], result["email"]) == ("Dana", "Demo", "demo@sandbox.example")
    assert sandbox.stats()["logins"] == 2  # the fixture logged in once already


def test_login_without_a_challenge_is_an_invalid_token(sandbox, http):
    from tests.sandbox.conftest import WebserviceClient

    client = WebserviceClient(sandbox, http)
    body = client.post(operation="login", username="demo", accessKey=md5("whatever" + DEMO_ACCESS_KEY)).json()
    assert body["error"]["code"] == "INVALID_AUTH_TOKEN"


def test_a_new_challenge_replaces_the_old_token(ws):
    first = ws.challenge()
    second = ws.challenge()
    assert first != second
    stale = ws.post(operation="login", username="demo", accessKey=md5(first + DEMO_ACCESS_KEY)).json()
    assert stale["error"]["code"] == "INVALID_USER_CREDENTIALS"
    fresh = ws.post(operation="login", username="demo", accessKey=md5(second + DEMO_ACCESS_KEY)).json()
    assert fresh["success"] is True


def test_the_access_key_hash_is_lowercase_hex(ws):
    token = ws.challenge()
    body = ws.post(operation="login", username="demo", accessKey=md5(token + DEMO_ACCESS_KEY).upper()).json()
    assert body["error"]["code"] == "INVALID_USER_CREDENTIALS"


def test_the_challenge_token_expires(ws, sandbox, time_machine):
    # The sandbox runs in this process: moving the clock moves its clock.
    time_machine.move_to(datetime.now(UTC), tick=False)
    sandbox.configure(challenge_ttl_s=60)
    token = ws.challenge()
    time_machine.shift(61)
    body = ws.post(operation="login", username="demo", accessKey=md5(token + DEMO_ACCESS_KEY)).json()
    assert body["error"] == {"message": "Specified token is invalid or expired", "code": "INVALID_AUTH_TOKEN"}


def test_getchallenge_by_post_is_denied(ws):
    body = ws.post(operation="getchallenge", username="demo").json()
    assert body["error"]["code"] == "ACCESS_DENIED"


def test_an_idle_session_expires_and_a_new_login_works(ws, sandbox, time_machine):
    time_machine.move_to(datetime.now(UTC), tick=False)
    sandbox.configure(session_idle_s=60)
    assert ws.query("SELECT count(*) FROM Leads;") == [{"count": "2000"}]
    time_machine.shift(61)
    body = ws.call("query", query="SELECT count(*) FROM Leads;")
    assert body["error"]["code"] == "INVALID_SESSIONID"
    # Once expired, it stays expired.
    assert ws.call("listtypes")["error"]["code"] == "INVALID_SESSIONID"
    ws.login()
    assert ws.query("SELECT count(*) FROM Leads;") == [{"count": "2000"}]
    assert sandbox.stats()["sessions_expired"] == 1


def test_a_busy_session_still_ends_at_its_lifetime(ws, sandbox, time_machine):
    time_machine.move_to(datetime.now(UTC), tick=False)
    sandbox.configure(session_ttl_s=100, session_idle_s=30)
    ws.login()  # a session born at the frozen instant
    for _ in range(4):  # used every 25 s, so never idle for long
        time_machine.shift(25)
        assert ws.call("listtypes")["success"] is True
    time_machine.shift(1)
    assert ws.call("listtypes")["error"]["code"] == "INVALID_SESSIONID"


def test_sessions_are_independent_and_cleared_by_reset(sandbox, http, ws):
    from tests.sandbox.conftest import WebserviceClient

    other = WebserviceClient(sandbox, http)
    other.login()
    assert other.session_name != ws.session_name
    assert ws.call("listtypes")["success"] and other.call("listtypes")["success"]
    assert sandbox.stats()["active_sessions"] == 2
    sandbox.reset()
    assert ws.call("listtypes")["error"]["code"] == "INVALID_SESSIONID"


def test_operations_answer_like_the_cloud_api(ws, rest):
    assert ws.result("listtypes") == rest.result("listtypes")
    assert ws.result("describe", elementType="Invoice") == rest.result("describe", elementType="Invoice")
    vtql = "SELECT firstname, lastname, leadstatus FROM Leads WHERE leadstatus IN ('Hot','Warm') LIMIT 0,100;"
    assert ws.query(vtql) == rest.query(vtql)
    assert ws.result("retrieve", id="19x1") == rest.result("retrieve", id="19x1")
    assert ws.result("sync", modifiedTime=0, elementType="Accounts") == rest.result(
        "sync", modifiedTime=0, elementType="Accounts"
    )


def test_query_result_rows_look_like_the_recording(ws):
    expected_keys = list(recorded("query_where_example.json")["result"][0])
    rows = ws.query(
        "SELECT potentialname, amount, sales_stage, closingdate FROM Potentials WHERE sales_stage = 'Closed Won' "
        "ORDER BY closingdate DESC LIMIT 0,100;"
    )
    assert len(rows) == 100
    assert all(list(row) == expected_keys for row in rows)
    assert [row["closingdate"] for row in rows] == sorted((row["closingdate"] for row in rows), reverse=True)
    assert {row["sales_stage"] for row in rows} == {"Closed Won"}


@pytest.mark.parametrize("operation", ["frobnicate", "", "logout", "create"])
def test_unknown_operations_and_logout_crash_with_an_empty_500(ws, operation):
    response = ws.get(operation=operation, sessionName=ws.session_name)
    assert response.status_code == 500
    assert response.headers["Content-Type"] == "text/html; charset=UTF-8"
    assert response.content == b""


def test_logout_is_broken_so_the_session_lives_on(ws):
    assert ws.post(operation="logout", sessionName=ws.session_name).status_code == 500
    assert ws.query("SELECT count(*) FROM Leads;") == [{"count": "2000"}]


def test_without_an_operation_it_is_an_empty_500(sandbox, http):
    response = http.get(sandbox.webservice_url, timeout=5)
    assert (response.status_code, response.content) == (500, b"")


def test_sync_works_unless_switched_to_the_broken_8_2_behaviour(ws, sandbox):
    assert ws.result("sync", modifiedTime=0, elementType="Leads")["more"] is True
    sandbox.configure(selfhosted_sync_broken=True)
    response = ws.get(operation="sync", sessionName=ws.session_name, modifiedTime=1, elementType="Leads")
    assert (response.status_code, response.content) == (500, b"")
    assert response.headers["Content-Type"].startswith("text/html")
    # Only webservice.php is broken; the Cloud API's sync still answers.
    assert ws.query("SELECT count(*) FROM Leads;") == [{"count": "2000"}]


def test_sync_broken_still_checks_the_session_first(ws, sandbox):
    sandbox.configure(selfhosted_sync_broken=True)
    body = ws.get(operation="sync", sessionName="nope", modifiedTime=1).json()
    assert body["error"]["code"] == "INVALID_SESSIONID"


def test_query_by_post_with_a_bad_session_reports_the_session(ws):
    body = ws.post(operation="query", sessionName="nope", query="SELECT * FROM Leads;").json()
    assert body["error"]["code"] == "INVALID_SESSIONID"


def test_the_max_rows_cap_applies_to_webservice_queries(ws, sandbox):
    assert len(ws.query("SELECT * FROM Leads LIMIT 0, 1000;")) == 100
    sandbox.configure(max_rows=5000)
    assert len(ws.query("SELECT * FROM Leads LIMIT 0, 1000;")) == 1000


def test_login_accepts_multipart_form_fields_like_php(ws):
    token = ws.challenge()
    fields = {"operation": "login", "username": "demo", "accessKey": md5(token + DEMO_ACCESS_KEY)}
    response = ws.http.post(ws.url, files={name: (None, value) for name, value in fields.items()}, timeout=5)
    assert response.json()["result"]["userId"] == "19x1"
