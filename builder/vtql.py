"""The VTQL helper of the wizard: write a Vtiger query, read describe and listtypes, page it.

This is the product side of VTQL (the sandbox has its own parser): it writes queries that the
real Vtiger accepts and catches the obvious mistakes early, with messages that read like
Vtiger's own. It is deliberately not a full parser.

VTQL facts it relies on (see docs/vtiger-api.md §2): single-quoted strings with ``''`` for a
quote, no double quotes, dates must be quoted, the trailing ``;`` is required, at most 100 rows
per query, paging by ``LIMIT offset,100`` until an empty page.

Pure module: no Django, no models.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from builder.placeholders import PLACEHOLDER_RE, find

DATE_FORMATS = {"date": "YYYY-MM-DD", "datetime": "YYYY-MM-DD HH:mm:ss"}
OPERATORS = ("=", "!=", "<", ">", "<=", ">=", "LIKE", "IN")
PAGE_SIZE = 100  # Vtiger's cap on rows per query
NUMERIC_TYPES = frozenset({"currency", "double", "integer"})
COUNT = "count(*)"

IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
TRAILING_LIMIT_RE = re.compile(r"\s+LIMIT\s+\d+\s*(?:,\s*\d+\s*)?$", re.IGNORECASE)
DATE_LITERAL_RE = re.compile(r"\d{4}-(\d{2})-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?")
WORD_RE = re.compile(r"[+-]?\w+")


class Choice(NamedTuple):
    value: str  # what a query compares against
    label: str  # what the analyst reads


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    type: str  # Vtiger's type name: string, picklist, date, datetime, currency, reference, ...
    picklist_values: tuple[Choice, ...] = ()
    is_date: bool = False
    mandatory: bool = False
    refers_to: tuple[str, ...] = ()

    @property
    def date_kind(self) -> str | None:
        """``date`` or ``datetime`` (the ``date_kind`` of build_query), None for other fields."""
        return self.type if self.is_date else None

    @property
    def is_numeric(self) -> bool:
        return self.type in NUMERIC_TYPES


@dataclass(frozen=True)
class Module:
    name: str
    label: str
    singular: str


# ---------------------------------------------------------------- writing queries


def _identifier(name: str, what: str) -> str:
    if not isinstance(name, str) or not IDENTIFIER_RE.fullmatch(name):
        raise ValueError(f"{name!r} is not a valid {what} name for VTQL (letters, digits and _ only).")
    return name


def quote(value: str | int | float | bool) -> str:
    """A VTQL literal: strings in single quotes with ``''`` for a quote; integers bare.

    Decimals are quoted (VTQL's lexer has no decimal numbers), booleans become ``'1'``/``'0'``
    as Vtiger stores them. VTQL has no NULL: an unset field is ``''``.
    """
    if value is None:
        raise ValueError("VTQL has no NULL: compare with '' to find empty values.")
    if isinstance(value, bool):
        return "'1'" if value else "'0'"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"'{value!r}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise ValueError(f"{value!r} cannot be written as a VTQL value.")


def _condition(field: str, op: str, value: Any) -> str:
    field = _identifier(field, "field")
    operator = op.strip().upper()
    if operator not in OPERATORS:
        raise ValueError(f"{op!r} is not a VTQL operator: use one of {' '.join(OPERATORS)}.")
    if operator == "IN":
        if isinstance(value, str) or not isinstance(value, Iterable):
            raise ValueError(f"IN needs a list of values for {field}.")
        values = list(value)
        if not values:
            raise ValueError(f"IN needs at least one value for {field}.")
        return f"{field} IN ({', '.join(quote(item) for item in values)})"
    if isinstance(value, list | tuple | set):
        raise ValueError(f"{operator} compares {field} with one value; use IN for a list.")
    return f"{field} {operator} {quote(value)}"


def build_query(
    module: str,
    fields: Sequence[str],
    date_field: str | None = None,
    date_kind: str = "date",
    conditions: Iterable[tuple[str, str, Any]] = (),
    order_by: str | None = None,
    descending: bool = False,
) -> str:
    """A VTQL query for the wizard, ending in ``;``.

    ``fields`` empty selects ``*``; ``["count(*)"]`` counts. A ``date_field`` is added to the
    selected fields when missing and limited to the dynamic range with placeholders in the
    field's format (``date``: ``YYYY-MM-DD``, ``datetime``: ``YYYY-MM-DD HH:mm:ss``), both ends
    inclusive like the sync window::

        SELECT amount, closingdate FROM Potentials WHERE sales_stage = 'Closed Won'
        AND closingdate >= '{{start:YYYY-MM-DD}}' AND closingdate <= '{{end:YYYY-MM-DD}}';

    ``conditions``: ``(field, op, value)`` with op one of OPERATORS; IN takes a list. Order by
    ``id`` when the query will be paged, so that pages do not overlap.
    """
    module = _identifier(module, "module")
    if date_kind not in DATE_FORMATS:
        raise ValueError(f"date_kind must be one of {', '.join(DATE_FORMATS)}, not {date_kind!r}.")
    columns = [field.strip() for field in fields]
    if [column.lower() for column in columns] == [COUNT]:
        select = COUNT
    else:
        for column in columns:
            _identifier(column, "field")
        if date_field and columns and date_field not in columns:
            columns.append(date_field)
        select = ", ".join(columns) if columns else "*"
    clauses = [_condition(*condition) for condition in conditions]
    if date_field:
        field = _identifier(date_field, "field")
        fmt = DATE_FORMATS[date_kind]
        clauses.append(f"{field} >= '{{{{start:{fmt}}}}}'")
        clauses.append(f"{field} <= '{{{{end:{fmt}}}}}'")
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    order = f" ORDER BY {_identifier(order_by, 'field')}{' DESC' if descending else ''}" if order_by else ""
    # Not SQL run here: VTQL text for Vtiger, with names checked and values quoted by quote().
    return f"SELECT {select} FROM {module}{where}{order};"  # noqa: S608


def with_paging(query: str, offset: int, limit: int = PAGE_SIZE) -> str:
    """The query with ``LIMIT offset,limit;`` at its end, replacing a trailing LIMIT if any.

    Vtiger pages are ``LIMIT 0,100``, ``LIMIT 100,100``, ... until an empty page comes back.
    """
    if offset < 0:
        raise ValueError("The offset cannot be negative.")
    if not 1 <= limit <= PAGE_SIZE:
        raise ValueError(f"The page size must be between 1 and {PAGE_SIZE} (Vtiger returns at most {PAGE_SIZE} rows).")
    body = query.strip()
    while body.endswith(";"):
        body = body[:-1].rstrip()
    body = TRAILING_LIMIT_RE.sub("", body)
    return f"{body} LIMIT {offset},{limit};"


# ---------------------------------------------------------------- reading describe and listtypes


def _result(payload: Any, what: str) -> Any:
    """The ``result`` of a webservice envelope (or the payload itself when it is no envelope)."""
    if isinstance(payload, dict) and "success" in payload:
        if not payload["success"]:
            error = payload.get("error") or {}
            raise ValueError(f"Vtiger answered {what} with {error.get('code', 'an error')}: {error.get('message', '')}")
        return payload.get("result")
    return payload


def fields_from_describe(describe: Any) -> list[Field]:
    """The fields of a ``describe`` answer (the envelope or its ``result``), in Vtiger's order."""
    result = _result(describe, "describe")
    if not isinstance(result, dict) or not isinstance(result.get("fields"), list):
        raise ValueError("This is not a describe answer: it has no list of fields.")
    fields = []
    for raw in result["fields"]:
        kind = raw.get("type") or {}
        type_name = str(kind.get("name", "string"))
        choices = tuple(
            Choice(value=str(item.get("value", "")), label=html.unescape(str(item.get("label", item.get("value", "")))))
            for item in kind.get("picklistValues") or ()
        )
        fields.append(
            Field(
                name=str(raw["name"]),
                label=html.unescape(str(raw.get("label") or raw["name"])),
                type=type_name,
                picklist_values=choices,
                is_date=type_name in DATE_FORMATS,
                mandatory=bool(raw.get("mandatory")),
                refers_to=tuple(kind.get("refersTo") or ()),
            )
        )
    return fields


def modules_from_listtypes(listtypes: Any) -> list[Module]:
    """The entity modules of a ``listtypes`` answer, sorted by label (``Groups``, ``Currency`` left out)."""
    result = _result(listtypes, "listtypes")
    if not isinstance(result, dict) or not isinstance(result.get("types"), list):
        raise ValueError("This is not a listtypes answer: it has no list of types.")
    information = result.get("information") or {}
    modules = []
    for name in result["types"]:
        info = information.get(name) or {}
        if info.get("isEntity"):
            label = html.unescape(str(info.get("label") or name))
            modules.append(Module(name=name, label=label, singular=html.unescape(str(info.get("singular") or label))))
    return sorted(modules, key=lambda module: (module.label.casefold(), module.name))


# ---------------------------------------------------------------- checking queries


@dataclass(frozen=True)
class _Token:
    kind: str  # word, string, symbol, placeholder
    text: str
    at: int


def _tokens(query: str, errors: list[str]) -> tuple[list[_Token], bool]:
    """The tokens of a query, and whether the whole query was read (False after an open string)."""
    tokens: list[_Token] = []
    i = 0
    while i < len(query):
        char = query[i]
        if char.isspace():
            i += 1
        elif char == "'":
            end = i + 1
            while True:
                end = query.find("'", end)
                if end == -1:
                    errors.append(f"Unterminated string: the quote at character {i + 1} is never closed.")
                    return tokens, False
                if query.startswith("''", end):
                    end += 2
                    continue
                break
            tokens.append(_Token("string", query[i : end + 1], i))
            i = end + 1
        elif char == '"':
            errors.append("Double quotes are not allowed in VTQL: write strings in single quotes, like 'Closed Won'.")
            end = query.find('"', i + 1)
            i = len(query) if end == -1 else end + 1
        elif query.startswith("{{", i) and (placeholder := PLACEHOLDER_RE.match(query, i)):
            tokens.append(_Token("placeholder", placeholder.group(0), i))
            i = placeholder.end()
        elif date := DATE_LITERAL_RE.match(query, i):
            errors.append(
                f"Syntax Error on line 1: token '-{date.group(1)}' Unexpected COLUMNNAME(-{date.group(1)}), "
                f"expected one of: SEMICOLON. Dates must be quoted: '{date.group(0)}'."
            )
            tokens.append(_Token("string", f"'{date.group(0)}'", i))
            i = date.end()
        elif query.startswith("<>", i):
            errors.append("'<>' is not VTQL: use '!=' for not equal.")
            tokens.append(_Token("symbol", "!=", i))
            i += 2
        elif query[i : i + 2] in ("<=", ">=", "!="):
            tokens.append(_Token("symbol", query[i : i + 2], i))
            i += 2
        elif char in "(),*;=<>":
            tokens.append(_Token("symbol", char, i))
            i += 1
        elif word := WORD_RE.match(query, i):
            tokens.append(_Token("word", word.group(0), i))
            i = word.end()
        else:
            errors.append(f"Unexpected character {char!r} at character {i + 1}.")
            i += 1
    return tokens, True


def check_syntax(query: str, modules: Collection[str] | None = None) -> list[str]:
    """The obvious mistakes in a VTQL query, as messages (empty when none were found).

    Catches: not a SELECT, no ``FROM Module``, a missing ``;`` or text after it, double quotes,
    unquoted dates and date placeholders, unterminated strings, ``<>``, an empty WHERE, and,
    when ``modules`` (names from listtypes) is given, an unknown module name (names are
    case-sensitive). Light by design: a query it passes can still be refused by Vtiger.
    """
    if not query.strip():
        return ["The query is empty: write SELECT fields FROM Module;"]
    errors: list[str] = []
    tokens, complete = _tokens(query, errors)
    words = [token.text.upper() if token.kind == "word" else token.text for token in tokens]

    if not words or words[0] != "SELECT":
        errors.append("Only SELECT queries are allowed: start with SELECT.")
    if "FROM" not in words:
        errors.append("Missing FROM: write SELECT fields FROM Module;")
    else:
        at = words.index("FROM")
        module = tokens[at + 1] if at + 1 < len(tokens) else None
        if module is None or module.kind != "word" or not IDENTIFIER_RE.fullmatch(module.text):
            errors.append("Syntax Error: expected a module name after FROM.")
        elif modules is not None and module.text not in modules:
            near = [name for name in modules if name.lower() == module.text.lower()]
            hint = f" Module names are case-sensitive: {near[0]}." if near else ""
            errors.append(f"Permission to perform the operation is denied for name : {module.text}.{hint}")

    for token, following in zip(tokens, [*tokens[1:], None], strict=True):
        if (
            token.kind == "word"
            and token.text.upper() in ("WHERE", "AND", "OR")
            and (following is None or following.text == ";")
        ):
            seen = f"'{token.text}' Unexpected End of Input(0)" if following is None else "';' Unexpected SEMICOLON(;)"
            errors.append(
                f"Syntax Error on line 1: token {seen}, expected one of: COLUMNNAME. "
                f"A condition is missing after {token.text.upper()}."
            )
        # Epochs render as integers, which VTQL takes bare; every other placeholder must be quoted.
        if token.kind == "placeholder" and not any(item.fmt in ("unix", "unix_ms") for item in find(token.text)):
            errors.append(f"Put the placeholder {token.text} in single quotes: '{token.text}'.")

    if ";" in words:
        if words.index(";") != len(words) - 1:
            errors.append("Nothing may follow ';': send one query at a time.")
    elif tokens and complete:
        last = tokens[-1].text
        errors.append(
            f"Syntax Error on line 1: token '{last}' Unexpected End of Input(0), expected one of: SEMICOLON. "
            "End the query with ';'."
        )
    return list(dict.fromkeys(errors))
