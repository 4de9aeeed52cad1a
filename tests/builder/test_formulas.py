"""builder.formulas: the grammar, its messages, and values (None for a missing input or ÷ 0)."""

from pathlib import Path

import pytest

from builder import formulas

NAMES = ["won", "created", "won_amount", "won_count", "a", "b"]


@pytest.mark.parametrize(
    "formula",
    [
        "won / created * 100",
        "won_amount / won_count",
        "(a + b) / 2",
        "won ÷ created × 100",
        "a − b",
        "-a + 0.5",
        ".5*a",
    ],
)
def test_good_formulas_have_no_problem(formula):
    assert formulas.check(formula, NAMES) == []


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("", "Write a formula over the inputs"),
        ("   ", "Write a formula over the inputs"),
        ("won / lost", "Unknown input lost: the inputs are won, created, won_amount, won_count, a, b."),
        ("x + y", "Unknown inputs x, y"),
        ("won / ", "The formula ends too early (position 6)"),
        ("won +* 2", "Expected a value or an input name at position 6, not “*”."),
        ("(a + b", "The “(” at position 1 is never closed"),
        ("a + b)", "A “)” at position 6 closes nothing"),
        ("won created", "Expected an operator (+ − × ÷) before “created” at position 5."),
        ("$sum(won)", "“$” at position 1 is not allowed"),
        ("won; 1", "“;” at position 4 is not allowed"),
        ("a ** b", "position 4"),
        ("a % b", "“%” at position 3 is not allowed"),
        ('a & "x"', "“&” at position 3 is not allowed"),
        ("a ? b : 1", "“?” at position 3 is not allowed"),
        ("won.created", "“.” at position 4 is not allowed"),
        ("a" * 501, "at most 500 characters"),
    ],
)
def test_bad_formulas_get_clear_messages(formula, message):
    problems = formulas.check(formula, NAMES)
    assert len(problems) == 1
    assert message in problems[0]
    with pytest.raises(formulas.FormulaError, match=None):
        formulas.compile_formula(formula, NAMES)


def test_unknown_name_without_inputs_says_to_add_one():
    assert formulas.check("won", []) == ["Unknown input won: the inputs are none yet: add an input first."]


def test_values():
    rate = formulas.compile_formula("won / created * 100", ["won", "created"])
    assert rate.jsonata == "$won / $created * 100"
    assert rate.evaluate({"won": 3, "created": 12}) == 25.0
    assert formulas.compile_formula("(a + b) / 2", ["a", "b"]).evaluate({"a": 1, "b": 4}) == 2.5
    assert formulas.compile_formula("a − b × 2", ["a", "b"]).evaluate({"a": 10, "b": 3}) == 4.0
    assert formulas.compile_formula("-(a - b)", ["a", "b"]).evaluate({"a": 1, "b": 4}) == 3.0


@pytest.mark.parametrize(
    "values", [{"won": 3, "created": None}, {"won": None, "created": 2}, {"won": 3}, {"won": 3, "created": 0}]
)
def test_missing_input_or_division_by_zero_is_none(values):
    rate = formulas.compile_formula("won / created * 100", ["won", "created"])
    assert rate.evaluate(values) is None


def test_zero_over_zero_and_infinite_inputs_are_none():
    ratio = formulas.compile_formula("a / (b - b)", ["a", "b"])
    assert ratio.evaluate({"a": 0, "b": 5}) is None
    assert formulas.compile_formula("a * 2", ["a"]).evaluate({"a": float("inf")}) is None
    huge = formulas.compile_formula("a * a", ["a"])
    assert huge.evaluate({"a": 1e300}) is None  # overflows to infinity: no value


def test_an_unused_input_without_value_does_not_matter():
    assert formulas.compile_formula("a * 2", ["a", "b"]).evaluate({"a": 2, "b": None}) == 4.0


def test_compiled_once_per_formula():
    formulas._compiled.cache_clear()
    rate = formulas.compile_formula("won / created", ["won", "created"])
    for won in range(50):
        rate.evaluate({"won": won, "created": 7})
    again = formulas.compile_formula("won / created", ["won", "created"])
    again.evaluate({"won": 1, "created": 2})
    info = formulas._compiled.cache_info()
    assert (info.misses, info.hits) == (1, 50)


def test_no_eval_path(monkeypatch):
    """Values come from JSONata, never from eval or exec (formulas.py calls neither)."""
    import re

    import jsonata

    calls = []
    real = jsonata.Jsonata.evaluate

    def counted(self, *args, **kwargs):
        calls.append(self)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(jsonata.Jsonata, "evaluate", counted)
    assert formulas.compile_formula("(a + b) / 2", ["a", "b"]).evaluate({"a": 1, "b": 3}) == 2.0
    assert len(calls) == 1
    source = Path(formulas.__file__).read_text()
    assert not re.search(r"(?<![.\w])(eval|exec)\s*\(", source)


def test_jsonata_only_sees_checked_tokens():
    # Names become $variables, operators ASCII, nothing else passes through.
    assert formulas.to_jsonata("won÷(created−1)×100", ["won", "created"]) == "$won / ( $created - 1 ) * 100"


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("won", True),
        ("won_amount", True),
        ("_x1", True),
        ("1x", False),
        ("won amount", False),
        ("", False),
        ("a" * 41, False),
    ],
)
def test_input_names(name, ok):
    assert (formulas.check_name(name) is None) == ok


def test_suggested_names():
    assert formulas.suggest_name("Deals won (amount)") == "deals_won_amount"
    assert formulas.suggest_name("Deals won", ["deals_won"]) == "deals_won_2"
    assert formulas.suggest_name("2026 leads") == "m_2026_leads"
    assert formulas.suggest_name("€€€") == "input"
