"""Formulas of calculated metrics: arithmetic over named inputs, checked here, evaluated by JSONata.

    problems = check("won / created * 100", ["won", "created"])   # [] when the formula is fine
    formula = compile_formula("won / created * 100", ["won", "created"])   # FormulaError if not
    formula.evaluate({"won": 3, "created": 12})                    # 25.0
    formula.evaluate({"won": 3, "created": None})                  # None: an input without a value
    formula.evaluate({"won": 3, "created": 0})                     # None: a division by zero

The grammar is small on purpose: input names, numbers (``12``, ``0.5``), ``+``, ``-`` (or
``−``), ``*`` (or ``×``), ``/`` (or ``÷``), parentheses and spaces. Everything else is refused
with a message saying what and where (the position is 1-based, as an editor counts). Only a
formula that passed the check reaches JSONata, rewritten from its own tokens (names become
variables: ``$won / $created * 100``), so no text of the user's reaches JSONata unchecked and
the expression can hold no function, path or loop. It is compiled once per formula text
(``lru_cache``) and evaluated once per bucket with the inputs bound as variables. Never ``eval``.

A bucket where an input has no value, or where the formula divides by zero, has no value (None),
never 0 or infinity: JSONata raises on a division by zero (or gives infinity), and both become None.

Pure module: no Django, no models.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import jsonata

MAX_INPUTS = 5
MAX_LENGTH = 500
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
NAME_MAX_LENGTH = 40
NAME_RULES = "a letter or _ first, then letters, digits or _ (no spaces), e.g. won or won_amount"

# What the analyst may type for each operator, and the one JSONata reads.
OPERATORS = {"+": "+", "-": "-", "−": "-", "*": "*", "×": "*", "/": "/", "÷": "/"}
_TOKEN_RE = re.compile(r"\s*(?:(?P<number>\d+(?:\.\d+)?|\.\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>[-+*/()−×÷]))")


class FormulaError(ValueError):
    """A formula that cannot be used; ``problems`` lists every message (``str`` is the first)."""

    def __init__(self, problems: list[str]):
        super().__init__(problems[0])
        self.problems = problems


@dataclass(frozen=True)
class Token:
    kind: str  # "number", "name", "op", "end"
    text: str  # as JSONata reads it ("*" for "×")
    position: int  # 1-based character position in the formula


def check_name(name: str) -> str | None:
    """The problem with an input's variable name, or None."""
    if not name:
        return "Give the input a name to use in the formula."
    if len(name) > NAME_MAX_LENGTH:
        return f"An input name has at most {NAME_MAX_LENGTH} characters."
    if not NAME_RE.match(name):
        return f"“{name}” cannot name an input: use {NAME_RULES}."
    return None


def suggest_name(metric_name: str, taken: Iterable[str] = ()) -> str:
    """A variable name from a metric's name: "Deals won (amount)" -> ``deals_won_amount``; unique among ``taken``."""
    base = re.sub(r"[^a-z0-9]+", "_", metric_name.lower()).strip("_")[:NAME_MAX_LENGTH] or "input"
    if base[0].isdigit():
        base = f"m_{base}"[:NAME_MAX_LENGTH]
    taken = set(taken)
    name, number = base, 2
    while name in taken:
        suffix = f"_{number}"
        name = base[: NAME_MAX_LENGTH - len(suffix)] + suffix
        number += 1
    return name


def tokens(formula: str) -> list[Token]:
    """The formula's tokens; FormulaError at the first character that is none of the grammar's."""
    result: list[Token] = []
    position = 0
    length = len(formula)
    while position < length:
        if formula[position:].strip() == "":
            break
        match = _TOKEN_RE.match(formula, position)
        if match is None:
            offset = position + (len(formula[position:]) - len(formula[position:].lstrip()))
            char = formula[offset]
            raise FormulaError(
                [
                    f"“{char}” at position {offset + 1} is not allowed: a formula has only input names, numbers, "
                    "+ − × ÷ (or + - * /), parentheses and spaces."
                ]
            )
        kind = match.lastgroup
        text = match.group(kind)
        start = match.start(kind) + 1
        result.append(Token(kind, OPERATORS.get(text, text) if kind == "op" else text, start))
        position = match.end()
    result.append(Token("end", "", len(formula.rstrip()) + 1))
    return result


class _Parser:
    """Recursive descent over the tokens: expression := term (("+"|"-") term)*;
    term := factor (("*"|"/") factor)*; factor := ("-"|"+") factor | number | name | "(" expression ")"."""

    def __init__(self, items: list[Token], names: set[str]):
        self.items = items
        self.index = 0
        self.names = names
        self.unknown: list[str] = []
        self.used: list[str] = []

    @property
    def current(self) -> Token:
        return self.items[self.index]

    def fail(self, message: str):
        raise FormulaError([message])

    def parse(self) -> None:
        self.expression()
        if self.current.kind != "end":
            token = self.current
            if token.text == ")":
                self.fail(f"A “)” at position {token.position} closes nothing: remove it or add a “(” before.")
            self.fail(f"Expected an operator (+ − × ÷) before “{token.text}” at position {token.position}.")

    def expression(self) -> None:
        self.term()
        while self.current.kind == "op" and self.current.text in "+-":
            self.index += 1
            self.term()

    def term(self) -> None:
        self.factor()
        while self.current.kind == "op" and self.current.text in "*/":
            self.index += 1
            self.factor()

    def factor(self) -> None:
        token = self.current
        if token.kind == "op" and token.text in "+-":
            self.index += 1
            self.factor()
            return
        if token.kind == "number":
            self.index += 1
            return
        if token.kind == "name":
            if token.text not in self.names and token.text not in self.unknown:
                self.unknown.append(token.text)
            if token.text not in self.used:
                self.used.append(token.text)
            self.index += 1
            return
        if token.text == "(":
            opened = token
            self.index += 1
            self.expression()
            if self.current.text != ")":
                self.fail(f"The “(” at position {opened.position} is never closed: add a “)”.")
            self.index += 1
            return
        if token.kind == "end":
            self.fail(f"The formula ends too early (position {token.position}): a value or an input name is missing.")
        self.fail(f"Expected a value or an input name at position {token.position}, not “{token.text}”.")


def _names_text(names: Iterable[str]) -> str:
    names = list(names)
    return ", ".join(names) if names else "none yet: add an input first"


def _parse(formula: str, names: Iterable[str]) -> tuple[list[Token], list[str]]:
    """(tokens, problems) of a formula over ``names``."""
    names = list(names)
    if not isinstance(formula, str) or not formula.strip():
        return [], ["Write a formula over the inputs, e.g. won / created * 100."]
    if len(formula) > MAX_LENGTH:
        return [], [f"A formula has at most {MAX_LENGTH} characters (this has {len(formula)})."]
    try:
        items = tokens(formula)
        parser = _Parser(items, set(names))
        parser.parse()
    except FormulaError as exc:
        return [], exc.problems
    if parser.unknown:
        unknown = ", ".join(parser.unknown)
        word = "input" if len(parser.unknown) == 1 else "inputs"
        return [], [f"Unknown {word} {unknown}: the inputs are {_names_text(names)}."]
    return items, []


def check(formula: str, names: Iterable[str]) -> list[str]:
    """Every problem of ``formula`` over the input ``names`` (empty when it can be used)."""
    return _parse(formula, names)[1]


def used_names(formula: str) -> list[str]:
    """The input names a (valid) formula uses, in order of first use."""
    return list(dict.fromkeys(token.text for token in tokens(formula) if token.kind == "name"))


def to_jsonata(formula: str, names: Iterable[str]) -> str:
    """The JSONata text of a checked formula: names as variables, operators in ASCII."""
    items, problems = _parse(formula, names)
    if problems:
        raise FormulaError(problems)
    parts = []
    for token in items[:-1]:
        parts.append(f"${token.text}" if token.kind == "name" else token.text)
    return " ".join(parts)


@lru_cache(maxsize=512)
def _compiled(text: str) -> jsonata.Jsonata:
    return jsonata.Jsonata(text)


@dataclass(frozen=True)
class Formula:
    text: str  # as the analyst wrote it
    jsonata: str  # what JSONata evaluates
    names: tuple[str, ...]  # the input names it may use
    used: tuple[str, ...]  # the input names it uses

    def evaluate(self, values: Mapping[str, float | int | None]) -> float | None:
        """The formula's value for one bucket; None when a used input has no value or on ÷ 0."""
        expression = _compiled(self.jsonata)
        frame = expression.create_frame()
        for name in self.names:
            value = values.get(name)
            if value is None or (isinstance(value, float) and not math.isfinite(value)):
                if name in self.used:
                    return None
                continue
            frame.bind(name, float(value))
        try:
            result = expression.evaluate(None, frame)
        except Exception:  # noqa: BLE001  jsonata's errors, ZeroDivisionError, OverflowError: no value
            return None
        if isinstance(result, bool) or not isinstance(result, int | float):
            return None
        result = float(result)
        return result if math.isfinite(result) else None


def compile_formula(formula: str, names: Iterable[str]) -> Formula:
    """A checked formula, ready to evaluate many buckets; FormulaError with every problem otherwise."""
    return _formula(formula, tuple(names))


@lru_cache(maxsize=512)
def _formula(formula: str, names: tuple[str, ...]) -> Formula:
    text = to_jsonata(formula, names)
    return Formula(text=formula, jsonata=text, names=names, used=tuple(used_names(formula)))
