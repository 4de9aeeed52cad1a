import uuid
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest
from django.template.loader import render_to_string

from builder.keyvalue import (
    MAX_ROWS,
    Row,
    RowError,
    add_row,
    drop_empty,
    from_pairs,
    parse_rows,
    pressed,
    remove_row,
    to_pairs,
    validate,
)

QUERY = "SELECT * FROM Leads WHERE createdtime >= '{{start}}';"


class _FormFields(HTMLParser):
    """The names and values a browser would post from rendered form fields (inputs and textareas)."""

    def __init__(self):
        super().__init__()
        self.data: dict[str, str] = {}
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("name"):
            self.data[attrs["name"]] = attrs.get("value") or ""
        elif tag == "textarea":
            self._textarea = attrs.get("name")
            self.data[self._textarea] = ""

    def handle_data(self, data):
        if self._textarea is not None:
            self.data[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None


def _rendered_form_data(rows, kind):
    """The rows as the Prepare API Request step renders them (``_rows.html``), read back as form data."""
    html = render_to_string(
        "builder/wizard/_rows.html",
        {"kind": kind, "rows": list(enumerate(rows)), "errors": {}, "draft": SimpleNamespace(uuid=uuid.uuid4())},
    )
    fields = _FormFields()
    fields.feed(html)
    return fields.data


def test_parse_rows_with_a_total_count():
    data = {
        "params-TOTAL_FORMS": "3",
        "params-0-key": "query",
        "params-0-value": QUERY,
        "params-1-key": "",
        "params-1-value": "",
        "params-2-key": " tag ",
        "params-2-value": " a ",
        "params-3-key": "beyond the count",
    }
    assert parse_rows(data, "params") == [Row("query", QUERY), Row(), Row("tag", "a")]


def test_parse_rows_without_a_count_reads_up_to_the_highest_index():
    data = {"headers-0-key": "Accept", "headers-2-value": "x", "other-5-key": "ignored"}
    assert parse_rows(data, "headers") == [Row("Accept", ""), Row(), Row("", "x")]
    assert parse_rows({}, "headers") == []


def test_parse_rows_reads_querydict_style_lists_and_caps_the_count():
    data = {"params-TOTAL_FORMS": ["1"], "params-0-key": ["a", "b"], "params-0-value": []}
    assert parse_rows(data) == [Row("b", "")]
    assert len(parse_rows({"params-TOTAL_FORMS": "100000"})) == MAX_ROWS
    assert parse_rows({"params-TOTAL_FORMS": "-1", "params-0-key": "a"}) == [Row("a", "")]


def test_pressed_buttons():
    assert pressed({"params-add": ""}) == ("add", None)
    assert pressed({"params-remove": "2"}) == ("remove", 2)
    assert pressed({"params-remove": "x"}) is None
    assert pressed({"headers-add": ""}, "params") is None
    assert pressed({}) is None


def test_add_and_remove_rows():
    rows = [Row("a", "1"), Row("b", "2")]
    assert add_row(rows) == [Row("a", "1"), Row("b", "2"), Row()]
    assert remove_row(rows, 0) == [Row("b", "2")]
    assert remove_row(rows, 1) == [Row("a", "1")]
    assert remove_row(rows, 7) == rows  # a stale page
    assert remove_row([Row("a")], 0) == []
    assert rows == [Row("a", "1"), Row("b", "2")]  # the input is left alone
    assert len(add_row([Row()] * MAX_ROWS)) == MAX_ROWS


def test_drop_empty_and_pairs():
    rows = [Row(), Row("query", QUERY), Row("", ""), Row("debug", ""), Row("tag", "a"), Row("tag", "b")]
    assert drop_empty(rows) == [Row("query", QUERY), Row("debug", ""), Row("tag", "a"), Row("tag", "b")]
    assert to_pairs(rows) == [("query", QUERY), ("debug", ""), ("tag", "a"), ("tag", "b")]


def test_pairs_round_trip_through_form_data():
    pairs = [["query", QUERY], ["elementType", "Leads"]]
    rows = from_pairs(pairs)
    assert rows == [Row("query", QUERY), Row("elementType", "Leads")]
    data = _rendered_form_data(rows, "params")
    assert data["params-TOTAL_FORMS"] == "2"
    assert parse_rows(data, "params") == rows
    assert to_pairs(parse_rows(data, "params")) == [tuple(pair) for pair in pairs]


def test_valid_params_including_duplicate_keys():
    rows = [Row("query", QUERY), Row(), Row("tag", "a"), Row("tag", "b"), Row("flag", "")]
    assert validate(rows, "params") == []


def test_a_value_needs_a_key():
    rows = [Row("a", "1"), Row("", "orphan")]
    assert validate(rows) == [RowError(1, "key", "Row 2: a value needs a key.")]
    assert validate(rows, "headers") == [RowError(1, "key", "Row 2: a value needs a key.")]


def test_valid_headers():
    rows = [Row("Accept", "application/json"), Row("X-Api-Key", "{{start:unix}}"), Row("x_custom.v2", "1")]
    assert validate(rows, "headers") == []


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([Row("Bad Header", "x")], [RowError(0, "key", "Row 1: 'Bad Header' is not a valid header name")]),
        ([Row("X-A:", "x")], [RowError(0, "key", "Row 1: 'X-A:' is not a valid header name")]),
        (
            [Row("Accept", "a\r\nX-Evil: 1")],
            [RowError(0, "value", "Row 1: a header value cannot contain line breaks.")],
        ),
        (
            [Row("Accept", "a"), Row(), Row("accept", "b")],
            [RowError(2, "key", "Row 3: the header accept is already set in row 1.")],
        ),
    ],
)
def test_header_mistakes(rows, expected):
    errors = validate(rows, "headers")
    assert [(e.index, e.field) for e in errors] == [(e.index, e.field) for e in expected]
    for error, wanted in zip(errors, expected, strict=True):
        assert error.message.startswith(wanted.message)


def test_params_may_hold_what_headers_may_not():
    rows = [Row("Bad Header", "x"), Row("bad header", "a\nb")]
    assert validate(rows, "params") == []


def test_too_many_rows_and_unknown_kind():
    errors = validate([Row("a", "1")] * (MAX_ROWS + 1))
    assert errors == [RowError(MAX_ROWS, "key", f"At most {MAX_ROWS} rows are allowed.")]
    with pytest.raises(ValueError, match="kind must be one of params, headers"):
        validate([], "cookies")
