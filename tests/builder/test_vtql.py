import json
from datetime import UTC, datetime

import pytest

from builder.placeholders import render
from builder.timeframes import preview_window
from builder.vtql import (
    Choice,
    Field,
    Module,
    build_query,
    check_syntax,
    fields_from_describe,
    modules_from_listtypes,
    quote,
    with_paging,
)
from tests.recordings import VTIGER_RECORDINGS
from tests.recordings import recorded as fixture

DESCRIBE_FILES = sorted(VTIGER_RECORDINGS.glob("describe_*.json"))


def vtiger_error(case):
    return fixture("errors.json")[case]["error"]["message"]


# ---------------------------------------------------------------- building


def test_build_the_product_example():
    query = build_query(
        "Potentials",
        ["amount", "closingdate"],
        date_field="closingdate",
        conditions=[("sales_stage", "=", "Closed Won")],
    )
    assert query == (
        "SELECT amount, closingdate FROM Potentials WHERE sales_stage = 'Closed Won' "
        "AND closingdate >= '{{start:YYYY-MM-DD}}' AND closingdate <= '{{end:YYYY-MM-DD}}';"
    )


def test_datetime_fields_use_the_datetime_format_and_the_date_field_is_selected():
    query = build_query("Leads", ["leadsource"], date_field="createdtime", date_kind="datetime", order_by="id")
    assert query == (
        "SELECT leadsource, createdtime FROM Leads WHERE createdtime >= '{{start:YYYY-MM-DD HH:mm:ss}}' "
        "AND createdtime <= '{{end:YYYY-MM-DD HH:mm:ss}}' ORDER BY id;"
    )


def test_select_star_count_and_order():
    assert build_query("Leads", []) == "SELECT * FROM Leads;"
    assert build_query("Leads", [], date_field="createdtime", date_kind="datetime").startswith(
        "SELECT * FROM Leads WHERE"
    )
    assert build_query("Leads", ["COUNT(*)"], conditions=[("leadstatus", "=", "Hot")]) == (
        "SELECT count(*) FROM Leads WHERE leadstatus = 'Hot';"
    )
    assert build_query("Potentials", ["potentialname"], order_by="closingdate", descending=True) == (
        "SELECT potentialname FROM Potentials ORDER BY closingdate DESC;"
    )


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (("lastname", "=", "O'Neil"), "lastname = 'O''Neil'"),
        (("accountname", "like", "%Health%"), "accountname LIKE '%Health%'"),
        (("leadstatus", "IN", ["Hot", "Warm"]), "leadstatus IN ('Hot', 'Warm')"),
        (("leadstatus", "in", ("It's",)), "leadstatus IN ('It''s')"),
        (("noofemployees", ">", 100), "noofemployees > 100"),
        (("noofemployees", "<=", -5), "noofemployees <= -5"),
        (("probability", ">=", 50.5), "probability >= '50.5'"),
        (("emailoptout", "=", True), "emailoptout = '1'"),
        (("leadstatus", "!=", ""), "leadstatus != ''"),
        (("assigned_user_id", "=", "19x1"), "assigned_user_id = '19x1'"),
        (("description", "=", 'say "hi"; DROP'), "description = 'say \"hi\"; DROP'"),
    ],
)
def test_conditions_and_quoting(condition, expected):
    query = build_query("Leads", ["id"], conditions=[condition])
    assert query.startswith("SELECT id FROM Leads WHERE ")
    assert query.removeprefix("SELECT id FROM Leads WHERE ") == expected + ";"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"module": "leads; DROP"}, "'leads; DROP' is not a valid module name"),
        ({"fields": ["amount, id"]}, "'amount, id' is not a valid field name"),
        ({"fields": ["shipping_&_handling"]}, "'shipping_&_handling' is not a valid field name"),
        ({"date_field": "closing date"}, "'closing date' is not a valid field name"),
        ({"date_kind": "time"}, "date_kind must be one of date, datetime"),
        ({"conditions": [("a", "<>", "b")]}, "'<>' is not a VTQL operator"),
        ({"conditions": [("a", "=", None)]}, "VTQL has no NULL"),
        ({"conditions": [("a", "IN", "Hot")]}, "IN needs a list of values"),
        ({"conditions": [("a", "IN", [])]}, "IN needs at least one value"),
        ({"conditions": [("a", "=", ["x", "y"])]}, "use IN for a list"),
        ({"conditions": [("a", "=", {"x": 1})]}, "cannot be written as a VTQL value"),
        ({"order_by": "id desc"}, "'id desc' is not a valid field name"),
    ],
)
def test_build_query_refuses_what_vtql_cannot_say(kwargs, message):
    arguments = {"module": "Leads", "fields": ["id"], **kwargs}
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_query(**arguments)


def test_quote():
    assert quote("it's") == "'it''s'"
    assert quote("''") == "''''''"
    assert quote(0) == "0"
    assert quote(False) == "'0'"


def test_a_built_query_renders_and_passes_the_syntax_check():
    query = build_query(
        "Potentials",
        ["amount"],
        date_field="closingdate",
        conditions=[("sales_stage", "IN", ["Closed Won", "Closed Lost"])],
        order_by="id",
    )
    assert check_syntax(query, ["Potentials"]) == []
    window = preview_window("last_month", "UTC", datetime(2026, 3, 15, tzinfo=UTC))
    rendered = with_paging(render(query, window), 100)
    assert rendered == (
        "SELECT amount, closingdate FROM Potentials WHERE sales_stage IN ('Closed Won', 'Closed Lost') "
        "AND closingdate >= '2026-02-01' AND closingdate <= '2026-02-28' ORDER BY id LIMIT 100,100;"
    )
    assert check_syntax(rendered) == []


# ---------------------------------------------------------------- paging


@pytest.mark.parametrize(
    ("query", "offset", "limit", "expected"),
    [
        ("SELECT * FROM Leads;", 0, 100, "SELECT * FROM Leads LIMIT 0,100;"),
        ("SELECT * FROM Leads", 100, 100, "SELECT * FROM Leads LIMIT 100,100;"),
        ("SELECT * FROM Leads LIMIT 0,100;", 200, 100, "SELECT * FROM Leads LIMIT 200,100;"),
        ("SELECT * FROM Leads limit 5 ;", 300, 100, "SELECT * FROM Leads LIMIT 300,100;"),
        ("SELECT * FROM Leads LIMIT 10 , 20 ;;", 0, 50, "SELECT * FROM Leads LIMIT 0,50;"),
        ("  SELECT * FROM Leads ORDER BY id DESC;\n", 0, 100, "SELECT * FROM Leads ORDER BY id DESC LIMIT 0,100;"),
        (
            "SELECT * FROM Leads WHERE lastname = 'LIMIT 5';",
            100,
            100,
            "SELECT * FROM Leads WHERE lastname = 'LIMIT 5' LIMIT 100,100;",
        ),
        (
            "SELECT * FROM Leads WHERE createdtime >= '{{start}}';",
            0,
            100,
            "SELECT * FROM Leads WHERE createdtime >= '{{start}}' LIMIT 0,100;",
        ),
    ],
)
def test_with_paging(query, offset, limit, expected):
    assert with_paging(query, offset, limit) == expected


def test_paging_twice_keeps_one_limit():
    query = with_paging(with_paging("SELECT * FROM Leads;", 0), 100)
    assert query == "SELECT * FROM Leads LIMIT 100,100;"
    assert query.count("LIMIT") == 1


@pytest.mark.parametrize(("offset", "limit"), [(-1, 100), (0, 0), (0, 101)])
def test_with_paging_bounds(offset, limit):
    with pytest.raises(ValueError):
        with_paging("SELECT * FROM Leads;", offset, limit)


# ---------------------------------------------------------------- describe and listtypes


@pytest.mark.parametrize("path", DESCRIBE_FILES, ids=lambda path: path.stem)
def test_fields_from_every_describe_fixture(path):
    describe = json.loads(path.read_text())
    raw_fields = describe["result"]["fields"]
    fields = fields_from_describe(describe)
    assert [field.name for field in fields] == [raw["name"] for raw in raw_fields]
    for field, raw in zip(fields, raw_fields, strict=True):
        assert field.type == raw["type"]["name"]
        assert field.is_date == (raw["type"]["name"] in ("date", "datetime"))
        assert field.date_kind == (raw["type"]["name"] if field.is_date else None)
        assert field.mandatory == bool(raw["mandatory"])
        assert "&amp;" not in field.label
        assert len(field.picklist_values) == len(raw["type"].get("picklistValues", []))
    # Passing the result alone works as well as the whole envelope.
    assert fields_from_describe(describe["result"]) == fields


def test_describe_fixtures_cover_the_expected_modules():
    assert {path.stem for path in DESCRIBE_FILES} == {
        f"describe_{name}"
        for name in ("Accounts", "Contacts", "HelpDesk", "Invoice", "Leads", "Potentials", "Products", "Users")
    }


def test_potentials_fields_in_detail():
    fields = {field.name: field for field in fields_from_describe(fixture("describe_Potentials.json"))}
    assert fields["closingdate"] == Field(
        name="closingdate", label="Expected Close Date", type="date", is_date=True, mandatory=True
    )
    assert fields["createdtime"].date_kind == "datetime"
    assert fields["amount"].is_numeric and fields["probability"].is_numeric
    assert not fields["potentialname"].is_numeric
    stage = fields["sales_stage"]
    assert stage.type == "picklist"
    assert Choice(value="Closed Won", label="Closed Won") in stage.picklist_values
    assert Choice(value="Id. Decision Makers", label="Identify Decision Makers") in stage.picklist_values
    assert fields["related_to"].refers_to == ("Accounts",)
    assert [name for name, field in fields.items() if field.is_date] == ["closingdate", "createdtime", "modifiedtime"]


def test_date_fields_of_each_module():
    def dates(name):
        return [field.name for field in fields_from_describe(fixture(f"describe_{name}.json")) if field.is_date]

    assert dates("Invoice") == ["invoicedate", "duedate", "createdtime", "modifiedtime"]
    assert dates("Contacts") == ["birthday", "createdtime", "modifiedtime", "support_start_date", "support_end_date"]
    assert dates("Users") == []


def test_escaped_labels_are_unescaped():
    fields = {field.name: field for field in fields_from_describe(fixture("describe_Invoice.json"))}
    assert fields["shipping_&_handling"].label == "Shipping & Handling"


def test_describe_errors():
    with pytest.raises(ValueError, match="Vtiger answered describe with ACCESS_DENIED"):
        fields_from_describe(fixture("errors.json")["describe_unknown_module"])
    with pytest.raises(ValueError, match="not a describe answer"):
        fields_from_describe(fixture("listtypes.json"))


def test_modules_from_listtypes():
    modules = modules_from_listtypes(fixture("listtypes.json"))
    names = [module.name for module in modules]
    assert len(modules) == 28
    assert not {"Groups", "Currency", "DocumentFolders", "CompanyDetails", "LineItem", "Tax", "ProductTaxes"} & set(
        names
    )
    assert Module(name="Accounts", label="Organizations", singular="Organization") in modules
    assert Module(name="Potentials", label="Opportunities", singular="Opportunity") in modules
    assert Module(name="HelpDesk", label="Tickets", singular="Ticket") in modules
    labels = [module.label.casefold() for module in modules]
    assert labels == sorted(labels)
    with pytest.raises(ValueError, match="not a listtypes answer"):
        modules_from_listtypes(fixture("describe_Leads.json"))


# ---------------------------------------------------------------- syntax check


def test_messages_read_like_vtigers_own():
    # The queries behind errors.json, and the start of what Vtiger 8.2 answered.
    assert check_syntax("SELECT * FROM Leads WHERE;")[0].startswith(vtiger_error("syntax_error"))
    assert check_syntax("SELECT count(*) FROM Leads")[0].startswith(vtiger_error("missing_semicolon"))
    unquoted = "SELECT potentialname, closingdate FROM Potentials WHERE closingdate > 2026-09-01;"
    assert check_syntax(unquoted)[0].startswith(vtiger_error("unquoted_date_literal"))
    assert check_syntax(unquoted)[0].endswith("Dates must be quoted: '2026-09-01'.")
    lowercase = check_syntax("select count(*) from leads;", modules=["Leads", "Potentials"])
    assert lowercase == [vtiger_error("lowercase_module") + ". Module names are case-sensitive: Leads."]
    assert check_syntax("SELECT * FROM NoSuchModule;", modules=["Leads"]) == [
        "Permission to perform the operation is denied for name : NoSuchModule."
    ]


@pytest.mark.parametrize(
    "query",
    [
        "SELECT firstname, lastname, leadstatus FROM Leads WHERE leadstatus IN ('Hot','Warm') LIMIT 0,100;",
        "SELECT accountname, industry FROM Accounts WHERE accountname LIKE '%Health%';",
        "SELECT potentialname, closingdate FROM Potentials WHERE closingdate > '2026-09-01';",
        "SELECT potentialname, amount, sales_stage, closingdate FROM Potentials WHERE sales_stage = 'Closed Won' "
        "ORDER BY closingdate DESC LIMIT 0,100;",
        "SELECT count(*) FROM Leads;",
        "select * from Leads where lastname = 'O''Neil' and noofemployees >= -5;",
        "SELECT * FROM Leads WHERE modifiedtime > '{{start}}' AND createdtime < {{end:unix}};",
        "SELECT * FROM Leads WHERE description = 'say \"hi\" 2026-01-01 <> {{start}}';",
    ],
)
def test_good_queries_pass(query):
    assert check_syntax(query, modules=["Leads", "Accounts", "Potentials"]) == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "The query is empty"),
        ("   ", "The query is empty"),
        ("DELETE FROM Leads;", "Only SELECT queries are allowed"),
        ("SELECT firstname;", "Missing FROM"),
        ("SELECT * FROM;", "expected a module name after FROM"),
        ('SELECT * FROM Leads WHERE lastname = "Ng";', "Double quotes are not allowed in VTQL"),
        (
            "SELECT * FROM Leads WHERE lastname = 'Ng;",
            "Unterminated string: the quote at character 38 is never closed.",
        ),
        ("SELECT * FROM Leads WHERE leadstatus <> 'Hot';", "'<>' is not VTQL: use '!='"),
        ("SELECT * FROM Leads; SELECT * FROM Contacts;", "Nothing may follow ';'"),
        (
            "SELECT * FROM Leads WHERE createdtime > 2026-09-01 10:00:00;",
            "Dates must be quoted: '2026-09-01 10:00:00'.",
        ),
        (
            "SELECT * FROM Potentials WHERE closingdate >= {{start:YYYY-MM-DD}};",
            "Put the placeholder {{start:YYYY-MM-DD}} in single quotes: '{{start:YYYY-MM-DD}}'.",
        ),
        ("SELECT * FROM Leads WHERE createdtime > {{start}};", "Put the placeholder {{start}} in single quotes"),
        ("SELECT * FROM Leads WHERE lastname = 'Ng' AND;", "A condition is missing after AND."),
        ("SELECT * FROM Leads WHERE", "token 'WHERE' Unexpected End of Input(0), expected one of: COLUMNNAME"),
        ("SELECT * FROM Leads WHERE a.b = 'x';", "Unexpected character '.' at character 28."),
    ],
)
def test_obvious_mistakes_are_caught(query, message):
    assert any(message in error for error in check_syntax(query)), check_syntax(query)


def test_one_message_per_mistake_and_only_the_real_ones():
    errors = check_syntax('SELECT * FROM Leads WHERE a = "x" AND b = "y"')
    assert errors == [
        "Double quotes are not allowed in VTQL: write strings in single quotes, like 'Closed Won'.",
        "Syntax Error on line 1: token '=' Unexpected End of Input(0), expected one of: SEMICOLON. "
        "End the query with ';'.",
    ]
    # An unterminated string hides the rest; no second guess about a missing ';'.
    assert check_syntax("SELECT * FROM Leads WHERE a = 'x;") == [
        "Unterminated string: the quote at character 31 is never closed."
    ]
