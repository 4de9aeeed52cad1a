import time
from datetime import UTC, datetime

import pytest
import time_machine
from jsonata.jexception import JException

from builder.datapoints import summarise
from builder.dates import find_records, parse
from builder.jsonata_eval import evaluate_in_process
from builder.transform import (
    Datapoint,
    ExpressionError,
    ShapeError,
    compile_expression,
    evaluate,
    evaluate_summary,
    input_size,
    numeric_fields,
    suggest_expression,
    to_datapoints,
    to_number,
)
from tests.recordings import recorded as fixture


@pytest.fixture
def potentials():
    return fixture("query_Potentials.json")


# ---------------------------------------------------------------- compiling


def test_compile_is_cached_by_text():
    assert compile_expression("$count(result)") is compile_expression("$count(result)")


def test_syntax_error_has_code_message_and_position():
    with pytest.raises(ExpressionError) as caught:
        compile_expression("result[")
    error = caught.value
    assert error.code == "S0203"
    assert error.message == "The expression ends too early: a ] is missing."  # builder.explain's words
    assert error.raw_message == "Expected ] before end of expression"
    assert error.position == 7
    assert str(error) == "S0203: The expression ends too early: a ] is missing. (at character 7)"


@pytest.mark.parametrize(
    ("text", "code"),
    [("", "S0207"), ("result.{", "S0203"), ('"open', "S0101"), ("1 +", "S0207"), ("$sum(", "S0203")],
)
def test_other_syntax_errors(text, code):
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text)
    assert caught.value.code == code
    assert caught.value.message


def test_too_long_expression_is_refused():
    with pytest.raises(ExpressionError) as caught:
        compile_expression("1+" * 6000 + "1")
    assert caught.value.code == "TOO_LONG"


# ---------------------------------------------------------------- evaluating


def test_evaluate_the_product_example(potentials):
    result = evaluate('result.{"date": closingdate, "value": $number(amount)}', potentials)
    assert len(result) == 15
    assert result[0] == {"date": "2026-06-30", "value": 185000}


def test_evaluate_accepts_a_compiled_expression(potentials):
    assert evaluate(compile_expression("$count(result)"), potentials) == 15


def test_runtime_error_from_jsonata_keeps_its_code_and_position():
    with pytest.raises(ExpressionError) as caught:
        evaluate('"a" + 1', {})
    assert caught.value.code == "T2001"
    assert "left side of the + operator" in caught.value.raw_message
    assert caught.value.message == "The left side of + must be a number, but it is not."
    with pytest.raises(ExpressionError) as caught:
        evaluate("$nosuch(1)", {})
    assert (caught.value.code, caught.value.position) == ("T1006", 8)


def test_python_errors_from_builtins_are_expression_errors():
    with pytest.raises(ExpressionError) as caught:
        evaluate('$number("abc")', {})
    assert caught.value.code == "ValueError"
    assert caught.value.raw_message == "could not convert string to float: 'abc'"
    assert caught.value.message == "$number cannot read 'abc' as a number: it is not written with digits only."
    assert caught.value.position is None
    with pytest.raises(ExpressionError) as caught:
        evaluate("1/0", {})
    assert caught.value.code == "ZeroDivisionError"


@pytest.mark.parametrize(
    "text",
    [
        "(function($f){ $f($f) })(function($g){ $g($g) })",
        "($loop := function($n){ $loop($n + 1) }; $loop(0))",
        "($fib := function($n){ $n < 2 ? $n : $fib($n - 1) + $fib($n - 2) }; $fib(40))",
    ],
)
def test_a_runaway_expression_is_stopped(text):
    # Stopped by jsonata's own step check or, should the machine be slow, by the box's kill: the same words.
    with pytest.raises(ExpressionError) as caught:
        evaluate(text, {}, timeout_ms=500)
    assert caught.value.code == "D1012"
    assert caught.value.message == "The expression took too long (over 500 ms) and was stopped."


def test_deep_recursion_is_stopped_by_the_depth_limit():
    # A generous time limit, so that the depth limit decides even on a loaded machine.
    with pytest.raises(ExpressionError) as caught:
        evaluate("($f := function($n){ $n + $f($n + 1) }; $f(0))", {}, max_depth=200, timeout_ms=60_000)
    assert caught.value.code == "D1011"


def test_python_stack_overflow_is_reported_as_d1011():
    with pytest.raises(ExpressionError) as caught:
        evaluate("($f := function($n){ $n + $f($n + 1) }; $f(0))", {}, max_depth=100_000)
    assert caught.value.code == "D1011"
    assert caught.value.message.startswith("Stack overflow: a function keeps calling itself")


def test_now_is_the_time_of_each_evaluation():
    # The worker process has its own clock, out of time-machine's reach: the caller's time is sent along.
    now = compile_expression("$now()")
    with time_machine.travel(datetime(2026, 3, 8, 10, tzinfo=UTC), tick=False):
        assert evaluate(now, {}) == "2026-03-08T10:00:00.000Z"
    compile_expression("$millis() + 1")  # constructing another expression made it the thread's "current" one
    with time_machine.travel(datetime(2026, 11, 1, 6, 30, tzinfo=UTC), tick=False):
        assert evaluate(now, {}) == "2026-11-01T06:30:00.000Z"
        assert evaluate("$millis()", {}) == 1793514600000
        assert evaluate("[$now(), $millis()]", {}) == ["2026-11-01T06:30:00.000Z", 1793514600000]


def test_now_in_process_is_the_time_given():
    # The worker's own path: a cached expression, evaluated again later, tells the later time.
    now = compile_expression("$now()")
    assert evaluate_in_process(now, {}, now_ms=1772964000000) == "2026-03-08T10:00:00.000Z"
    compile_expression("$millis() + 2")
    assert evaluate_in_process(now, {}, now_ms=1793514600000) == "2026-11-01T06:30:00.000Z"
    with time_machine.travel(datetime(2026, 5, 1, tzinfo=UTC), tick=False):
        assert evaluate_in_process(now, {}) == "2026-05-01T00:00:00.000Z"


def test_too_large_input_is_refused_with_a_clear_message():
    data = {"result": [{"amount": "1.00000000"}] * 1000}
    with pytest.raises(ExpressionError) as caught:
        evaluate("$count(result)", data, max_input_bytes=1000)
    assert caught.value.code == "INPUT_TOO_LARGE"
    assert f"({input_size(data):,} bytes; the limit is 1,000)" in caught.value.message
    assert "Narrow the request" in caught.value.message
    assert evaluate("$count(result)", data, max_input_bytes=None) == 1000
    # A size the caller already knows is trusted and saves measuring.
    assert evaluate("$count(result)", data, max_input_bytes=1000, input_bytes=999) == 1000
    with pytest.raises(ExpressionError):
        evaluate("$count(result)", {}, max_input_bytes=1000, input_bytes=1001)


def test_input_size_counts_utf8_bytes():
    assert input_size({"a": "é"}) == len('{"a":"é"}'.encode())


def test_performance_sanity_for_5000_records():
    records = [
        {"amount": f"{i}.00000000", "closingdate": "2026-06-30", "sales_stage": "Closed Won" if i % 3 else "Lost"}
        for i in range(5000)
    ]
    data = {"success": True, "result": records}
    for text in (
        'result.{"date": closingdate, "value": $number(amount)}',
        'result[sales_stage = "Closed Won"].{"date": closingdate, "value": $number(amount)}',
        "$sum(result.$number(amount))",
        "$count(result)",
    ):
        started = time.perf_counter()
        result = evaluate(text, data, timeout_ms=10_000)
        points = to_datapoints(result, "field" if "date" in text else "none")
        print(f"5,000 records: {text!r}: {len(points)} datapoints in {(time.perf_counter() - started) * 1000:.0f} ms")
        assert points


# ---------------------------------------------------------------- the shape contract


ACCEPTED = [
    (12, "none", [Datapoint(12.0, None, None)]),
    (12.5, "dynamic", [Datapoint(12.5, None, None)]),
    ("25", "none", [Datapoint(25.0, None, None)]),
    ("12.50000000", "dynamic", [Datapoint(12.5, None, None)]),
    (None, "field", []),
    ([], "field", []),
    (
        [{"value": "185000.00000000", "date": "2026-06-30"}, {"value": -3, "date": 1782828309}],
        "field",
        [Datapoint(185000.0, "2026-06-30", None), Datapoint(-3.0, 1782828309, None)],
    ),
    ({"value": 4, "date": "2026-06-30"}, "field", [Datapoint(4.0, "2026-06-30", None)]),
    (
        [
            {"value": 2, "dimension": "Web Site"},
            {"value": "1e3", "dimension": 2026},
            {"value": 1, "dimension": 2.5},
        ],
        "none",
        [Datapoint(2.0, None, "Web Site"), Datapoint(1000.0, None, "2026"), Datapoint(1.0, None, "2.5")],
    ),
    ([{"value": 1, "date": None, "dimension": None}], "dynamic", [Datapoint(1.0, None, None)]),
]


@pytest.mark.parametrize(("result", "mode", "expected"), ACCEPTED)
def test_to_datapoints_accepts_the_contract(result, mode, expected):
    assert to_datapoints(result, mode) == expected


REFUSED = [
    ("abc", "none", 'It returned "abc".'),
    (True, "none", "It returned true."),
    ({"total": 5}, "none", 'Item 0 has no "value": {"total": 5}.'),
    ([1, 2, 3], "none", "Item 0 is 1, not an object. Map each record to"),
    ([[{"value": 1}]], "none", 'Item 0 is [{"value": 1}], not an object.'),
    ([{"value": 1}, {"value": "abc"}], "none", 'Item 1: "value" is "abc", which is not a number.'),
    ([{"value": 1}, {"value": 2}, {"value": ""}], "none", 'Item 2: "value" is "", which is not a number.'),
    ([{"value": None}], "none", 'Item 0: "value" is null, which is not a number.'),
    ([{"value": True}], "none", 'Item 0: "value" is true, which is not a number.'),
    ([{"value": "1,234.50"}], "none", 'Item 0: "value" is "1,234.50", which is not a number.'),
    ([{"value": "NaN"}], "none", "which is not a number"),
    ([{"value": 1, "date": "2026-06-30"}, {"value": 2}], "field", 'Item 1 has no "date": {"value": 2}.'),
    ([{"value": 1, "date": ""}], "field", 'Item 0 has no "date"'),
    (7, "field", "The expression returned one number (7), but the date comes from a field"),
    ([{"value": 1, "dimention": "x"}], "none", 'Item 0 has "dimention"; an item may only have'),
    ([{"value": 1, "date": {"y": 2026}}], "field", 'Item 0: "date" is {"y": 2026}; it must be a string'),
    ([{"value": 1, "dimension": ["a"]}], "none", 'Item 0: "dimension" is ["a"]; it must be a string'),
]


@pytest.mark.parametrize(("result", "mode", "message"), REFUSED)
def test_to_datapoints_explains_what_is_wrong(result, mode, message):
    with pytest.raises(ShapeError) as caught:
        to_datapoints(result, mode)
    assert message in str(caught.value)


def test_shape_error_repr_is_short():
    with pytest.raises(ShapeError) as caught:
        to_datapoints("x" * 500, "none")
    assert len(str(caught.value)) < 300
    assert str(caught.value).endswith("….")


def test_a_function_result_is_a_shape_error():
    with pytest.raises(ShapeError, match='It returned "<function>"'):
        to_datapoints(evaluate("function($x){ $x }", {}), "none")


def test_to_datapoints_limits_and_modes():
    with pytest.raises(ShapeError, match="returned 11 items; the limit is 10"):
        to_datapoints([{"value": 1}] * 11, "none", max_items=10)
    with pytest.raises(ValueError, match="Unknown date mode 'daily'"):
        to_datapoints(1, "daily")


# The live editor's path: the box's worker checks the shape (``summarise``) and answers a summary.


@pytest.mark.parametrize(("result", "mode", "expected"), ACCEPTED)
def test_the_summary_holds_the_datapoints_to_datapoints_gives(result, mode, expected):
    summary = summarise(result, mode, rows=2)
    assert "shape_error" not in summary
    assert [Datapoint(*point) for point in summary["points"]] == expected[:2]
    assert (summary["count"], summary["total"]) == (len(expected), sum(point.value for point in expected))
    assert summary["head"] == (result[:2] if isinstance(result, list) else result)
    assert summary["length"] == (len(result) if isinstance(result, list) else None)


@pytest.mark.parametrize(("result", "mode", "message"), REFUSED)
def test_the_summary_says_what_to_datapoints_says(result, mode, message):
    with pytest.raises(ShapeError) as caught:
        to_datapoints(result, mode)
    summary = summarise(result, mode, rows=100)
    assert summary["shape_error"] == str(caught.value)
    assert message in summary["shape_error"]
    assert "points" not in summary and "count" not in summary


def test_the_summary_checks_every_item_but_holds_the_first_rows_only():
    result = [{"value": n, "date": f"2026-06-{n % 28 + 1:02d}", "dimension": n} for n in range(250)]
    summary = summarise(result, "field", rows=100)
    assert (summary["head"], summary["length"]) == (result[:100], 250)
    assert summary["points"] == [[float(n), f"2026-06-{n % 28 + 1:02d}", str(n)] for n in range(100)]
    assert (summary["count"], summary["total"]) == (250, float(sum(range(250))))
    late = [*result[:200], {"value": 1, "date": "2026-06-30", "colour": "red"}]
    assert summarise(late, "field", rows=100)["shape_error"].startswith('Item 200 has "colour"')
    assert summarise([{"value": 1}] * 11, "none", rows=5, max_items=10)["shape_error"] == (
        "The expression returned 11 items; the limit is 10."
    )


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        ('result.{"date": closingdate, "value": $number(amount), "dimension": sales_stage}', "field"),
        ('result.{"value": $number(amount)}', "dynamic"),
        ("$sum(result.$number(amount))", "none"),
        ('result[0].{"value": $number(amount)}', "none"),  # a lone object
        ('result[amount = "none"].{"value": 1}', "none"),  # nothing matched
        ("result.amount", "none"),  # not objects
        ('result.{"value": $number(amount)}', "field"),  # no dates
        ('result.{"value": $number(amount), "stage": sales_stage}', "none"),  # an unknown key
        ("function($x){ $x }", "none"),  # a function
    ],
)
def test_evaluate_summary_in_the_box_agrees_with_evaluate_and_to_datapoints(potentials, text, mode):
    result = evaluate(text, potentials)
    summary = evaluate_summary(text, potentials, mode, rows=3)
    shown = result[:3] if isinstance(result, list) and len(result) > 3 else result
    assert (summary.head, summary.length) == (shown, len(result) if isinstance(result, list) else None)
    try:
        points = to_datapoints(result, mode)
    except ShapeError as exc:
        assert summary.shape_error == str(exc)
        assert (summary.points, summary.count, summary.total) == ([], 0, 0)
    else:
        assert summary.shape_error is None
        assert summary.points == points[:3]
        assert (summary.count, summary.total) == (len(points), sum(point.value for point in points))


def test_evaluate_summary_raises_what_evaluate_raises(potentials):
    with pytest.raises(ExpressionError) as caught:
        evaluate_summary("$sum(result.amount)", potentials, "none", rows=3)
    with pytest.raises(ExpressionError) as plain:
        evaluate("$sum(result.amount)", potentials)
    assert (caught.value.code, caught.value.message, caught.value.fix) == (
        plain.value.code,
        plain.value.message,
        plain.value.fix,
    )
    with pytest.raises(ValueError, match="Unknown date mode 'daily'"):
        evaluate_summary("1", {}, "daily", rows=3)


def test_the_bounds_in_process_raise_what_jsonatas_own_raise():
    # builder.jsonata_eval checks jsonata's bounds more cheaply than jsonata's Timebox: the same errors.
    text = "($f := function($n){ $n + $f($n + 1) }; $f(0))"
    frame = compile_expression(text).create_frame()
    frame.set_runtime_bounds(60_000, 50)
    with pytest.raises(JException) as theirs:
        compile_expression(text).evaluate({}, frame)
    with pytest.raises(ExpressionError) as ours:
        evaluate_in_process(compile_expression(text), {}, timeout_ms=60_000, max_depth=50)
    assert (ours.value.code, ours.value.message, ours.value.position) == (
        "D1011",
        str(theirs.value),
        theirs.value.location,
    )
    with pytest.raises(ExpressionError) as caught:
        evaluate_in_process(compile_expression("($loop := function($n){ $loop($n + 1) }; $loop(0))"), {}, 200)
    assert (caught.value.code, caught.value.message) == (
        "D1012",
        "The expression took too long (over 200 ms) and was stopped.",
    )


def test_to_number_of_json_numbers():
    # Ints and floats take a shorter path than strings; bools, NaN and infinities stay out of it.
    assert [to_number(value) for value in (0, -7, 10**20, 2.5, -0.0, 1e308)] == [0.0, -7.0, 1e20, 2.5, -0.0, 1e308]
    assert all(type(to_number(value)) is float for value in (0, 10**20, 2.5))
    for bad in (False, True, float("nan"), float("-inf")):
        assert to_number(bad) is None, bad


def test_to_number():
    assert to_number("185000.00000000") == 185000.0
    assert to_number(" -246.000 ") == -246.0
    assert to_number(".5") == 0.5
    assert to_number(3) == 3.0
    for bad in ("", "abc", "1_000", "inf", "nan", "0x10", True, None, [1], float("inf")):
        assert to_number(bad) is None, bad


# ---------------------------------------------------------------- suggestions


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        (("result", "amount", "closingdate"), {}, 'result.{"date": closingdate, "value": $number(amount)}'),
        (("result", None, "createdtime"), {}, 'result.{"date": createdtime, "value": 1}'),
        (("result",), {}, "$count(result)"),
        (("result", "amount"), {}, "$sum(result.$number(amount))"),
        (("result", "amount"), {"aggregate": "average"}, "$average(result.$number(amount))"),
        (("result", "amount"), {"aggregate": "max"}, "$max(result.$number(amount))"),
        (("result", "amount"), {"aggregate": "count"}, "$count(result)"),
        (("", "price"), {}, "$sum($.$number(price))"),
        ((None,), {}, "$count($)"),
        (
            ("data.items", "stats.total", "meta.created_at"),
            {},
            'data.items.{"date": meta.created_at, "value": $number(stats.total)}',
        ),
        (
            ("result", None, None),
            {"dimension_field": "leadsource"},
            'result.{"value": 1, "dimension": leadsource}',
        ),
        (
            ("result", "hdnGrandTotal", "invoicedate"),
            {"dimension_field": "shipping_&_handling"},
            'result.{"date": invoicedate, "value": $number(hdnGrandTotal), "dimension": `shipping_&_handling`}',
        ),
        (("result", "in"), {}, "$sum(result.$number(`in`))"),
    ],
)
def test_suggest_expression(args, kwargs, expected):
    assert suggest_expression(*args, **kwargs) == expected


def test_suggest_expression_errors():
    with pytest.raises(ValueError, match="Unknown aggregate 'latest'"):
        suggest_expression("result", "amount", aggregate="latest")
    with pytest.raises(ValueError, match="sum needs a value field"):
        suggest_expression("result", aggregate="sum")
    with pytest.raises(ValueError, match="cannot be written as a JSONata path"):
        suggest_expression("result", "we`ird")


def test_suggestions_run_on_the_fixtures_and_meet_the_contract(potentials):
    path, records = find_records(potentials)
    field_mode = suggest_expression(path, "amount", "closingdate")
    points = to_datapoints(evaluate(field_mode, potentials), "field")
    assert len(points) == 15
    assert sum(point.value for point in points) == sum(float(r["amount"]) for r in records)
    assert all(parse(point.date, "YYYY-MM-DD") for point in points)

    assert to_datapoints(evaluate(suggest_expression(path), potentials), "none") == [Datapoint(15.0, None, None)]
    total = to_datapoints(evaluate(suggest_expression(path, "amount"), potentials), "none")
    assert total == [Datapoint(sum(float(r["amount"]) for r in records), None, None)]

    by_source = to_datapoints(evaluate(suggest_expression(path, dimension_field="leadsource"), potentials), "dynamic")
    assert {point.dimension for point in by_source} >= {"Trade Show"}


def test_vtiger_count_result_is_one_value():
    count = fixture("query_count_leads.json")
    assert to_datapoints(evaluate("result[0].count", count), "none") == [Datapoint(25.0, None, None)]


def test_one_matching_record_still_gives_one_datapoint(potentials):
    # JSONata returns a lone object, not a one-item array, when one record matches.
    result = evaluate('result[potential_no = "POT1"].{"date": closingdate, "value": $number(amount)}', potentials)
    assert isinstance(result, dict)
    assert to_datapoints(result, "field") == [Datapoint(185000.0, "2026-06-30", None)]


def test_no_matching_records_gives_no_datapoints(potentials):
    result = evaluate('result[sales_stage = "Nope"].{"date": closingdate, "value": $number(amount)}', potentials)
    assert result is None
    assert to_datapoints(result, "field") == []


# ---------------------------------------------------------------- numeric fields


def test_numeric_fields_of_vtiger_potentials(potentials):
    fields = numeric_fields(potentials["result"])
    assert fields[:3] == ["amount", "probability", "forecast_amount"]
    assert set(fields[3:]) == {"isconvertedfromlead", "starred"}  # "0"/"1" booleans come last
    assert "potentialname" not in fields and "closingdate" not in fields and "id" not in fields


def test_numeric_fields_order_and_empty_values():
    records = [
        {"count": 3, "price": "9.99", "flag": "1", "zip": "", "name": "x", "mixed": "5"},
        {"count": 4, "price": "19.50", "flag": "0", "zip": "20457", "name": "y", "mixed": "n/a"},
    ]
    assert numeric_fields(records) == ["price", "count", "zip", "flag"]
    assert numeric_fields([]) == []
