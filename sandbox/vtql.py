"""VTQL, Vtiger's query language: a parser and an evaluator over in-memory rows.

The real server (VTQL_Lexer.php, the LEMON-generated VTQL_Parser.php and its
buildSelectStmt) turns a query into SQL for MySQL. This module answers the same queries
from lists of dicts, and fails them with the same codes and, where they were recorded,
the same messages:

    SELECT * | count(*) | f1, f2 FROM Module
        [WHERE f op v {AND|OR f op v}] [ORDER BY f[, f] [ASC|DESC]] [LIMIT n | LIMIT offset, n];

Behaviour worth knowing, each mirroring the real server:
* The trailing ``;`` is required; keywords are case-insensitive, module and field names
  are not.
* ``id`` is appended to an explicit field list; ``count(*)`` answers ``[{"count": "N"}]``.
* No LIMIT means ``max_rows`` (100) rows; ``LIMIT n`` and the n of ``LIMIT offset, n`` are
  capped at ``max_rows``; the offset is not.
* The WHERE clause goes to MySQL as written, so AND binds tighter than OR
  (``a OR b AND c`` is ``a OR (b AND c)``), and string comparisons and LIKE ignore case
  (MySQL's default collation).
* ASC/DESC applies to the last ORDER BY column only (it is appended after the list).
* Reference, owner and id fields compare by the record number after the ``x`` of a
  webservice id (``'11x25'``); a value without ``x`` is ``INVALID_ID_ATTRIBUTE``.
* Empty date, datetime and reference fields are NULL in the database: no comparison
  matches them.
* Unquoted dates are syntax errors (``2026-09-01`` lexes as ``2026``, ``-09``, ``-01``).
"""

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from sandbox.errors import (
    ACCESS_DENIED,
    DATABASE_ERROR_MESSAGE,
    DATABASE_QUERY_ERROR,
    INTERNAL_ERROR_MESSAGE,
    INTERNAL_SERVER_ERROR,
    INVALID_ID_ATTRIBUTE,
    QUERY_SYNTAX_ERROR,
    VtigerError,
    access_denied_for_name,
)

DEFAULT_MAX_ROWS = 100

# Field kinds, which decide how a field compares and sorts.
NUMBER = "number"
TEXT = "text"
DATE = "date"
DATETIME = "datetime"
REFERENCE = "reference"
OWNER = "owner"
ID = "id"
_NULLABLE_KINDS = {DATE, DATETIME, REFERENCE}
_ID_KINDS = {REFERENCE, OWNER, ID}


@dataclass(frozen=True)
class Table:
    """What the evaluator needs to know about one module."""

    columns: tuple[str, ...]  # the columns of SELECT *, in order, id last
    kinds: Mapping[str, str]  # every queryable field -> its kind
    rows: Sequence[Mapping[str, str]]  # in record-number order, the order without ORDER BY


# --- lexer ----------------------------------------------------------------------------

# The token pattern of VTQL_Lexer.php, alternative for alternative. Order matters: words come
# before signed integers, so "2026-09-01" lexes as "2026", "-09", "-01". An empty literal ''
# matches nothing here, exactly as in the original.
_TOKEN_RE = re.compile(r"\w+|'(?:[^']|'')+'|\(|\)|[+-]?\d+|,|\*|=|<(?!=)|>(?!=)|<=|>=|!=|;", re.ASCII)
_SPACE_RE = re.compile(r"[ \t\r\n]+")
_WORD_RE = re.compile(r"\w+", re.ASCII)
_DIGITS_RE = re.compile(r"\d+", re.ASCII)
_NUMBER_PREFIX_RE = re.compile(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")

_SYMBOL_NAMES = {
    ";": "SEMICOLON",
    "(": "PARENOPEN",
    ")": "PARENCLOSE",
    ",": "COMMA",
    "*": "ASTERISK",
    "=": "EQ",
    "<": "LT",
    ">": "GT",
    "<=": "LTE",
    ">=": "GTE",
    "!=": "NE",
}
_COMPARISONS = {"=", "<", ">", "<=", ">=", "!="}
# Words that end a clause or start the next one wherever they appear after FROM.
_CLAUSE_WORDS = {"where": "WHERE", "order": "ORDERBY", "by": "ORDERBY", "limit": "LIMIT"}
_WHERE_WORDS = {"and": "LOGICAL_AND", "or": "LOGICAL_OR", "in": "IN", "like": "LIKE"}
_ORDER_WORDS = {"asc": "ASC", "desc": "DESC"}
_OPERATOR_EXPECTED = "EQ,LT,GT,LTE,GTE,NE,IN,LIKE"


@dataclass(frozen=True)
class _Token:
    text: str
    line: int

    @property
    def kind(self):
        if self.text.startswith("'"):
            return "string"
        if _WORD_RE.fullmatch(self.text):
            return "word"
        if self.text[0] in "+-" and len(self.text) > 1:
            return "int"
        return "symbol"

    def is_word(self, *words):
        return self.kind == "word" and self.text.lower() in words

    def is_symbol(self, *symbols):
        return self.kind == "symbol" and self.text in symbols


def _lex(text):
    pos, line = 0, 1
    while pos < len(text):
        space = _SPACE_RE.match(text, pos)
        if space:
            line += space.group().count("\n")
            pos = space.end()
            continue
        match = _TOKEN_RE.match(text, pos)
        if not match:
            # The PHP lexer throws a plain Exception here, which webservice.php reports as
            # an internal error rather than a syntax error.
            raise VtigerError(INTERNAL_SERVER_ERROR, INTERNAL_ERROR_MESSAGE)
        yield _Token(match.group(), line)
        pos = match.end()


# --- parse tree -----------------------------------------------------------------------


@dataclass(frozen=True)
class Value:
    text: str  # the literal without quotes, '' unescaped
    quoted: bool

    @property
    def is_number(self):
        return not self.quoted and bool(re.fullmatch(r"[+-]?\d+", self.text))


@dataclass(frozen=True)
class Condition:
    field: str
    operator: str  # "=", "<", ">", "<=", ">=", "!=", "IN", "LIKE"
    values: tuple[Value, ...]


@dataclass
class Query:
    module: str
    columns: list[str] | None = None  # None: SELECT *
    count: bool = False
    conditions: list[Condition] = field(default_factory=list)
    connectors: list[str] = field(default_factory=list)  # "AND"/"OR" between conditions
    order_by: list[str] = field(default_factory=list)
    descending: bool = False
    limit: tuple[str, ...] | None = None  # raw limit texts: (n,) or (offset, n)


# --- parser ---------------------------------------------------------------------------


class _Parser:
    def __init__(self, text, module_exists):
        self._tokens = _lex(text)
        self._module_exists = module_exists
        self.tok = None
        self._last = None

    def advance(self):
        token = next(self._tokens, None)
        if token is not None:
            self._last = token
        self.tok = token

    def fail(self, expected, context):
        """Raise the LEMON parser's syntax error for the current token."""
        if self.tok is None:
            text = self._last.text if self._last else ""
            line = self._last.line if self._last else 1
            unexpected = "End of Input(0)"
        else:
            text, line = self.tok.text, self.tok.line
            unexpected = f"{_token_name(self.tok, context)}({text})"
        raise VtigerError(
            QUERY_SYNTAX_ERROR,
            f"Syntax Error on line {line}: token '{text}' Unexpected {unexpected}, expected one of: {expected}",
        )

    def parse(self):
        self.advance()
        if not (self.tok and self.tok.is_word("select")):
            self.fail("SELECT", "start")
        self.advance()
        columns, count = self._select_list()
        query = Query(module=self._table(), columns=columns, count=count)
        context = "where"
        if self.tok and self.tok.is_word("where"):
            self._where(query)
        if self.tok and self.tok.is_word("order"):
            self._order_by(query)
            context = "order"
        if self.tok and self.tok.is_word("limit"):
            self._limit(query)
            context = "limit"
        if not (self.tok and self.tok.is_symbol(";")):
            # Wherever the statement could end, the real parser only names SEMICOLON.
            self.fail("SEMICOLON", context)
        self.advance()
        if self.tok is not None:
            self.fail("End of Input", "start")
        return query

    def _select_list(self):
        tok = self.tok
        if tok and tok.is_symbol("*"):
            self.advance()
            self._expect_from("FRM")
            return None, False
        if tok and tok.is_word("count"):
            for symbol, name in (("(", "PARENOPEN"), ("*", "ASTERISK"), (")", "PARENCLOSE")):
                self.advance()
                if not (self.tok and self.tok.is_symbol(symbol)):
                    self.fail(name, "select")
            self.advance()
            self._expect_from("FRM")
            return None, True
        if not self._is_column(tok, "select"):
            self.fail("COLUMNNAME,ASTERISK,COUNT", "select")
        columns = [tok.text]
        self.advance()
        while self.tok and self.tok.is_symbol(","):
            self.advance()
            if not self._is_column(self.tok, "select"):
                self.fail("COLUMNNAME", "select")
            columns.append(self.tok.text)
            self.advance()
        self._expect_from("FRM,COMMA")
        return columns, False

    def _expect_from(self, expected):
        if not (self.tok and self.tok.is_word("from")):
            self.fail(expected, "select")
        self.advance()

    def _table(self):
        if not (self.tok and self.tok.kind in ("word", "int")):
            self.fail("TABLENAME", "table")
        module = self.tok.text
        # The real parser resolves the module as soon as the table name is reduced, so an
        # unknown module wins over any later syntax error.
        if not self._module_exists(module):
            raise access_denied_for_name(module)
        self.advance()
        return module

    def _where(self, query):
        self.advance()
        while True:
            if not self._is_column(self.tok, "where"):
                self.fail("COLUMNNAME", "where")
            column = self.tok.text
            self.advance()
            tok = self.tok
            if tok and tok.is_symbol(*_COMPARISONS):
                operator = tok.text
            elif tok and tok.is_word("in", "like"):
                operator = tok.text.upper()
            else:
                self.fail(_OPERATOR_EXPECTED, "where")
            self.advance()
            if self.tok and self.tok.is_symbol("("):
                self.advance()
                values = [self._value()]
                while self.tok and self.tok.is_symbol(","):
                    self.advance()
                    values.append(self._value())
                if not (self.tok and self.tok.is_symbol(")")):
                    self.fail("PARENCLOSE,COMMA", "where")
                self.advance()
            else:
                values = [self._value()]
            query.conditions.append(Condition(column, operator, tuple(values)))
            if self.tok and self.tok.is_word("and", "or"):
                query.connectors.append(self.tok.text.upper())
                self.advance()
                continue
            return

    def _value(self):
        tok = self.tok
        if tok is None or tok.kind == "symbol" or tok.is_word(*_WHERE_WORDS, *_CLAUSE_WORDS):
            self.fail("VALUE", "where")
        self.advance()
        if tok.kind == "string":
            return Value(tok.text[1:-1].replace("''", "'"), quoted=True)
        return Value(tok.text, quoted=False)

    def _order_by(self, query):
        self.advance()
        if not (self.tok and self.tok.is_word("by")):
            self.fail("ORDERBY", "order")
        self.advance()
        while True:
            if not self._is_column(self.tok, "order"):
                self.fail("COLUMNNAME", "order")
            query.order_by.append(self.tok.text)
            self.advance()
            if self.tok and self.tok.is_symbol(","):
                self.advance()
                continue
            break
        if self.tok and self.tok.is_word("asc", "desc"):
            query.descending = self.tok.text.lower() == "desc"
            self.advance()

    def _limit(self, query):
        self.advance()
        values = [self._limit_value()]
        if self.tok and self.tok.is_symbol(","):
            self.advance()
            values.append(self._limit_value())
        query.limit = tuple(values)

    def _limit_value(self):
        tok = self.tok
        if tok is None or tok.kind == "symbol" or tok.is_word("limit", "where", "order"):
            self.fail("VALUE", "limit")
        self.advance()
        return tok.text

    @staticmethod
    def _is_column(tok, context):
        return tok is not None and tok.kind == "word" and _token_name(tok, context) == "COLUMNNAME"


def _token_name(tok, context):
    """The lexer's name for a token, which depends on the clause it appears in."""
    kind = tok.kind
    if kind == "symbol":
        return _SYMBOL_NAMES[tok.text]
    if kind == "string":
        return "VALUE"
    word = tok.text.lower()
    if context == "start":
        return "SELECT" if word == "select" else "COLUMNNAME"
    if context == "select":
        return {"from": "FRM", "count": "COUNT"}.get(word, "COLUMNNAME")
    if context == "table":
        return "TABLENAME"
    if word in _CLAUSE_WORDS:
        return _CLAUSE_WORDS[word]
    if context == "limit":
        return "VALUE"
    if context == "order":
        return _ORDER_WORDS.get(word, "COLUMNNAME")
    return _WHERE_WORDS.get(word, "COLUMNNAME")


def parse(text, module_exists=lambda module: True):
    """Parse one VTQL statement; raises VtigerError like the real server."""
    return _Parser(text or "", module_exists).parse()


# --- evaluator ------------------------------------------------------------------------


def _mysql_number(text):
    """A string as MySQL reads it in a numeric context: its numeric prefix, else 0."""
    match = _NUMBER_PREFIX_RE.match(text)
    return float(match.group()) if match else 0.0


def _record_number(webservice_id):
    """'11x25' -> 25: the part of a webservice id that the database compares."""
    _, _, tail = webservice_id.partition("x")
    return int(tail) if _DIGITS_RE.fullmatch(tail) else None


def _like_regex(pattern):
    parts, escaped = [], False
    for char in pattern:
        if escaped:
            parts.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _comparator(operator):
    return {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b,
        ">=": lambda a, b: a >= b,
    }[operator]


def _compile_condition(condition, kind):
    """A predicate over one row, or VtigerError for what the real server rejects."""
    operator, name = condition.operator, condition.field
    if operator not in ("IN",) and len(condition.values) > 1:
        raise VtigerError(QUERY_SYNTAX_ERROR, "columns data inappropriate")

    if kind in _ID_KINDS:
        targets = []
        for value in condition.values:
            if "x" not in value.text:
                if kind == OWNER:
                    raise VtigerError(DATABASE_QUERY_ERROR, DATABASE_ERROR_MESSAGE)
                raise VtigerError(INVALID_ID_ATTRIBUTE, "Id specified is incorrect")
            number = _record_number(value.text)
            if number is None:
                raise VtigerError(DATABASE_QUERY_ERROR, DATABASE_ERROR_MESSAGE)
            targets.append(number)

        def key(row):
            raw = row[name]
            return _record_number(raw) if raw else None

        if operator == "LIKE":
            regex = _like_regex(str(targets[0]))
            return lambda row: (n := key(row)) is not None and bool(regex.fullmatch(str(n)))
        if operator == "IN":
            wanted = set(targets)
            return lambda row: key(row) in wanted
        compare, target = _comparator(operator), targets[0]
        return lambda row: (n := key(row)) is not None and compare(n, target)

    for value in condition.values:
        if not value.quoted and not value.is_number:
            # A bare word becomes a column reference in the SQL, which MySQL rejects.
            raise VtigerError(DATABASE_QUERY_ERROR, DATABASE_ERROR_MESSAGE)

    nullable = kind in _NULLABLE_KINDS
    numeric = kind == NUMBER or any(v.is_number for v in condition.values)

    if operator == "LIKE":
        regex = _like_regex(condition.values[0].text)
        return lambda row: not (nullable and row[name] == "") and bool(regex.fullmatch(row[name]))

    if numeric:

        def convert(text):
            return _mysql_number(text)
    else:

        def convert(text):
            return text.casefold()

    targets = [convert(value.text) for value in condition.values]
    if operator == "IN":
        wanted = set(targets)
        return lambda row: not (nullable and row[name] == "") and convert(row[name]) in wanted
    compare, target = _comparator(operator), targets[0]
    return lambda row: not (nullable and row[name] == "") and compare(convert(row[name]), target)


def _where_predicate(query, table):
    predicates = []
    for condition in query.conditions:
        kind = table.kinds.get(condition.field)
        if kind is None:
            # The WHERE check in buildSelectStmt has no quotes or dots around the name.
            raise VtigerError(ACCESS_DENIED, f"Permission to access {condition.field} attribute denied.")
        predicates.append(_compile_condition(condition, kind))
    # MySQL precedence: AND binds tighter than OR, so split into OR-ed groups of AND-ed terms.
    groups, current = [], [predicates[0]] if predicates else []
    for connector, predicate in zip(query.connectors, predicates[1:], strict=True):
        if connector == "OR":
            groups.append(current)
            current = [predicate]
        else:
            current.append(predicate)
    if current:
        groups.append(current)
    return lambda row: any(all(p(row) for p in group) for group in groups)


def _sort_key(name, kind):
    if kind == NUMBER:
        return lambda row: _mysql_number(row[name])
    if kind in _ID_KINDS:

        def key(row):
            # NULL (an empty reference) sorts first, as MySQL does in ascending order.
            number = _record_number(row[name]) if row[name] else None
            return -1 if number is None else number

        return key
    return lambda row: row[name].casefold()


def _limit_window(limit, max_rows):
    """(offset, count) for the LIMIT clause, with the server's cap on the count."""
    if limit is None:
        return 0, max_rows
    for text in limit:
        if not _DIGITS_RE.fullmatch(text):
            raise VtigerError(DATABASE_QUERY_ERROR, DATABASE_ERROR_MESSAGE)
    if len(limit) == 1:
        return 0, min(int(limit[0]), max_rows)
    return int(limit[0]), min(int(limit[1]), max_rows)


def execute(query, table, max_rows=DEFAULT_MAX_ROWS):
    """The rows a parsed query answers, as the webservice's `result` list."""
    if query.columns is not None:
        for name in query.columns:
            if name not in table.kinds:
                # The quotes and dots are in the original message, a PHP string slip.
                raise VtigerError(ACCESS_DENIED, f"Permission to access '.{name}.' attribute denied.")
    rows = list(table.rows)
    if query.conditions:
        predicate = _where_predicate(query, table)
        rows = [row for row in rows if predicate(row)]
    for position, name in reversed(list(enumerate(query.order_by))):
        kind = table.kinds.get(name)
        if kind is None:
            raise VtigerError(DATABASE_QUERY_ERROR, DATABASE_ERROR_MESSAGE)
        last = position == len(query.order_by) - 1
        rows.sort(key=_sort_key(name, kind), reverse=last and query.descending)
    offset, count = _limit_window(query.limit, max_rows)

    if query.count:
        return [{"count": str(len(rows))}][offset : offset + count]
    rows = rows[offset : offset + count]
    if query.columns is None:
        return [dict(row) for row in rows]
    names = list(dict.fromkeys([*query.columns, "id"]))
    return [{name: row[name] for name in names} for row in rows]


def run(text, resolve: Callable[[str], Table | None], max_rows=DEFAULT_MAX_ROWS):
    """Parse and evaluate; `resolve` maps a module name to its Table, or None if unknown."""
    query = parse(text, module_exists=lambda module: resolve(module) is not None)
    return execute(query, resolve(query.module), max_rows=max_rows)
