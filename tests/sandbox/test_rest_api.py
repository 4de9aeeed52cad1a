"""The Cloud REST API (/restapi/v1/vtiger/default/...): auth, every endpoint, errors and paging."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from sandbox import DEMO_ACCESS_KEY, DEMO_USERNAME
from sandbox.data import describe_schema
from tests.recordings import recorded

MODULES = ["Leads", "Contacts", "Accounts", "Potentials", "HelpDesk", "Invoice", "Products", "Users"]


def test_me_is_the_demo_user(rest):
    assert rest.result("me") == {
        "id": "19x1",
        "user_name": "demo",
        "first_name": "Dana",
        "last_name": "Demo",
        "email1": "demo@sandbox.example",
    }


@pytest.mark.parametrize(
    ("auth", "code"),
    [
        (None, "AUTHENTICATION_REQUIRED"),
        ((DEMO_USERNAME, "wrong-key"), "INVALID_USER_CREDENTIALS"),
        (("someone", DEMO_ACCESS_KEY), "INVALID_USER_CREDENTIALS"),
    ],
)
@pytest.mark.parametrize("endpoint", ["me", "query"])
def test_basic_auth_is_required_on_every_call(rest, sandbox, auth, code, endpoint):
    response = rest.get(endpoint, auth=auth, query="SELECT count(*) FROM Leads;")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    assert sandbox.stats()["auth_failures"] == 1


def test_a_malformed_authorization_header_is_401(rest, http):
    response = http.get(f"{rest.base}/me", headers={"Authorization": "Basic !!not-base64!!"}, timeout=5)
    assert response.status_code == 401


def test_only_get_is_served(rest, http):
    response = http.post(
        f"{rest.base}/query", data={"query": "SELECT * FROM Leads;"}, auth=(DEMO_USERNAME, DEMO_ACCESS_KEY)
    )
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"
    assert response.json()["error"]["code"] == "ACCESS_DENIED"


def test_unknown_endpoint_is_404_with_the_envelope(rest):
    response = rest.get("frobnicate")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "UNKNOWN_OPERATION"


def test_listtypes_lists_the_served_modules_like_the_recording(rest):
    result = rest.result("listtypes")
    recording = recorded("listtypes.json")["result"]
    assert sorted(result["types"]) == sorted(MODULES)
    assert result["types"] == [name for name in recording["types"] if name in MODULES]
    assert result["information"] == {name: recording["information"][name] for name in result["types"]}
    assert result["information"]["Potentials"] == {
        "isEntity": True,
        "label": "Opportunities",
        "singular": "Opportunity",
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"fieldTypeList": "null"}, MODULES),
        ({"fieldTypeList[]": "currency"}, ["Invoice", "Leads", "Accounts", "Potentials", "Products"]),
        ({"fieldTypeList": '["image"]'}, ["Contacts", "Products"]),
        (
            {"fieldTypeList[]": ["image", "currency"]},
            ["Contacts", "Invoice", "Leads", "Accounts", "Potentials", "Products"],
        ),
    ],
)
def test_listtypes_filters_by_field_type(rest, params, expected):
    assert sorted(rest.result("listtypes", **params)["types"]) == sorted(expected)


@pytest.mark.parametrize("module", MODULES)
def test_describe_is_the_recorded_describe(rest, module):
    result = rest.result("describe", elementType=module)
    assert result == describe_schema(module)
    assert result["name"] == module
    assert result["fields"][-1]["name"] in ("id", "currency1", "shipping_&_handling_shtax3")


def test_describe_labels_and_prefixes(rest):
    leads = rest.result("describe", elementType="Leads")
    assert (leads["idPrefix"], leads["labelFields"], len(leads["fields"])) == ("10", "firstname,lastname", 34)
    assert rest.result("describe", elementType="HelpDesk")["label"] == "Tickets"


def test_call_errors_are_400_with_the_message_as_reason_phrase(rest):
    response = rest.get("describe", elementType="NoSuchModule")
    assert response.status_code == 400
    message = "Permission to perform the operation is denied for name : NoSuchModule"
    assert response.reason == message
    assert response.json() == {"success": False, "error": {"message": message, "code": "ACCESS_DENIED"}}


@pytest.mark.parametrize(
    ("vtql", "code"),
    [
        ("SELECT * FROM Leads WHERE;", "QUERY_SYNTAX_ERROR"),
        ("SELECT count(*) FROM Leads", "QUERY_SYNTAX_ERROR"),
        ("select count(*) from leads;", "ACCESS_DENIED"),
        ("SELECT nosuchfield FROM Leads;", "ACCESS_DENIED"),
        ("SELECT * FROM Potentials WHERE related_to = '42';", "INVALID_ID_ATTRIBUTE"),
    ],
)
def test_query_errors_match_the_recorded_ones(rest, vtql, code):
    response = rest.get("query", query=vtql)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert response.reason == response.json()["error"]["message"]


def test_reason_phrase_cannot_carry_a_header_injection(rest):
    response = rest.get("describe", elementType="Evil\r\nX-Injected: yes")
    assert response.status_code == 400
    assert "X-Injected" not in response.headers


def test_query_answers_from_the_dataset(rest, sandbox):
    dataset = sandbox.dataset
    won = [r for r in dataset.records("Potentials") if r["sales_stage"] == "Closed Won"]
    count = rest.query("SELECT count(*) FROM Potentials WHERE sales_stage = 'Closed Won';")
    assert count == [{"count": str(len(won))}]
    top = rest.query(
        "SELECT potentialname, amount, sales_stage FROM Potentials WHERE sales_stage = 'Closed Won' "
        "ORDER BY amount DESC LIMIT 5;"
    )
    expected = sorted(won, key=lambda r: Decimal(r["amount"]), reverse=True)[:5]
    assert [row["id"] for row in top] == [r["id"] for r in expected]
    assert list(top[0]) == ["potentialname", "amount", "sales_stage", "id"]


def test_count_of_every_module(rest, sandbox):
    for module in MODULES:
        vtql = f"SELECT count(*) FROM {module};"  # noqa: S608 - VTQL over HTTP, no SQL
        assert rest.query(vtql) == [{"count": str(sandbox.dataset.count(module))}]


def test_no_limit_means_one_hundred_rows_and_limits_are_capped(rest):
    assert len(rest.query("SELECT * FROM Leads;")) == 100
    assert len(rest.query("SELECT * FROM Leads LIMIT 500;")) == 100
    assert len(rest.query("SELECT * FROM Leads LIMIT 10;")) == 10
    assert len(rest.query("SELECT * FROM Leads LIMIT 1950, 500;")) == 50


def test_paging_with_limit_offset_returns_every_record_once(rest, sandbox):
    seen, offset, pages = [], 0, 0
    while True:
        page = rest.query(f"SELECT id, lastname FROM Leads ORDER BY id LIMIT {offset}, 100;")  # noqa: S608 - VTQL
        pages += 1
        if not page:
            break
        seen.extend(row["id"] for row in page)
        offset += 100
    expected = [r["id"] for r in sandbox.dataset.records("Leads")]
    assert len(seen) == len(set(seen)) == 2000
    assert seen == expected
    assert pages == 21


def test_paging_a_filtered_sorted_query(rest, sandbox):
    cutoff = "2026-01-01"
    expected = sorted(
        (r for r in sandbox.dataset.records("HelpDesk") if r["createdtime"] >= cutoff),
        key=lambda r: r["createdtime"],
    )
    seen, offset = [], 0
    vtql = "SELECT ticket_no, createdtime FROM HelpDesk WHERE createdtime >= '{}' ORDER BY createdtime LIMIT {},100;"
    while page := rest.query(vtql.format(cutoff, offset)):
        seen.extend(page)
        offset += 100
    assert [row["id"] for row in seen] == [r["id"] for r in expected]


def test_retrieve_adds_the_label(rest, sandbox):
    potential = sandbox.dataset.records("Potentials")[0]
    result = rest.result("retrieve", id=potential["id"])
    assert result == {**potential, "label": potential["potentialname"]}
    assert list(result) == list(recorded("retrieve_example.json")["result"])


def test_retrieve_invoice_carries_line_items_summing_to_the_total(rest, sandbox):
    invoice = sandbox.dataset.records("Invoice")[-1]
    result = rest.result("retrieve", id=invoice["id"])
    items = result["LineItems"]
    assert items
    assert sum(Decimal(i["quantity"]) * Decimal(i["listprice"]) for i in items) == Decimal(invoice["hdnGrandTotal"])
    assert items[-1]["productid"] == invoice["productid"]
    assert all(item["parent_id"] == invoice["id"] and item["id"].startswith("33x") for item in items)


def test_retrieve_user(rest):
    user = rest.result("retrieve", id="19x1")
    assert (user["user_name"], user["label"], user["is_admin"]) == ("demo", "Dana Demo", "on")


@pytest.mark.parametrize(
    ("record_id", "code", "message"),
    [
        ("10x99999", "ACCESS_DENIED", "Permission to perform the operation is denied"),
        ("99x1", "ACCESS_DENIED", "Permission to perform the operation is denied"),
        ("12", "INVALID_ID_ATTRIBUTE", "Id specified is incorrect"),
        ("", "INVALID_ID_ATTRIBUTE", "Id specified is incorrect"),
    ],
)
def test_retrieve_errors(rest, record_id, code, message):
    response = rest.get("retrieve", id=record_id)
    assert response.status_code == 400
    assert response.json()["error"] == {"message": message, "code": code}


def test_retrieve_of_a_deleted_record_is_denied(rest, sandbox):
    deleted_id, _ = sandbox.dataset.deleted("Leads")[0]
    assert rest.get("retrieve", id=deleted_id).json()["error"]["code"] == "ACCESS_DENIED"


def _epoch(timestamp):
    return int(datetime.strptime(timestamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp())


def test_sync_walks_every_change_in_pages(rest, sandbox):
    dataset = sandbox.dataset
    updated, deleted, pages, since = [], [], 0, 0
    while True:
        page = rest.result("sync", modifiedTime=since, elementType="Leads", syncType="application")
        pages += 1
        assert len({row["modifiedtime"] for row in page["updated"]}) <= 100
        updated.extend(page["updated"])
        deleted.extend(page["deleted"])
        assert page["lastModifiedTime"] >= since
        since = page["lastModifiedTime"]
        if not page["more"]:
            break
    assert [row["id"] for row in updated] == [
        r["id"] for r in sorted(dataset.records("Leads"), key=lambda r: (r["modifiedtime"], int(r["id"][3:])))
    ]
    assert sorted(deleted) == sorted(record_id for record_id, _ in dataset.deleted("Leads"))
    assert pages >= 20
    assert updated[0] == dataset.get(updated[0]["id"])


def test_sync_after_the_last_change_is_empty_and_echoes_the_time(rest, sandbox):
    latest = max(_epoch(r["modifiedtime"]) for r in sandbox.dataset.records("Invoice"))
    result = rest.result("sync", modifiedTime=latest, elementType="Invoice")
    assert result == {"updated": [], "deleted": [], "more": False, "lastModifiedTime": latest}


def test_sync_without_element_type_covers_all_modules(rest):
    result = rest.result("sync", modifiedTime=0)
    assert {row["id"].split("x")[0] for row in result["updated"]} >= {"14", "11"}  # products and accounts come first
    assert result["more"] is True


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"modifiedTime": 0, "elementType": "leads"}, "ACCESS_DENIED"),
        ({"modifiedTime": 0, "elementType": "Users"}, "ACCESS_DENIED"),
        ({"elementType": "Leads"}, "MANDATORY_FIELDS_MISSING"),
        ({"modifiedTime": "yesterday"}, "MANDATORY_FIELDS_MISSING"),
    ],
)
def test_sync_errors(rest, params, code):
    response = rest.get("sync", **params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def test_every_answer_carries_flood_control_headers(rest):
    for response in (rest.get("me"), rest.get("describe", elementType="Nope"), rest.get("me", auth=None)):
        assert int(response.headers["X-FloodControl-MinuteLimit"]) > 0
        assert int(response.headers["X-FloodControl-Remaining"]) >= 0
        assert int(response.headers["X-FloodControl-Reset"]) > 1_600_000_000
        assert int(response.headers["X-RateLimit-DailyLimit"]) > 0
        assert int(response.headers["X-RateLimit-Remaining"]) >= 0


def test_concurrent_clients_are_served(rest, sandbox):
    from concurrent.futures import ThreadPoolExecutor

    import requests

    def count(offset):
        response = requests.get(
            f"{rest.base}/query",
            params={"query": f"SELECT id FROM Leads ORDER BY id LIMIT {offset}, 100;"},  # noqa: S608 - VTQL
            auth=(DEMO_USERNAME, DEMO_ACCESS_KEY),
            timeout=10,
        )
        return [row["id"] for row in response.json()["result"]]

    with ThreadPoolExecutor(max_workers=10) as pool:
        pages = list(pool.map(count, range(0, 2000, 100)))
    assert sum(pages, []) == [row["id"] for row in sandbox.dataset.records("Leads")]
    assert sandbox.stats()["requests"]["rest/query"] == 20
