"""JSON parsing with a bound on nesting, for text from outside (API answers, imported files).

``json.loads`` recurses once per level: a document nested 100,000 deep raises RecursionError,
and one just shallow enough to parse can still break whatever walks it next (saving it to a
JSON field, masking it, evaluating an expression on it). ``loads`` refuses both with
``NestingTooDeep``, a ValueError whose message says the limit. Pure: no Django.

    data = safejson.loads(text)              # NestingTooDeep, or json.JSONDecodeError
    safejson.deeper_than(data, 100) -> bool
"""

from __future__ import annotations

import json

# Real APIs and metric definitions nest a few levels; 100 leaves room and stays far from
# Python's recursion limit (1,000), whoever walks the data next.
MAX_DEPTH = 100


class NestingTooDeep(ValueError):
    def __init__(self, limit: int = MAX_DEPTH):
        self.limit = limit
        super().__init__(f"nested too deeply (over {limit} levels)")


def deeper_than(value, limit: int) -> bool:
    """Whether ``value`` has lists or objects nested more than ``limit`` levels (without recursing)."""
    if type(value) not in (dict, list):
        return False
    stack = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        node, depth = pop()
        if depth > limit:
            return True
        for child in node.values() if type(node) is dict else node:
            kind = type(child)
            if kind is dict or kind is list:
                push((child, depth + 1))
    return False


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH):
    """``json.loads(text)``, raising NestingTooDeep past ``max_depth`` levels."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise NestingTooDeep(max_depth) from None
    if deeper_than(value, max_depth):
        raise NestingTooDeep(max_depth)
    return value
