"""Every pre-built Vtiger metric, run against the sandbox and checked against its data.

Each definition's query is rendered for the last 90 days (UTC), fetched page by page
(``LIMIT offset,100`` until an empty page) through the real client, merged, and evaluated with
its expression; the datapoints' total is compared with a value computed here, in plain Python,
from ``sandbox.dataset.records(module)``.
"""

from collections import Counter
from datetime import UTC, datetime

import pytest

from builder import dates, definitions, gallery, placeholders, timeframes, transform, vtql
from builder.models import Metric
from connections.client import Client
from tests.connections.factories import custom_connection, vtiger_connection

NOW = datetime.now(UTC)
WINDOW = timeframes.sync_window(NOW, 90, "UTC")
START_DT = placeholders.format_instant(WINDOW.start, "YYYY-MM-DD HH:mm:ss", UTC)
END_DT = placeholders.format_instant(WINDOW.end, "YYYY-MM-DD HH:mm:ss", UTC)
START_D, END_D = START_DT[:10], END_DT[:10]
OPEN = ("Closed Won", "Closed Lost")


def created(record):
    return START_DT <= record["createdtime"] <= END_DT


def closing(record):
    return START_D <= record["closingdate"] <= END_D


def amount(record, field="amount"):
    return float(record[field])


# slug -> (module, expected total, expected per-dimension totals or None), from the raw records.
def expected(slug, dataset):
    leads, deals = dataset.records("Leads"), dataset.records("Potentials")
    tickets, invoices = dataset.records("HelpDesk"), dataset.records("Invoice")
    won = [r for r in deals if r["sales_stage"] == "Closed Won" and closing(r)]
    open_deals = [r for r in deals if r["sales_stage"] not in OPEN]
    open_tickets = [r for r in tickets if r["ticketstatus"] != "Closed"]
    if slug == "new-leads":
        return sum(map(created, leads)), None
    if slug == "leads-by-source":
        rows = [r for r in leads if created(r)]
        return len(rows), Counter(r["leadsource"] or "No source" for r in rows)
    if slug == "new-contacts":
        return sum(map(created, dataset.records("Contacts"))), None
    if slug == "new-accounts":
        return sum(map(created, dataset.records("Accounts"))), None
    if slug == "deals-created":
        return sum(map(created, deals)), None
    if slug == "deals-won-count":
        return len(won), None
    if slug in ("deals-won-amount", "average-deal-won"):
        return sum(map(amount, won)), None
    if slug == "deals-lost":
        return sum(1 for r in deals if r["sales_stage"] == "Closed Lost" and closing(r)), None
    if slug == "open-pipeline-by-stage":
        by_stage = Counter()
        for r in open_deals:
            by_stage[r["sales_stage"]] += amount(r)
        return sum(by_stage.values()), by_stage
    if slug == "new-tickets":
        return sum(map(created, tickets)), None
    if slug == "open-tickets":
        return len(open_tickets), None
    if slug == "open-tickets-by-priority":
        return len(open_tickets), Counter(r["ticketpriorities"] or "No priority" for r in open_tickets)
    if slug == "closed-tickets":
        return sum(
            1 for r in tickets if r["ticketstatus"] == "Closed" and START_DT <= r["modifiedtime"] <= END_DT
        ), None
    if slug == "invoiced-revenue":
        kept = [
            r
            for r in invoices
            if r["invoicestatus"] not in ("Cancel", "Credit Invoice") and START_D <= r["invoicedate"] <= END_D
        ]
        return sum(amount(r, "hdnGrandTotal") for r in kept), None
    if slug == "invoices-paid":
        return sum(1 for r in invoices if r["invoicestatus"] == "Paid" and START_D <= r["invoicedate"] <= END_D), None
    raise AssertionError(f"No independent expectation for {slug}: add one.")


def fetch_all(connection, query):
    """Every page of a VTQL query, merged into one envelope (as the sync engine evaluates it)."""
    records, offset, pages = [], 0, 0
    with Client(connection) as client:
        while True:
            response = client.request("GET", "query", params=[("query", vtql.with_paging(query, offset))])
            page = response.result
            pages += 1
            assert isinstance(page, list), response.text
            if not page:
                break
            records.extend(page)
            offset += vtql.PAGE_SIZE
    return {"success": True, "result": records}, pages


def test_some_item_needs_several_pages(sandbox):
    leads = [r for r in sandbox.dataset.records("Leads") if created(r)]
    assert len(leads) > 100, "the paging in test_item_against_the_sandbox would go untested"


def test_at_least_ten_items_with_unique_slugs_and_names():
    assert len(gallery.ITEMS) >= 10
    assert len({item.slug for item in gallery.ITEMS}) == len(gallery.ITEMS)
    assert len({item.name for item in gallery.ITEMS}) == len(gallery.ITEMS)


@pytest.mark.parametrize("item", gallery.ITEMS, ids=lambda item: item.slug)
def test_item_is_a_valid_definition(offline_vtiger, item):
    cleaned, errors = definitions.validate(gallery.definition(item, "Vtiger"))
    assert errors == []
    assert cleaned["connection"] == offline_vtiger
    query = item.query
    assert query.endswith(";")
    assert vtql.check_syntax(query) == []
    assert item.definition["request"]["pagination"] == {"type": "vtiger"}
    if item.definition["date"]["mode"] == "field":
        # The window is written with placeholders in the format of the field it filters.
        assert "{{start:" in query and "{{end:" in query


@pytest.mark.parametrize("item", gallery.ITEMS, ids=lambda item: item.slug)
def test_item_against_the_sandbox(db, sandbox, item):
    connection = vtiger_connection(sandbox.url)
    query = placeholders.render(item.query, WINDOW, zone=UTC)
    assert "{{" not in query
    merged, pages = fetch_all(connection, query)
    fetched = len(merged["result"])
    # Pages of 100 until an empty one: a query over 100 rows really was paged.
    assert pages == fetched // 100 + 1 + (1 if fetched % 100 else 0)
    result = transform.evaluate(item.definition["expression"], merged)
    points = transform.to_datapoints(result, item.definition["date"]["mode"])

    total, by_dimension = expected(item.slug, sandbox.dataset)
    assert total > 0, "the window should hold data, or the comparison proves nothing"
    assert sum(point.value for point in points) == pytest.approx(total)
    if by_dimension is not None:
        got = Counter()
        for point in points:
            got[point.dimension] += point.value
        assert dict(got) == pytest.approx(dict(by_dimension))
    if item.definition["date"]["mode"] == "field":
        # Every datapoint carries its record's date, inside the window.
        fmt = item.definition["date"]["format"]
        assert all(WINDOW.contains(_parse(point.date, fmt)) for point in points)
    if item.slug == "average-deal-won":
        won = [r for r in sandbox.dataset.records("Potentials") if r["sales_stage"] == "Closed Won" and closing(r)]
        assert len(points) == len(won)


def _parse(value, fmt):
    return dates.parse(value, fmt, "UTC")


def test_create_metric_in_one_call_with_a_unique_name(db):
    connection = vtiger_connection(name="CRM")
    first = gallery.create_metric("deals-won-amount", connection)
    second = gallery.create_metric("deals-won-amount", connection)
    assert first.name == "Deals won (amount)"
    assert second.name == "Deals won (amount) (copy)"
    assert second.connection == connection
    assert definitions.from_metric(first)["request"] == gallery.get("deals-won-amount").definition["request"]
    assert Metric.objects.count() == 2


def test_create_metric_refuses_unknown_items_and_other_integrations(db):
    vtiger = vtiger_connection(name="CRM")
    with pytest.raises(gallery.GalleryError, match="no pre-built metric"):
        gallery.create_metric("nope", vtiger)
    with pytest.raises(gallery.GalleryError, match="Vtiger connection"):
        gallery.create_metric("new-leads", custom_connection("https://api.example.com", name="Other"))
    assert not Metric.objects.exists()
