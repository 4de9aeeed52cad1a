"""JSONata errors in plain words, with a fix where one can be told.

jsonata-python's messages are written for programmers, and some are garbled by the port
("Argument 1 of Object sum must be an array of n"). ``explain`` turns a code and jsonata's
message into a sentence an analyst understands; the details (an operator, a function's name,
a value) are read back out of jsonata's own message, so this works on both sides of the
expression box, which only carries the code, the message and the position.

When a number is needed and the expression gives text (Vtiger sends every number as a string,
``"185000.00000000"``), the field is named and ``fix`` is the corrected expression, with
``$number(...)`` around the field.

Pure module: no Django, no models.
"""

from __future__ import annotations

import json
import re
from collections import deque
from dataclasses import dataclass
from typing import Any

from jsonata.jexception import JException

PICTURE = "The number picture given to $formatNumber is not valid: {detail}."
DATE_PICTURE = "The date picture (the pattern such as [Y0001]-[M01]-[D01]) is not valid: {detail}."

# Each code the installed jsonata-python can raise, in words. ``{name}`` fields are read out of
# jsonata's own message (its {{name}} placeholders); ``{function}`` is ``$name``.
PLAIN: dict[str, str] = {
    "S0101": "A text in quotes is not closed: add the matching quote.",
    "S0102": "The number {token} is too large to use.",
    "S0103": "A text contains an unsupported escape, \\{token}: remove the backslash or write it twice.",
    "S0104": "A \\u escape in a text must be followed by 4 hexadecimal digits.",
    "S0105": "A field name in backquotes (`) is not closed: add the closing backquote.",
    "S0106": "A comment (/* … */) is not closed: add */.",
    "S0201": "The expression cannot be read at {token}: check the spelling and the punctuation there.",
    "S0202": "Expected {value} here, but found {token}.",
    "S0203": "The expression ends too early: a {value} is missing.",
    "S0204": "{token} is not an operator JSONata knows.",
    "S0205": "{token} is not expected here: check the punctuation around it.",
    "S0206": "{token} is not something JSONata can read here.",
    "S0207": "The expression ends too early: something is missing at the end.",
    "S0208": "Parameter {value} of a function definition must be a name starting with $.",
    "S0209": "A filter in [ ] cannot follow a grouping {{ }} in the same step.",
    "S0210": "A step can only have one grouping {{ }}.",
    "S0211": "{token} cannot be put in front of a value.",
    "S0212": "Only a name starting with $ can be given a value with :=.",
    "S0213": "The fixed value {value} cannot be used as a step in a path (a.b.c).",
    "S0214": "The right side of {token} must be a name starting with $.",
    "S0215": "A variable binding (@$name) must come before any filter [ ] in a step.",
    "S0216": "A variable binding (@$name) must come before the sorting ^( ) in a step.",
    "S0217": "The parent (%) of this expression cannot be found.",
    "S0301": "A regular expression (between / /) cannot be empty.",
    "S0302": "A regular expression is not closed: add the closing /.",
    "S0401": "Type parameters (<…>) only apply to functions and arrays in a function signature.",
    "S0402": "A choice of types in a function signature cannot hold parameterised types.",
    "S0500": "The expression has a syntax error, so it cannot be evaluated.",
    "T0410": "Argument {index} given to {function} is not of a kind {function} accepts.",
    "T0411": "The value in front of {function} is not of a kind {function} accepts as argument {index}.",
    "T0412": "{function} needs a list of {type_words}, but argument {index} is not.",
    "D1001": "The number {value} is too large to use.",
    "D1002": "A minus sign can only go in front of a number.",
    "T1003": "A key of an object {{ }} must be text; this one is {value}.",
    "D1004": "The regular expression matches empty text, so it cannot be used here.",
    "T1005": "This calls something that is not a function: a function's name starts with $ (is it missing?).",
    "T1006": "This calls something that is not a function: check the name after the $.",
    "T1007": "This applies something that is not a function: a function's name starts with $ (is it missing?).",
    "T1008": "This uses something that is not a function as one.",
    "D1009": "Several items give the same key {value} in the object {{ }}.",
    "D1011": "A function keeps calling itself without stopping: check that the recursion ends.",
    "D1012": "The expression took too long and was stopped: check for a loop that never ends.",
    "T1010": "The matcher function given to {function} does not return what it should.",
    "T2001": "The left side of {token} must be a number, but it is not.",
    "T2002": "The right side of {token} must be a number, but it is not.",
    "T2003": "The start of a range (..) must be a whole number.",
    "T2004": "The end of a range (..) must be a whole number.",
    "D2005": "Only a name starting with $ can be given a value with :=.",
    "T2006": "The right side of ~> must be a function.",
    "T2007": "Sorting compares {value} with {value2}, which are of different kinds.",
    "T2008": "Sorting ^( ) needs numbers or texts to compare.",
    "T2009": "{value} and {value2}, on either side of {token}, must be of the same kind (both numbers or both texts).",
    "T2010": "Both sides of {token} must be numbers or texts.",
    "T2011": "The update part of a transform (| … | … |) must give an object: it gave {value}.",
    "T2012": "The delete part of a transform must give a field name or a list of field names: it gave {value}.",
    "T2013": "A transform (| … |) needs $clone, which has been replaced by something that is not a function.",
    "D2014": "The range (..) is too long: {value} items; at most 1,000,000 are allowed.",
    "D3001": "$string cannot write an infinite or undefined number.",
    "D3010": "The second argument of $replace (the text to look for) cannot be empty.",
    "D3011": "The fourth argument of $replace (how many to replace) must be a positive number.",
    "D3012": "The replacement given to $replace must be text.",
    "D3020": "The third argument of $split (how many parts) must be a positive number.",
    "D3030": "{value} cannot be read as a number.",
    "D3040": "The third argument of $match (how many matches) must be a positive number.",
    "D3050": "The function given to $reduce must take at least two arguments.",
    "D3060": "$sqrt cannot take the square root of a negative number ({value}).",
    "D3061": "$power gives a number too large to use (base {value}, exponent {exp}).",
    "D3070": "$sort can only sort a list of texts or a list of numbers on its own: give it a comparison function.",
    "D3080": PICTURE.format(detail="it may have at most two parts separated by ;"),
    "D3081": PICTURE.format(detail="a part has more than one decimal separator"),
    "D3082": PICTURE.format(detail="a part has more than one percent sign"),
    "D3083": PICTURE.format(detail="a part has more than one per-mille sign"),
    "D3084": PICTURE.format(detail="a part has both a percent and a per-mille sign"),
    "D3085": PICTURE.format(detail="a part has no digit (0 or #)"),
    "D3086": PICTURE.format(detail="a part has a plain character between two digits or signs"),
    "D3087": PICTURE.format(detail="a grouping separator is next to the decimal separator"),
    "D3088": PICTURE.format(detail="a grouping separator ends the whole-number part"),
    "D3089": PICTURE.format(detail="two grouping separators are next to each other"),
    "D3090": PICTURE.format(detail="a digit comes before a # in the whole-number part"),
    "D3091": PICTURE.format(detail="a # comes after a digit in the decimal part"),
    "D3092": PICTURE.format(detail="a part with a percent or per-mille sign cannot have an exponent"),
    "D3093": PICTURE.format(detail="the exponent may only hold digits"),
    "D3100": "$formatBase takes a base between 2 and 36; it was given {value}.",
    "D3110": "$toMillis needs a date and time like 2026-06-30T12:00:00Z here; it was given {value}. "
    "Give it the date's pattern as the second argument, e.g. $toMillis(closingdate, '[Y0001]-[M01]-[D01]').",
    "D3120": "The expression given to $eval cannot be read: {value}.",
    "D3121": "The expression given to $eval failed: {value}.",
    "D3130": "Writing a number as a sequence starting with {value} is not supported.",
    "D3131": "All digits of a number pattern must come from the same set of digits.",
    "D3132": DATE_PICTURE.format(detail="{value} is not a part it knows"),
    "D3133": DATE_PICTURE.format(detail="only months and days can be written as names, not {value}"),
    "D3134": DATE_PICTURE.format(detail="a time zone offset has at most four digits"),
    "D3135": DATE_PICTURE.format(detail="a [ has no matching ]"),
    "D3136": DATE_PICTURE.format(detail="it lacks parts needed to read the date"),
    "D3137": "The expression stopped with an error: {message}.",
    "D3138": "$single expected exactly one match, but found several.",
    "D3139": "$single expected exactly one match, but found none.",
    "D3140": "{function} was given an address that is not valid: {value}.",
    "D3141": "The expression stopped with an error: {message}.",
}

# Python errors that jsonata-python lets out of some built-ins.
PYTHON = {
    "ValueError": "A value cannot be read as a number: {detail}.",
    "ZeroDivisionError": "The expression divides by zero.",
    "OverflowError": "A number is too large to use.",
    "TypeError": "A function was given a value of the wrong kind: {detail}.",
}
PYTHON_FALLBACK = "The expression failed: {detail}."

OWN_WORDS = frozenset({"D1011", "D1012"})
TYPE_WORDS = {"n": "numbers", "s": "texts", "b": "true/false values", "o": "objects", "a": "lists"}
NUMERIC_FUNCTIONS = frozenset(
    {"sum", "max", "min", "average", "abs", "floor", "ceil", "round", "power", "sqrt", "formatNumber", "formatBase"}
)
ARITHMETIC = frozenset({"+", "-", "*", "/", "%"})
NUMERIC_TEXT_RE = re.compile(r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*")
NAME = r"(?:[A-Za-z_][A-Za-z0-9_]*|`[^`]+`)"
# A path ending in a field name: result.amount, result[0].amount, `Deal Amount`.
TRAILING_PATH_RE = re.compile(rf"((?:{NAME}(?:\[[^\[\]]*\])*\.)*)({NAME})$")
LEADING_PATH_RE = re.compile(rf"^((?:{NAME}(?:\[[^\[\]]*\])*\.)*)({NAME})")


@dataclass(frozen=True)
class Explanation:
    message: str  # a sentence, position and code left out (shown beside it)
    fix: str | None = None  # the corrected expression, when one can be told
    fix_label: str | None = None  # what the fix does, in words


def _pattern(template: str) -> re.Pattern:
    """A regular expression reading jsonata's message back into its {{placeholders}}."""
    parts = re.split(r"\{\{\{?(\w+)\}?\}\}", template)
    out, seen = [], set()
    for index, part in enumerate(parts):
        if index % 2 == 0:
            out.append(re.escape(part))
        elif part in seen:
            out.append(r"(?:.*?)")
        else:
            seen.add(part)
            out.append(rf"(?P<{part}>.*?)")
    return re.compile("".join(out) + r"\Z", re.S)


PATTERNS = {code: _pattern(template) for code, template in JException.error_codes.items()}


def _fields(code: str, raw: str) -> dict[str, str] | None:
    pattern = PATTERNS.get(code)
    match = pattern.match(raw or "") if pattern else None
    return {key: value for key, value in match.groupdict().items()} if match else None


class _Blank(dict):
    def __missing__(self, key):
        return "?"


def _sentence(code: str, raw: str) -> str | None:
    template = PLAIN.get(code)
    if template is None:
        return None
    fields = _fields(code, raw)
    if fields is None:
        if code in OWN_WORDS and raw:
            return None  # the box's and transform's own words for these
        if re.search(r"\{\w+\}", template):
            return None  # our own message under a jsonata code (D1012, D1011): keep it
        return template.format_map(_Blank())
    function = fields.get("token") or fields.get("function_name")
    # jsonata-python loses some names in its own messages ("Did you mean ${}?"): say "this function".
    fields["function"] = f"${function}" if function and re.fullmatch(r"\w+", function) else "this function"
    fields["type_words"] = TYPE_WORDS.get(fields.get("type") or "", "values of the right kind")
    if code in ("D3137", "D3141"):
        fields["message"] = (fields.get("message") or raw).rstrip(".")
    sentence = template.format_map(_Blank(fields))
    return sentence[0].upper() + sentence[1:] if sentence.startswith("this ") else sentence


def _sentence_for_python(code: str, raw: str) -> str:
    detail = (raw or code).rstrip(".")
    if code == "ValueError" and "convert string to float" in detail:
        value = detail.split(":", 1)[1].strip() if ":" in detail else detail
        return f"$number cannot read {value} as a number: it is not written with digits only."
    return PYTHON.get(code, PYTHON_FALLBACK).format(detail=detail)


# ---------------------------------------------------------------- finding the field


def _argument_at(expression: str, start: int) -> tuple[int, int] | None:
    """The span of the function argument starting at ``start``: up to a top-level comma or the closing parenthesis."""
    depth, quote, index = 0, None, start
    while index < len(expression):
        char = expression[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = None
        elif char in "\"'`":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            if depth == 0:
                return start, index
            depth -= 1
        elif char == "," and depth == 0:
            return start, index
        index += 1
    return None


def _samples(data: Any, field: str, limit: int = 50) -> list[Any]:
    """Values of ``field`` in the objects of ``data`` (breadth first, the first ``limit`` found)."""
    name = field.strip("`")
    found, queue, visited = [], deque([data]), 0
    while queue and len(found) < limit and visited < 20_000:
        node = queue.popleft()
        visited += 1
        if isinstance(node, dict):
            if name in node:
                found.append(node[name])
            queue.extend(value for value in node.values() if isinstance(value, dict | list))
        elif isinstance(node, list):
            queue.extend(value for value in node[:1000] if isinstance(value, dict | list))
    return found


def _what_it_holds(field: str, data: Any) -> tuple[str, bool]:
    """(a sentence about the field's values, whether $number can read them)."""
    shown = f"`{field.strip('`')}`"
    if data is None:
        return f'{shown} may hold numbers written as text (Vtiger sends every number as text, like "12.50").', True
    values = [value for value in _samples(data, field) if value is not None and value != ""]
    texts = [value for value in values if isinstance(value, str)]
    if not texts:
        return "", False
    example = json.dumps(texts[0], ensure_ascii=False)
    if len(example) > 40:
        example = example[:39] + '…"'
    if all(NUMERIC_TEXT_RE.fullmatch(text) for text in texts):
        return (
            f"{shown} holds numbers written as text, like {example}: Vtiger (and many APIs) send every number as text.",
            True,
        )
    return f"{shown} holds text such as {example}, which is not a number.", False


def _wrapped(prefix: str, name: str) -> str:
    return f"{prefix}$number({name})"


def _number_fix(code: str, raw: str, position: int | None, expression: str, data: Any) -> Explanation | None:
    fields = _fields(code, raw) or {}
    span = None
    if code in ("T0412", "T0410"):
        function = fields.get("token") or ""
        if function not in NUMERIC_FUNCTIONS or (code == "T0412" and fields.get("type") != "n"):
            return None
        call = f"${function}("
        index = expression.rfind(call, 0, (position if position is not None else len(expression)) + 1)
        if index < 0:
            index = expression.find(call)
        if index < 0:
            return None
        argument = _argument_at(expression, index + len(call))
        if argument is None:
            return None
        start, end = argument
        text = expression[start:end]
        match = TRAILING_PATH_RE.fullmatch(text.strip())
        if not match:
            return None
        offset = start + len(text) - len(text.lstrip())
        span = (offset, offset + len(text.strip()), match.group(1), match.group(2))
    elif code in ("T2001", "T2002") and fields.get("token") in ARITHMETIC:
        operator = fields["token"]
        hits = [m.start() for m in re.finditer(re.escape(operator), expression)]
        if len(hits) != 1:
            return None
        at = hits[0]
        if code == "T2001":
            left = expression[:at].rstrip()
            match = TRAILING_PATH_RE.search(left)
            if not match:
                return None
            span = (match.start(), match.end(), match.group(1), match.group(2))
        else:
            right_start = at + 1 + (len(expression[at + 1 :]) - len(expression[at + 1 :].lstrip()))
            match = LEADING_PATH_RE.match(expression[right_start:])
            if not match:
                return None
            span = (right_start, right_start + match.end(), match.group(1), match.group(2))
    if span is None:
        return None
    start, end, prefix, name = span
    if name.startswith("$") or name in ("true", "false", "null"):
        return None
    holds, readable = _what_it_holds(name, data)
    if not holds:
        return None
    if code in ("T0412", "T0410"):
        base = f"${fields['token']} needs numbers."
    else:
        base = f"The {fields['token']} operator needs numbers on both sides."
    if not readable:
        return Explanation(f"{base} {holds}")
    fixed = expression[:start] + _wrapped(prefix, name) + expression[end:]
    return Explanation(
        f"{base} {holds} Wrap it in $number(...) to read it as a number: {fixed}",
        fix=fixed,
        fix_label=f"Use $number({name})",
    )


# ---------------------------------------------------------------- the one entry point


def explain(code: str, raw: str, position: int | None = None, expression: str = "", data: Any = None) -> Explanation:
    """The error ``code`` with jsonata's message ``raw`` in plain words, and a fix where one can be told.

    ``expression`` and ``data`` (the input it ran on, if known) let the field be named and the
    corrected expression be written. Codes that are not jsonata's (ours: ``TOO_LONG``,
    ``INPUT_TOO_LARGE``, ``BUSY``...) are already in words and come back as they are.
    """
    if code in PLAIN:
        try:
            fixed = _number_fix(code, raw, position, expression or "", data)
        except (ValueError, KeyError, IndexError, TypeError):  # a fix is a bonus: never fail explaining
            fixed = None
        if fixed is not None:
            return fixed
        return Explanation(_sentence(code, raw) or raw)
    if re.fullmatch(r"[A-Z][A-Za-z]*(Error|Exception)", code or ""):
        return Explanation(_sentence_for_python(code, raw))
    return Explanation(raw or code)
