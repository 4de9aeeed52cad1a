"""No credential in any exception, traceback, log record, repr, form or command output."""

import json
import logging
import traceback

import pytest
from django.core.management import CommandError, call_command

from conftest import free_port
from connections import services
from connections.client import Client
from connections.errors import ConnectionProblem, scrub
from connections.integrations import vtiger_selfhosted
from connections.integrations.vtiger_cloud import VtigerCloudForm
from sandbox import DEMO_ACCESS_KEY
from tests.connections.factories import custom_connection, selfhosted_connection, vtiger_connection

pytestmark = pytest.mark.django_db

API_KEY = "sandbox-api-key"
WRONG_KEY = "wr0ng-Access-Key-77"


def everything_about(exc):
    """Every text a problem could end up in: message, str, repr, JSON form, the formatted traceback."""
    return "\n".join(
        [
            exc.message,
            str(exc),
            repr(exc),
            json.dumps(exc.as_dict(), default=str),
            "".join(traceback.format_exception(exc)),
        ]
    )


def log_text(caplog):
    return "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)


def session_names():
    return [s.name for s in vtiger_selfhosted._sessions.values()]


def failing_calls(sandbox):
    """(description, connection, endpoint, params, the secrets that must not appear)."""
    key_in_query = {"auth_type": "api_key_query", "options": {"api_key_name": "api_key"}}
    return [
        ("cloud wrong key", vtiger_connection(sandbox.url, access_key=WRONG_KEY), "me", [], [WRONG_KEY]),
        (
            "self-hosted wrong key",
            selfhosted_connection(sandbox.url, access_key=WRONG_KEY),
            "listtypes",
            [],
            [WRONG_KEY],
        ),
        (
            "VTQL error",
            vtiger_connection(sandbox.url),
            "query",
            [("query", "SELECT * FROM Leads WHERE;")],
            [DEMO_ACCESS_KEY],
        ),
        (
            "self-hosted VTQL error",
            selfhosted_connection(sandbox.url),
            "query",
            [("query", "SELECT * FROM leads;")],
            [DEMO_ACCESS_KEY],
        ),
        (
            "API key in query, closed port",
            custom_connection(f"http://127.0.0.1:{free_port()}/api", secrets={"api_key": API_KEY}, **key_in_query),
            "deals",
            [],
            [API_KEY],
        ),
        (
            "API key in query, HTML answer",
            custom_connection(sandbox.url, secrets={"api_key": API_KEY}, **key_in_query),
            "html",
            [],
            [API_KEY],
        ),
        (
            "API key in query, 404",
            custom_connection(sandbox.url, secrets={"api_key": API_KEY}, **key_in_query),
            "status/404",
            [],
            [API_KEY],
        ),
        (
            "bearer, wrong token",
            custom_connection(sandbox.url, auth_type="bearer", secrets={"token": WRONG_KEY}),
            "secure/deals",
            [],
            [WRONG_KEY],
        ),
    ]


def test_no_secret_in_exceptions_tracebacks_or_logs(sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    checked = 0
    for description, conn, endpoint, params, secrets in failing_calls(sandbox):
        with Client(conn) as client, pytest.raises(ConnectionProblem) as excinfo:
            client.request("GET", endpoint, params=params)
        text = everything_about(excinfo.value) + repr(client) + repr(conn) + str(conn)
        for secret in [*secrets, *session_names()]:
            assert secret not in text, f"{description}: secret in the exception"
        checked += 1
    assert checked == 8
    logs = log_text(caplog)
    assert "127.0.0.1" in logs  # the log did record the requests (urllib3 at DEBUG included)...
    for secret in [API_KEY, WRONG_KEY, DEMO_ACCESS_KEY]:
        assert secret not in logs  # ...without a credential


def test_no_session_name_in_logs_or_responses(sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    with Client(selfhosted_connection(sandbox.url)) as client:
        response = client.request("GET", "listtypes")
    [name] = session_names()
    for text in (log_text(caplog), response.url, response.text, repr(response)):
        assert name not in text and DEMO_ACCESS_KEY not in text
    assert "sessionName=••••" in response.url


def test_timeout_with_key_in_query_leaks_nothing(sandbox, settings, caplog):
    caplog.set_level(logging.DEBUG)
    settings.OUTBOUND_READ_TIMEOUT = 0.2
    sandbox.configure(hang_ms=3000)
    conn = custom_connection(
        sandbox.url, auth_type="api_key_query", options={"api_key_name": "api_key"}, secrets={"api_key": API_KEY}
    )
    with Client(conn) as client, pytest.raises(ConnectionProblem) as excinfo:
        client.request("GET", "secure/deals")
    assert excinfo.value.kind == "timeout"
    assert API_KEY not in everything_about(excinfo.value)
    assert API_KEY not in log_text(caplog)


def test_an_echoed_key_is_masked_in_the_response(sandbox):
    conn = custom_connection(
        sandbox.url, auth_type="api_key_query", options={"api_key_name": "api_key"}, secrets={"api_key": API_KEY}
    )
    with Client(conn) as client:
        response = client.request("GET", "echo")
    assert API_KEY not in json.dumps(response.data) and API_KEY not in response.text and API_KEY not in response.url
    assert response.data["query"]["api_key"] == "••••"


def test_failed_test_outcomes_and_command_output_hold_no_secret(sandbox, capsys, tmp_path):
    conn = vtiger_connection(sandbox.url, access_key=WRONG_KEY)
    outcome = services.test_connection(conn)
    assert not outcome.ok and WRONG_KEY not in json.dumps(outcome.as_dict())
    assert WRONG_KEY not in conn.last_error
    call_command("connection_list", "--json")
    call_command("connection_list")
    key_file = tmp_path / "key"
    key_file.write_text(WRONG_KEY)
    with pytest.raises(CommandError, match="Nothing was saved: Wrong username or access key"):
        call_command(
            "connection_add",
            "--name=Leaky",
            "--integration=vtiger",
            f"--instance-url={sandbox.url}",
            "--username=demo",
            f"--access-key-file={key_file}",
            "--json",
        )
    captured = capsys.readouterr()
    assert WRONG_KEY not in captured.out + captured.err
    assert DEMO_ACCESS_KEY not in captured.out + captured.err


def test_edit_form_html_never_holds_the_key():
    conn = vtiger_connection("https://acme.vtiger.com", access_key=DEMO_ACCESS_KEY)
    form = VtigerCloudForm(
        {"name": conn.name, "subdomain": "acme", "username": "demo", "access_key": ""}, instance=conn
    )
    form.is_valid()
    assert DEMO_ACCESS_KEY not in form.as_div()
    bound = VtigerCloudForm({"name": "n", "subdomain": "bad/sub", "username": "demo", "access_key": DEMO_ACCESS_KEY})
    assert not bound.is_valid()
    assert DEMO_ACCESS_KEY not in bound.as_div()  # a re-rendered form with errors doesn't echo it


def test_scrub_masks_known_values_and_credential_patterns():
    text = scrub(
        "Authorization: Basic ZGVtbzpzZWNyZXQ= api_key=abc123&page=2 {'token': 'zzz'} s3cr3t-value",
        ["s3cr3t-value"],
    )
    for secret in ("ZGVtbzpzZWNyZXQ=", "abc123", "zzz", "s3cr3t-value"):
        assert secret not in text
    assert "page=2" in text


def test_an_echoed_key_with_escapable_characters_is_masked_in_every_form(sandbox):
    from tests.connections.test_masking import assert_no_form

    key = "k/é+y=\"'Ω 12345"
    conn = custom_connection(
        sandbox.url, auth_type="api_key_query", options={"api_key_name": "api_key"}, secrets={"api_key": key}
    )
    with Client(conn) as client:
        response = client.request("GET", "echo")
    assert response.data["query"]["api_key"] == "••••"
    assert_no_form(key, json.dumps(response.data), response.text, response.url)


def test_scrub_masks_escaped_encoded_and_base64_forms():
    secret = "s3cr3t/+=value"
    import base64

    texts = [
        '{"k": "s3cr3t\\/+=value"}',
        '{"k": "\\u0073\\u0033cr3t\\/+\\u003dvalue"}',
        "k=s3cr3t%2F%2B%3Dvalue&page=2",
        "k=s3cr3t%2f%2b%3dvalue&page=2",
        "Authorization: " + base64.b64encode(b"demo:" + secret.encode()).decode(),
        "token " + base64.urlsafe_b64encode(secret.encode()).decode().rstrip("="),
    ]
    for text in texts:
        masked = scrub(text, [secret], ["demo"])
        assert "value" not in masked and "s3cr3t" not in masked and "••••" in masked, text
