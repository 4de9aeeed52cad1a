"""The seeded data: determinism, the shape of the business, and value formats like the 8.2 recordings."""

import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest

from sandbox.data import (
    ID_PREFIX,
    USER_IDS,
    build_dataset,
    describe_schema,
    field_types,
    generate_dataset,
)
from tests.recordings import recorded

TODAY = date(2026, 11, 28)
SEED = 4242
MODULES = ["Leads", "Contacts", "Accounts", "Potentials", "HelpDesk", "Invoice", "Products", "Users"]
BUSINESS_MODULES = ["Leads", "Contacts", "Accounts", "Potentials", "HelpDesk", "Invoice", "Products"]


@pytest.fixture(scope="module")
def dataset():
    return build_dataset(seed=SEED, today=TODAY)


def test_same_seed_and_today_give_identical_data(dataset):
    again = generate_dataset(seed=SEED, today=TODAY)
    assert again is not dataset
    for module in MODULES:
        assert again.records(module) == dataset.records(module)
        assert again.deleted(module) == dataset.deleted(module)


def test_another_seed_or_today_gives_other_data(dataset):
    other_seed = build_dataset(seed=SEED + 1, today=TODAY)
    assert other_seed.records("Leads") != dataset.records("Leads")
    later = build_dataset(seed=SEED, today=TODAY + timedelta(days=30))
    assert later.records("Leads")[-1]["createdtime"] > dataset.records("Leads")[-1]["createdtime"]


def test_the_default_today_is_the_current_utc_date():
    assert build_dataset(seed=SEED).today == datetime.now(UTC).date()


def test_counts(dataset):
    counts = {module: dataset.count(module) for module in MODULES}
    assert counts == {
        "Leads": 2000,
        "Contacts": 800,
        "Accounts": 200,
        "Potentials": 700,
        "HelpDesk": 900,
        "Invoice": 500,
        "Products": 6,
        "Users": 5,
    }
    assert len(dataset.deleted("Leads")) == 30


def _crmid(record_id):
    return int(record_id.split("x")[1])


def test_ids_share_one_sequence_in_creation_order(dataset):
    rows = [row for module in BUSINESS_MODULES for row in dataset.records(module)]
    crmids = [_crmid(row["id"]) for row in rows] + [_crmid(i) for m in MODULES for i, _ in dataset.deleted(m)]
    assert len(crmids) == len(set(crmids))
    for module in BUSINESS_MODULES:
        assert all(row["id"].startswith(f"{ID_PREFIX[module]}x") for row in dataset.records(module))
    by_crmid = sorted(rows, key=lambda row: _crmid(row["id"]))
    assert [row["createdtime"] for row in by_crmid] == sorted(row["createdtime"] for row in rows)
    assert dataset.records("Users")[0]["id"] == "19x1"


def test_record_numbers_count_up_per_module(dataset):
    numbers = [row["lead_no"] for row in dataset.records("Leads")]
    assert numbers[0] == "LEA1"
    assert all(re.fullmatch(r"LEA\d+", n) for n in numbers)
    assert [int(n[3:]) for n in numbers] == sorted(int(n[3:]) for n in numbers)
    assert dataset.records("HelpDesk")[0]["ticket_no"] == "TT1"


@pytest.mark.parametrize("module", MODULES)
def test_columns_are_those_of_the_recorded_query(dataset, module):
    recorded_row = recorded(f"query_{module}.json")["result"][0]
    assert all(list(row) == list(recorded_row) for row in dataset.records(module))


@pytest.mark.parametrize("module", MODULES)
def test_every_value_is_a_string(dataset, module):
    for row in dataset.records(module):
        assert all(isinstance(value, str) for value in row.values()), row


def _shape(value):
    if value == "":
        return "empty"
    if re.fullmatch(r"-?\d+", value):
        return "int"
    if match := re.fullmatch(r"-?\d+\.(\d+)", value):
        return f"decimal{len(match.group(1))}"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return "date"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", value):
        return "datetime"
    if re.fullmatch(r"\d+x\d+", value):
        return "id"
    return "text"


@pytest.mark.parametrize("module", MODULES)
def test_value_formats_match_the_recorded_ones(dataset, module):
    """Where the recording shows a structured format (decimals, dates, ids), generated values use it."""
    recorded_rows = recorded(f"query_{module}.json")["result"]
    types = field_types(module)
    checked = 0
    for column in recorded_rows[0]:
        expected = {_shape(row[column]) for row in recorded_rows}
        if "text" in expected or expected == {"empty"}:
            continue  # free text, or nothing recorded to compare with
        allowed = set(expected)
        if types[column] in ("date", "reference", "owner"):
            allowed.add("empty")  # unset dates and references are "", and the recording may not show one
        if types[column] == "boolean":
            allowed = {"int"}
        actual = {_shape(row[column]) for row in dataset.records(module)}
        assert actual <= allowed, f"{module}.{column}: {actual} not within the recorded {allowed}"
        checked += 1
    assert checked >= 5


def test_number_formats(dataset):
    potential = dataset.records("Potentials")[0]
    assert re.fullmatch(r"\d+\.\d{8}", potential["amount"])
    assert re.fullmatch(r"\d+\.\d{3}", potential["probability"])
    ticket = dataset.records("HelpDesk")[0]
    assert re.fullmatch(r"\d+\.\d{8}", ticket["hours"])
    lead = next(row for row in dataset.records("Leads") if row["noofemployees"] == "0")
    assert lead["noofemployees"] == "0"
    unset_revenue = [row["annualrevenue"] for row in dataset.records("Leads") if Decimal(row["annualrevenue"]) == 0]
    assert unset_revenue and set(unset_revenue) == {"0.00000000"}
    assert {row["emailoptout"] for row in dataset.records("Leads")} == {"0", "1"}


@pytest.mark.parametrize("module", MODULES)
def test_picklist_values_come_from_describe(dataset, module):
    picklists = {
        f["name"]: {p["value"] for p in f["type"]["picklistValues"]}
        for f in describe_schema(module)["fields"]
        if f["type"]["name"] == "picklist"
    }
    rows = dataset.records(module)
    for name, allowed in picklists.items():
        if module == "Users" or name not in rows[0]:
            continue
        values = {row[name] for row in rows} - {""}
        assert values <= allowed, f"{module}.{name}: {values - allowed}"


@pytest.mark.parametrize("module", BUSINESS_MODULES)
def test_references_point_at_older_live_records_of_the_right_module(dataset, module):
    refers_to = {
        f["name"]: f["type"]["refersTo"] for f in describe_schema(module)["fields"] if f["type"]["name"] == "reference"
    }
    everything = {row["id"]: row for m in MODULES for row in dataset.records(m)}
    prefixes = {module: prefix for module, prefix in ID_PREFIX.items()}
    for row in dataset.records(module):
        for name, modules in refers_to.items():
            value = row.get(name, "")
            if not value or name == "modifiedby":
                continue
            assert value in everything, f"{module}.{name} -> {value} does not exist"
            assert value.split("x")[0] in {prefixes[m] for m in modules if m in prefixes}
            assert everything[value]["createdtime"] <= row["createdtime"]
        assert row["assigned_user_id"] in USER_IDS
        assert row.get("modifiedby", row["assigned_user_id"]) == row["assigned_user_id"]


def test_times_lie_in_the_two_years_before_today(dataset):
    start = (TODAY - timedelta(days=730)).isoformat()
    end = f"{TODAY - timedelta(days=1)} 23:59:59"
    for module in BUSINESS_MODULES:
        for row in dataset.records(module):
            assert start <= row["createdtime"] <= row["modifiedtime"] <= end


def test_growth_and_weekday_seasonality(dataset):
    created = [datetime.strptime(row["createdtime"], "%Y-%m-%d %H:%M:%S") for row in dataset.records("Leads")]
    first_half_year = sum(1 for moment in created if moment.date() < TODAY - timedelta(days=547))
    last_half_year = sum(1 for moment in created if moment.date() >= TODAY - timedelta(days=182))
    assert last_half_year > 1.6 * first_half_year
    weekdays = Counter(moment.weekday() for moment in created)
    assert min(weekdays[d] for d in range(5)) > 2.5 * max(weekdays[5], weekdays[6])


def test_deals_close_in_the_past_and_open_ones_within_three_months(dataset):
    today = TODAY.isoformat()
    horizon = (TODAY + timedelta(days=90)).isoformat()
    deals = dataset.records("Potentials")
    stages = Counter(row["sales_stage"] for row in deals)
    assert stages["Closed Won"] > 100 and stages["Closed Lost"] > 100
    assert sum(n for stage, n in stages.items() if not stage.startswith("Closed")) > 30
    for row in deals:
        closed = row["sales_stage"].startswith("Closed")
        assert (row["closingdate"] < today) if closed else (today <= row["closingdate"] <= horizon)
        amount, probability = Decimal(row["amount"]), Decimal(row["probability"])
        assert probability == {"Closed Won": 100, "Closed Lost": 0}.get(row["sales_stage"], probability)
        # Rounded half up to whole units, as the server stores it.
        expected = (amount * probability / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        assert Decimal(row["forecast_amount"]) == expected


def test_tickets_and_invoices_are_consistent(dataset):
    tickets = dataset.records("HelpDesk")
    statuses = Counter(row["ticketstatus"] for row in tickets)
    assert set(statuses) == {"Open", "In Progress", "Wait For Response", "Closed"}
    assert all(Decimal(row["hours"]) > 0 for row in tickets if row["ticketstatus"] == "Closed")
    assert all(row["hours"] == "0.00000000" for row in tickets if row["ticketstatus"] != "Closed")
    for row in dataset.records("Invoice"):
        total = Decimal(row["hdnGrandTotal"])
        assert total > 0 and row["hdnSubTotal"] == row["hdnGrandTotal"] == row["pre_tax_total"]
        items = dataset.line_items(row["id"])
        assert sum(Decimal(i["quantity"]) * Decimal(i["listprice"]) for i in items) == total
        paid = row["invoicestatus"] == "Paid"
        assert Decimal(row["balance"]) == (0 if paid else total)
        assert row["duedate"] == (date.fromisoformat(row["invoicedate"]) + timedelta(days=30)).isoformat()


def test_the_demo_user(dataset):
    user = dataset.user
    assert (user["id"], user["user_name"], user["first_name"], user["last_name"], user["email1"]) == (
        "19x1",
        "demo",
        "Dana",
        "Demo",
        "demo@sandbox.example",
    )
    assert "accesskey" not in user and "user_password" not in user


def test_accessors_return_copies(dataset):
    dataset.records("Leads")[0]["lastname"] = "changed"
    dataset.get("19x1")["user_name"] = "changed"
    assert dataset.records("Leads")[0]["lastname"] != "changed"
    assert dataset.get("19x1")["user_name"] == "demo"


def test_scale_multiplies_every_module_and_stays_deterministic():
    from sandbox.data import COUNTS, build_dataset, generate_dataset

    big = build_dataset(today="2026-11-28", scale=3)
    for module, count in COUNTS.items():
        assert len(big.records(module)) == 3 * count, module
    again = generate_dataset(today="2026-11-28", scale=3)
    assert again.records("Leads") == big.records("Leads")


def test_scale_is_bounded():
    import pytest

    from sandbox.data import build_dataset

    with pytest.raises(ValueError, match="scale must be a whole number from 1 to 50"):
        build_dataset(scale=0)


def test_records_are_assigned_among_the_users_deterministically(dataset):
    users = {row["id"]: f"{row['first_name']} {row['last_name']}" for row in dataset.records("Users")}
    assert users == {
        "19x1": "Dana Demo",
        "19x5": "Ada Admin",
        "19x6": "Ben Baker",
        "19x7": "Chloe Chen",
        "19x8": "Omar Okafor",
    }
    owners = Counter(row["assigned_user_id"] for row in dataset.records("Leads"))
    assert set(owners) == set(users)
    assert owners["19x1"] > owners["19x7"]  # some own more than others
    again = generate_dataset(seed=dataset.seed, today=dataset.today)  # built anew, not the cached one
    assert [r["assigned_user_id"] for r in again.records("Potentials")] == [
        r["assigned_user_id"] for r in dataset.records("Potentials")
    ]
