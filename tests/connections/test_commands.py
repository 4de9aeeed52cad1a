"""connection_add, connection_list and connection_test, as product.md's "Command line" describes them."""

import json

import pytest
from django.core.management import CommandError, call_command

from connections.models import Connection
from sandbox import DEMO_ACCESS_KEY
from tests.connections.factories import vtiger_connection

pytestmark = pytest.mark.django_db


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "vtiger-key"
    path.write_text(DEMO_ACCESS_KEY + "\n")
    return path


def run(*args):
    """Run a command; return (stdout, stderr) or raise CommandError."""
    from io import StringIO

    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_add_vtiger_with_a_key_file(sandbox, key_file):
    out, _ = run(
        "connection_add",
        "--name",
        "Vtiger",
        "--integration",
        "vtiger",
        "--instance-url",
        sandbox.url,
        "--username",
        "demo",
        "--access-key-file",
        str(key_file),
        "--plan",
        "professional",
    )
    assert out.strip() == "Created and tested connection “Vtiger” (Vtiger): Connected as Dana Demo (demo)."
    connection = Connection.objects.get(name="Vtiger")
    assert connection.status == "connected" and connection.rate_limit_per_minute == 60
    assert connection.get_secret("access_key") == DEMO_ACCESS_KEY  # the file's newline is not part of it


def test_add_self_hosted_with_an_env_secret_and_json(sandbox, monkeypatch):
    monkeypatch.setenv("VTIGER_KEY", DEMO_ACCESS_KEY)
    out, _ = run(
        "connection_add",
        "--name=CRM",
        "--integration=vtiger-selfhosted",
        f"--instance-url={sandbox.url}/webservice.php",
        "--username=demo",
        "--access-key-env=VTIGER_KEY",
        "--json",
    )
    payload = json.loads(out)
    assert payload["ok"] is True and payload["created"] is True
    assert payload["connection"]["name"] == "CRM" and payload["connection"]["status"] == "connected"
    assert payload["connection"]["base_url"] == sandbox.url
    assert payload["outcome"]["message"] == "Connected as Dana Demo (demo)."
    assert DEMO_ACCESS_KEY not in out


def test_add_custom_with_api_key_in_query(sandbox, monkeypatch):
    monkeypatch.setenv("DEALS_KEY", "sandbox-api-key")
    out, _ = run(
        "connection_add",
        "--name=Deals",
        "--integration=custom",
        f"--base-url={sandbox.url}/custom/v1",
        "--auth=api-key-query",
        "--api-key-name=api_key",
        "--secret-env=DEALS_KEY",
        "--test-path=secure/deals",
        "--header=X-Team: data",
        "--allow-post",
        "--rate-limit=20",
    )
    assert "Created and tested connection “Deals” (Custom REST API)" in out
    connection = Connection.objects.get(name="Deals")
    assert connection.auth_type == "api_key_query" and connection.get_secret("api_key") == "sandbox-api-key"
    assert connection.options["default_headers"] == [["X-Team", "data"]]
    assert connection.options["allowed_methods"] == ["GET", "POST"] and connection.rate_limit_per_minute == 20


def test_wrong_key_exits_non_zero_and_writes_nothing(sandbox, tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.write_text("not-the-right-key")
    args = [
        "connection_add",
        "--name=Vtiger",
        "--integration=vtiger",
        f"--instance-url={sandbox.url}",
        "--username=demo",
        f"--access-key-file={bad}",
    ]
    with pytest.raises(CommandError, match="Nothing was saved: Wrong username or access key"):
        run(*args)
    with pytest.raises(CommandError):
        run(*args, "--json")
    assert Connection.objects.count() == 0


def test_wrong_key_with_json_still_prints_one_json_object(sandbox, tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.write_text("not-the-right-key")
    with pytest.raises(CommandError):
        call_command(
            "connection_add",
            "--name=Vtiger",
            "--integration=vtiger",
            f"--instance-url={sandbox.url}",
            "--username=demo",
            f"--access-key-file={bad}",
            "--json",
        )
    payload = json.loads(capsys.readouterr().out)
    assert payload["ok"] is False and payload["outcome"]["status"] == "auth_failed"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--integration=vtiger", "--subdomain=https://acme.vtiger.com", "--username=u"], "Subdomain: Enter only"),
        (["--integration=vtiger", "--subdomain=acme", "--username=u"], "Access Key: Enter the access key."),
        (["--integration=custom", "--subdomain=acme"], "--subdomain can't be used with --integration custom"),
        (["--integration=vtiger-selfhosted", "--base-url=http://x.example"], "--base-url can't be used"),
        (["--integration=vtiger", "--subdomain=a", "--access-key-file=/nonexistent/key"], "can't be read"),
        (["--integration=vtiger", "--subdomain=a", "--access-key-env=NO_SUCH_VARIABLE_X"], "is not set or empty"),
        (["--integration=salesforce"], "invalid choice"),
        (["--integration=vtiger", "--plan=platinum"], "invalid choice"),
        (["--integration=custom", "--base-url=ftp://x.example"], "Base URL: Only http and https"),
        (["--integration=custom", "--base-url=http://x.example", "--auth=basic"], "Basic auth needs a username"),
    ],
)
def test_bad_arguments_are_clear_errors_with_nothing_written(args, words, monkeypatch):
    monkeypatch.delenv("NO_SUCH_VARIABLE_X", raising=False)
    with pytest.raises(CommandError, match=words.replace("(", r"\(")):
        run("connection_add", "--name=X", *args)
    assert Connection.objects.count() == 0


def test_there_is_no_way_to_pass_a_secret_on_the_command_line():
    with pytest.raises(CommandError):
        run("connection_add", "--name=X", "--integration=vtiger", "--subdomain=a", f"--access-key={DEMO_ACCESS_KEY}")


def test_list_in_words_and_json(sandbox):
    vtiger_connection(sandbox.url, name="Vtiger")
    broken = vtiger_connection(sandbox.url, name="Broken", access_key="bad-key-123")
    run("connection_test", "Vtiger")
    with pytest.raises(CommandError):
        run("connection_test", "Broken")
    out, _ = run("connection_list")
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "INTEGRATION", "STATUS", "LAST", "SUCCESS", "LAST", "ERROR"]
    assert lines[1].startswith("Broken") and "Authentication failed" in lines[1] and "never" in lines[1]
    assert lines[2].startswith("Vtiger") and "Connected" in lines[2]
    payload = json.loads(run("connection_list", "--json")[0])
    assert [c["name"] for c in payload["connections"]] == ["Broken", "Vtiger"]
    assert payload["connections"][0]["last_error"].startswith("Wrong username or access key")
    assert "secrets_encrypted" not in out and broken.secrets_encrypted not in out
    assert DEMO_ACCESS_KEY not in out and "bad-key-123" not in out


def test_empty_list():
    assert "No connections yet" in run("connection_list")[0]
    assert json.loads(run("connection_list", "--json")[0]) == {"connections": []}


def test_connection_test_command(sandbox, settings):
    vtiger_connection(sandbox.url, name="Vtiger")
    out, _ = run("connection_test", "Vtiger")
    assert out.strip() == "“Vtiger”: Connected as Dana Demo (demo)."
    payload = json.loads(run("connection_test", "vtiger", "--json")[0])  # names match case-insensitively
    assert payload["ok"] is True and payload["connection"]["status"] == "connected"
    settings.OUTBOUND_READ_TIMEOUT = 0.2
    sandbox.configure(hang_ms=3000)
    with pytest.raises(CommandError, match="failed its test: 127.0.0.1 did not answer within 0.2 seconds"):
        run("connection_test", "Vtiger")
    assert Connection.objects.get(name="Vtiger").status == "unreachable"


def test_connection_test_unknown_name():
    with pytest.raises(CommandError, match="There is no connection named “Nope”"):
        run("connection_test", "Nope")
