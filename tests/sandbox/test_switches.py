"""The test switches, flood control, the /_sandbox/ control endpoints and `python -m sandbox`."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from sandbox.controls import SWITCHES, default_switches
from sandbox.server import SandboxServer

REPO = Path(__file__).resolve().parents[2]


def control(sandbox, name, payload=None):
    url = f"{sandbox.url}/_sandbox/{name}"
    if payload is None and name != "reset":
        return requests.get(url, timeout=5)
    return requests.post(url, json=payload or {}, timeout=5)


# --- control endpoints -------------------------------------------------------------------


def test_config_over_http_returns_the_whole_config(sandbox):
    response = control(sandbox, "config", {"latency_ms": 5, "rate_limit_per_minute": 30})
    assert response.status_code == 200
    config = response.json()
    assert set(config) == set(SWITCHES)
    assert (config["latency_ms"], config["rate_limit_per_minute"], config["max_rows"]) == (5, 30, 100)
    assert sandbox.config == config
    assert control(sandbox, "config").json() == config


@pytest.mark.parametrize(
    "payload",
    [
        {"no_such_switch": 1},
        {"error_rate": 2},
        {"error_rate": "half"},
        {"latency_ms": -1},
        {"max_rows": 1.5},
        {"selfhosted_sync_broken": "yes"},
        {"max_rows": None},
        ["latency_ms", 5],
    ],
)
def test_config_rejects_bad_values(sandbox, payload):
    response = control(sandbox, "config", payload)
    assert response.status_code == 400
    assert response.json()["error"]
    assert sandbox.config == default_switches()


def test_config_rejects_broken_json(sandbox):
    response = requests.post(f"{sandbox.url}/_sandbox/config", data=b"{oops", timeout=5)
    assert response.status_code == 400


def test_reset_restores_defaults_and_clears_counters_and_sessions(sandbox, ws, rest):
    sandbox.configure(latency_ms=1, rate_limit_per_minute=50, selfhosted_sync_broken=True)
    rest.get("me")
    response = control(sandbox, "reset")
    assert response.status_code == 200
    assert response.json()["config"] == default_switches()
    stats = sandbox.stats()
    assert (stats["total_requests"], stats["requests"], stats["active_sessions"]) == (0, {}, 0)
    assert ws.call("listtypes")["error"]["code"] == "INVALID_SESSIONID"


def test_stats_count_requests_per_endpoint(sandbox, rest, ws):
    rest.get("me")
    rest.get("me")
    rest.get("query", query="SELECT count(*) FROM Leads;")
    ws.call("listtypes")
    requests.get(f"{sandbox.url}/custom/v1/deals", timeout=5)
    stats = control(sandbox, "stats").json()
    assert stats["requests"] == {
        "custom/deals": 1,
        "rest/me": 2,
        "rest/query": 1,
        "webservice/getchallenge": 1,
        "webservice/listtypes": 1,
        "webservice/login": 1,
    }
    assert stats["total_requests"] == 7
    assert (stats["logins"], stats["challenges"], stats["active_sessions"]) == (1, 1, 1)


def test_control_endpoints_are_not_counted_or_limited(sandbox):
    sandbox.configure(rate_limit_per_minute=1, error_rate=1)
    for _ in range(3):
        assert control(sandbox, "stats").status_code == 200
    assert sandbox.stats()["total_requests"] == 0


def test_unknown_control_endpoint(sandbox):
    assert requests.get(f"{sandbox.url}/_sandbox/nothing", timeout=5).status_code == 404
    assert requests.get(f"{sandbox.url}/_sandbox/reset", timeout=5).status_code == 405


def test_info_names_the_credentials_and_counts(sandbox):
    info = requests.get(f"{sandbox.url}/_sandbox/info", timeout=5).json()
    assert (info["username"], info["access_key"]) == ("demo", "s4ndb0xDem0Key16")
    assert info["counts"]["Leads"] == 2000
    assert info["rest_base_url"] == f"{sandbox.url}/restapi/v1/vtiger/default"


# --- flood control -----------------------------------------------------------------------


def test_over_the_minute_budget_is_429_with_retry_after(sandbox, rest):
    sandbox.configure(rate_limit_per_minute=3)
    remaining = []
    for _ in range(3):
        response = rest.get("me")
        assert response.status_code == 200
        remaining.append(int(response.headers["X-FloodControl-Remaining"]))
        assert response.headers["X-FloodControl-MinuteLimit"] == "3"
    assert remaining == [2, 1, 0]
    refused = rest.get("me")
    assert refused.status_code == 429
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    reset_at = int(refused.headers["X-FloodControl-Reset"])
    assert time.time() < reset_at <= time.time() + 61
    assert refused.headers["X-FloodControl-Remaining"] == "0"
    body = refused.json()
    assert body["success"] is False
    assert body["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert sandbox.stats()["rate_limited"] == 1


def test_the_budget_is_shared_by_both_apis_and_the_webservice_answers_429_too(sandbox, ws, rest):
    # The ws fixture's getchallenge and login already spent two calls of this minute.
    sandbox.configure(rate_limit_per_minute=4)
    assert rest.get("me").status_code == 200
    assert rest.get("me").status_code == 200
    response = ws.get(operation="query", sessionName=ws.session_name, query="SELECT count(*) FROM Leads;")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert "Retry-After" in response.headers


def test_refused_calls_do_not_spend_the_budget(sandbox, rest):
    sandbox.configure(rate_limit_per_minute=1)
    assert rest.get("me").status_code == 200
    for _ in range(3):
        assert rest.get("me").status_code == 429
    assert sandbox.stats()["minute_window_used"] == 1


def test_the_daily_budget(sandbox, rest):
    sandbox.configure(rate_limit_per_day=2)
    first = rest.get("me")
    assert first.headers["X-RateLimit-DailyLimit"] == "2"
    assert first.headers["X-RateLimit-Remaining"] == "1"
    assert rest.get("me").status_code == 200
    refused = rest.get("me")
    assert refused.status_code == 429
    assert 60 < int(refused.headers["Retry-After"]) <= 86400


def test_unlimited_by_default(sandbox, rest):
    for _ in range(40):
        response = rest.get("me")
        assert response.status_code == 200
    assert int(response.headers["X-FloodControl-Remaining"]) > 1000


def test_a_reset_clears_the_flood_window(sandbox, rest):
    sandbox.configure(rate_limit_per_minute=1)
    rest.get("me")
    assert rest.get("me").status_code == 429
    sandbox.reset()
    sandbox.configure(rate_limit_per_minute=1)
    assert rest.get("me").status_code == 200


# --- injected faults ---------------------------------------------------------------------


def test_latency_is_added_to_api_calls_only(sandbox, rest):
    sandbox.configure(latency_ms=200)
    started = time.monotonic()
    assert rest.get("me").status_code == 200
    assert time.monotonic() - started >= 0.2  # a lower bound: a loaded machine only adds to it
    sandbox.configure(latency_ms=600_000)
    # Ten minutes of latency on the control API would make this time out (after 5 s).
    assert control(sandbox, "stats").status_code == 200


def test_error_rate_fails_a_deterministic_share_of_calls(sandbox, rest):
    sandbox.configure(error_rate=0.5)
    assert [rest.get("me").status_code for _ in range(6)] == [200, 503, 200, 503, 200, 503]
    sandbox.configure(error_rate=0.25, error_status=500)
    assert [rest.get("me").status_code for _ in range(8)] == [200, 200, 200, 500, 200, 200, 200, 500]
    assert sandbox.stats()["errors_injected"] == 5


def test_error_rate_one_fails_everything_including_the_webservice(sandbox, http):
    sandbox.configure(error_rate=1)
    response = http.get(sandbox.webservice_url, params={"operation": "getchallenge", "username": "demo"}, timeout=5)
    assert response.status_code == 503
    assert response.headers["Content-Type"].startswith("text/html")
    assert "X-FloodControl-Remaining" in response.headers


def test_malformed_answers_are_200_but_not_json(sandbox, rest):
    sandbox.configure(malformed_rate=1)
    response = rest.get("query", query="SELECT * FROM Leads LIMIT 5;")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.text.startswith('{"success":true,"result":[')
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)
    sandbox.configure(malformed_rate=0)
    assert rest.get("me").json()["success"] is True


def test_hang_makes_clients_time_out_and_reset_releases_it(sandbox, http):
    sandbox.configure(hang_ms=600_000)
    with pytest.raises(requests.exceptions.ReadTimeout):
        http.get(f"{sandbox.url}/custom/v1/deals", timeout=0.3)
    sandbox.reset()
    # Still hanging, this would time out after ten seconds.
    assert requests.get(f"{sandbox.url}/custom/v1/deals?paginate=page", timeout=10).status_code == 200


def test_max_rows_allows_one_big_answer(sandbox, rest):
    sandbox.configure(max_rows=5000)
    rows = rest.query("SELECT * FROM Leads;")
    assert len(rows) == 2000
    assert len(rest.query("SELECT * FROM Leads LIMIT 1000, 5000;")) == 1000
    sync = rest.result("sync", modifiedTime=0, elementType="Accounts")
    assert (len(sync["updated"]), sync["more"]) == (200, False)


# --- starting it ---------------------------------------------------------------------------


def test_constructor_switches_are_the_reset_defaults(sandbox_server):
    with SandboxServer(port=0, rate_limit_per_minute=30, latency_ms=1) as server:
        assert server.url.startswith("http://127.0.0.1:") and server.port > 0
        assert server.config["rate_limit_per_minute"] == 30
        server.configure(rate_limit_per_minute=90)
        assert server.reset()["rate_limit_per_minute"] == 30
        response = requests.get(f"{server.url}/restapi/v1/vtiger/default/me", timeout=5)
        assert response.headers["X-FloodControl-MinuteLimit"] == "30"


def test_constructor_rejects_unknown_switches():
    with pytest.raises(ValueError, match="unknown switch"):
        SandboxServer(port=0, latency=5)


def test_python_dash_m_sandbox_runs_and_is_configurable_over_http():
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", "0", "--seed", "7", "--today", "2025-06-30", "--max-rows", "250"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first_line = process.stdout.readline()
        assert first_line.startswith("Vtiger sandbox on http://127.0.0.1:"), first_line
        url = first_line.split()[3]
        banner = "".join(process.stdout.readline() for _ in range(4))
        assert "s4ndb0xDem0Key16" in banner
        info = requests.get(f"{url}/_sandbox/info", timeout=5).json()
        assert (info["seed"], info["today"]) == (7, "2025-06-30")
        assert requests.post(f"{url}/_sandbox/config", json={"latency_ms": 3}, timeout=5).json()["max_rows"] == 250
        requests.get(f"{url}/restapi/v1/vtiger/default/me", timeout=5)
        log = [process.stdout.readline() for _ in range(3)]
        assert "GET /_sandbox/info 200" in log[0]
        assert "GET /restapi/v1/vtiger/default/me 401" in log[2]
    finally:
        process.terminate()
        process.communicate(timeout=10)
