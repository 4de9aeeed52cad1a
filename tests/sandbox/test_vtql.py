"""VTQL: grammar, semantics and error texts, on a small hand-made table (no server needed)."""

import pytest

from sandbox import vtql
from sandbox.errors import VtigerError
from sandbox.vtql import DATE, DATETIME, ID, NUMBER, OWNER, REFERENCE, TEXT, Table


def person(crmid, first, last, amount, birthday, account, created):
    return {
        "firstname": first,
        "lastname": last,
        "amount": amount,
        "birthday": birthday,
        "account_id": account,
        "assigned_user_id": "19x1",
        "createdtime": created,
        "id": f"12x{crmid}",
    }


PEOPLE = Table(
    columns=("firstname", "lastname", "amount", "birthday", "account_id", "assigned_user_id", "createdtime", "id"),
    kinds={
        "firstname": TEXT,
        "lastname": TEXT,
        "amount": NUMBER,
        "birthday": DATE,
        "account_id": REFERENCE,
        "assigned_user_id": OWNER,
        "createdtime": DATETIME,
        "id": ID,
    },
    rows=(
        person(1, "Ann", "O'Brien", "100.00000000", "1980-05-01", "11x5", "2025-01-01 10:00:00"),
        person(2, "bob", "Smith", "20.00000000", "", "", "2025-01-31 09:30:00"),
        person(3, "Cara", "Smith", "3.50000000", "1975-12-31", "11x30", "2025-02-01 00:00:00"),
        person(10, "Dan", "Jones", "0.00000000", "1990-01-15", "11x5", "2025-03-15 16:45:10"),
    ),
)


def run(text, max_rows=100):
    return vtql.run(text, {"People": PEOPLE}.get, max_rows=max_rows)


def ids(rows):
    return [int(row["id"].split("x")[1]) for row in rows]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        # Numeric fields compare as numbers: as strings, "3.5" > "20" and "100" < "20".
        ("amount > 5", [1, 2]),
        ("amount > '5'", [1, 2]),
        ("amount <= 20", [2, 3, 10]),
        ("amount = 0", [10]),
        # Text compares without regard to case, as MySQL's default collation does.
        ("firstname = 'BOB'", [2]),
        ("lastname != 'Smith'", [1, 10]),
        ("lastname >= 'p'", [2, 3]),
        ("lastname = 'O''Brien'", [1]),
        ("lastname LIKE 'sm%'", [2, 3]),
        ("firstname LIKE '_ob'", [2]),
        ("lastname LIKE '%''%'", [1]),
        ("lastname IN ('Smith', 'Jones')", [2, 3, 10]),
        ("lastname IN ('Jones')", [10]),
        # Dates compare as YYYY-MM-DD strings; an empty date is NULL and matches nothing, even !=.
        ("birthday < '1985-01-01'", [1, 3]),
        ("birthday != '1980-05-01'", [3, 10]),
        ("createdtime >= '2025-02-01'", [3, 10]),
        ("createdtime < '2025-02-01'", [1, 2]),
        ("createdtime <= '2025-01-31'", [1]),
        # References and ids compare by the number after the x; the prefix is not checked.
        ("account_id = '11x5'", [1, 10]),
        ("account_id = '99x5'", [1, 10]),
        ("account_id != '11x5'", [3]),
        ("account_id IN ('11x30', '11x5')", [1, 3, 10]),
        ("id > '12x2'", [3, 10]),
        ("id = '12x10'", [10]),
        ("assigned_user_id = '19x1'", [1, 2, 3, 10]),
        # AND binds tighter than OR, because the clause reaches MySQL as written.
        ("lastname = 'Smith' OR firstname = 'Ann' AND amount > 1000", [2, 3]),
        ("firstname = 'Ann' AND amount > 1000 OR lastname = 'Jones'", [10]),
        ("lastname = 'Smith' AND amount > 10 OR lastname = 'Jones' AND amount < 1", [2, 10]),
    ],
)
def test_where_semantics(where, expected):
    assert ids(run(f"SELECT * FROM People WHERE {where};")) == expected  # noqa: S608 - VTQL on a dict, no SQL


@pytest.mark.parametrize(
    ("clause", "expected"),
    [
        ("ORDER BY amount", [10, 3, 2, 1]),
        ("ORDER BY amount DESC", [1, 2, 3, 10]),
        ("order by id desc", [10, 3, 2, 1]),
        ("ORDER BY birthday", [2, 3, 1, 10]),  # NULL first
        # The direction applies to the last column only.
        ("ORDER BY lastname, amount DESC", [10, 1, 2, 3]),
        ("ORDER BY lastname, amount", [10, 1, 3, 2]),
        ("LIMIT 2", [1, 2]),
        ("LIMIT 1, 2", [2, 3]),
        ("LIMIT 1,2", [2, 3]),
        ("LIMIT 4, 10", []),
        ("ORDER BY amount LIMIT 2", [10, 3]),
    ],
)
def test_order_and_limit(clause, expected):
    assert ids(run(f"SELECT * FROM People {clause};")) == expected  # noqa: S608 - VTQL on a dict, no SQL


def test_row_cap_applies_to_the_count_but_not_the_offset():
    assert ids(run("SELECT * FROM People;", max_rows=3)) == [1, 2, 3]
    assert ids(run("SELECT * FROM People LIMIT 100;", max_rows=2)) == [1, 2]
    assert ids(run("SELECT * FROM People LIMIT 2, 100;", max_rows=1)) == [3]
    assert ids(run("SELECT * FROM People LIMIT 3, 100;", max_rows=1)) == [10]


def test_count_is_a_string_and_honours_where_and_limit():
    assert run("SELECT count(*) FROM People;") == [{"count": "4"}]
    assert run("select COUNT(*) from People where lastname = 'Smith';") == [{"count": "2"}]
    assert run("SELECT count(*) FROM People WHERE lastname = 'Nobody';") == [{"count": "0"}]
    # LIMIT applies to the one-row result, so an offset past it leaves nothing.
    assert run("SELECT count(*) FROM People LIMIT 0, 100;") == [{"count": "4"}]
    assert run("SELECT count(*) FROM People LIMIT 1, 100;") == []


def test_select_lists_append_id_and_star_keeps_the_column_order():
    rows = run("SELECT lastname, firstname FROM People LIMIT 1;")
    assert rows == [{"lastname": "O'Brien", "firstname": "Ann", "id": "12x1"}]
    assert list(run("SELECT id, lastname FROM People LIMIT 1;")[0]) == ["id", "lastname"]
    assert list(run("SELECT lastname, lastname FROM People LIMIT 1;")[0]) == ["lastname", "id"]
    assert list(run("select * from People limit 1;")[0]) == list(PEOPLE.columns)


def test_results_are_copies():
    run("SELECT * FROM People;")[0]["lastname"] = "changed"
    assert PEOPLE.rows[0]["lastname"] == "O'Brien"


def test_whitespace_and_newlines_are_fine():
    assert ids(run("SELECT\n  firstname\nFROM People\nWHERE amount > 50\n;\n")) == [1]


SYNTAX = "QUERY_SYNTAX_ERROR"
DENIED = "ACCESS_DENIED"
DB = "DATABASE_QUERY_ERROR"


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        (
            "SELECT * FROM People WHERE;",
            SYNTAX,
            "Syntax Error on line 1: token ';' Unexpected SEMICOLON(;), expected one of: COLUMNNAME",
        ),
        (
            "SELECT count(*) FROM People",
            SYNTAX,
            "Syntax Error on line 1: token 'People' Unexpected End of Input(0), expected one of: SEMICOLON",
        ),
        (
            "SELECT firstname FROM People WHERE birthday > 1980-05-01;",
            SYNTAX,
            "Syntax Error on line 1: token '-05' Unexpected COLUMNNAME(-05), expected one of: SEMICOLON",
        ),
        ("", SYNTAX, "Syntax Error on line 1: token '' Unexpected End of Input(0), expected one of: SELECT"),
        (
            "SELECT FROM People;",
            SYNTAX,
            "Syntax Error on line 1: token 'FROM' Unexpected FRM(FROM), expected one of: COLUMNNAME,ASTERISK,COUNT",
        ),
        (
            "SELECT * People;",
            SYNTAX,
            "Syntax Error on line 1: token 'People' Unexpected COLUMNNAME(People), expected one of: FRM",
        ),
        (
            "SELECT firstname lastname FROM People;",
            SYNTAX,
            "Syntax Error on line 1: token 'lastname' Unexpected COLUMNNAME(lastname), expected one of: FRM,COMMA",
        ),
        (
            "SELECT * FROM People WHERE firstname 'Ann';",
            SYNTAX,
            "Syntax Error on line 1: token ''Ann'' Unexpected VALUE('Ann'), "
            "expected one of: EQ,LT,GT,LTE,GTE,NE,IN,LIKE",
        ),
        (
            "SELECT * FROM People LIMIT;",
            SYNTAX,
            "Syntax Error on line 1: token ';' Unexpected SEMICOLON(;), expected one of: VALUE",
        ),
        (
            "SELECT * FROM People ORDER firstname;",
            SYNTAX,
            "Syntax Error on line 1: token 'firstname' Unexpected COLUMNNAME(firstname), expected one of: ORDERBY",
        ),
        (
            "SELECT * FROM People LIMIT 5 WHERE amount > 1;",
            SYNTAX,
            "Syntax Error on line 1: token 'WHERE' Unexpected WHERE(WHERE), expected one of: SEMICOLON",
        ),
        (
            "SELECT *\nFROM People\nWHERE;",
            SYNTAX,
            "Syntax Error on line 3: token ';' Unexpected SEMICOLON(;), expected one of: COLUMNNAME",
        ),
        ("SELECT * FROM People WHERE lastname = ('a', 'b');", SYNTAX, "columns data inappropriate"),
        # Module names are case-sensitive; the module is resolved before later syntax errors.
        ("SELECT * FROM people;", DENIED, "Permission to perform the operation is denied for name : people"),
        ("SELECT * FROM Nope WHERE;", DENIED, "Permission to perform the operation is denied for name : Nope"),
        # Unknown fields: the select-list message has the original's stray quotes and dots.
        ("SELECT nosuch FROM People;", DENIED, "Permission to access '.nosuch.' attribute denied."),
        ("SELECT Firstname FROM People;", DENIED, "Permission to access '.Firstname.' attribute denied."),
        ("SELECT * FROM People WHERE nosuch = 1;", DENIED, "Permission to access nosuch attribute denied."),
        ("SELECT * FROM People WHERE account_id = '5';", "INVALID_ID_ATTRIBUTE", "Id specified is incorrect"),
        # What MySQL itself rejects comes back as a database error.
        ("SELECT * FROM People WHERE lastname = Smith;", DB, "Database error while performing required operation"),
        ("SELECT * FROM People ORDER BY nosuch;", DB, "Database error while performing required operation"),
        ("SELECT * FROM People LIMIT -1;", DB, "Database error while performing required operation"),
        # Characters the lexer has no rule for make it throw, which surfaces as an internal error.
        (
            'SELECT * FROM People WHERE lastname = "Smith";',
            "INTERNAL_SERVER_ERROR",
            "Unknown Error while processing request",
        ),
        (
            "SELECT * FROM People WHERE lastname = '';",
            "INTERNAL_SERVER_ERROR",
            "Unknown Error while processing request",
        ),
    ],
)
def test_errors(text, code, message):
    with pytest.raises(VtigerError) as raised:
        run(text)
    assert (raised.value.code, raised.value.message) == (code, message)


def test_parse_tree():
    query = vtql.parse(
        "SELECT a, b FROM M WHERE x = 'it''s' AND y IN (1, '2') OR z LIKE '%q' ORDER BY a, b DESC LIMIT 5, 10;"
    )
    assert query.module == "M"
    assert query.columns == ["a", "b"]
    assert [(c.field, c.operator, [v.text for v in c.values]) for c in query.conditions] == [
        ("x", "=", ["it's"]),
        ("y", "IN", ["1", "2"]),
        ("z", "LIKE", ["%q"]),
    ]
    assert query.connectors == ["AND", "OR"]
    assert (query.order_by, query.descending, query.limit) == (["a", "b"], True, ("5", "10"))
