"""JSONata parsed and evaluated in this process, and the error every evaluation raises.

Two modules build on this one, and it imports neither, so the imports point one way:
``builder.expression_box`` (its worker process runs ``evaluate_in_process``) and
``builder.transform`` (the way in for everyone else: the box, the input limit, plain words, the
shape contract; it imports the box). Kept to jsonata and the standard library on purpose: a box
worker imports this and nothing else of ours, so a new or replaced worker is ready sooner.

Pure module: no Django, no models.
"""

from __future__ import annotations

import threading
import time
from functools import lru_cache
from typing import Any

import jsonata
from jsonata.jexception import JException

DEFAULT_TIMEOUT_MS = 500
DEFAULT_MAX_DEPTH = 500


class ExpressionError(Exception):
    """A JSONata error: ``code`` (``S0203``, ``D1012``, or a Python error's name), message, position.

    ``position`` is the character offset in the expression that jsonata reports, or None.
    ``builder.transform`` puts the message in plain words (``builder.explain``) and sets ``fix``
    to the corrected expression when one can be told; ``raw_message`` is jsonata's.
    """

    def __init__(
        self, code: str, message: str, position: int | None = None, fix: str | None = None, explained: bool = False
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.position = position
        self.fix = fix
        self.explained = explained
        self.raw_message = message

    def __str__(self) -> str:
        where = f" (at character {self.position})" if self.position is not None else ""
        return f"{self.code}: {self.message}{where}"


def too_long_message(timeout_ms: int) -> str:
    return f"The expression took too long (over {timeout_ms:,} ms) and was stopped."


def too_much_memory_message(memory_mb: int) -> str:
    return f"The expression used more than {memory_mb:,} MB and was stopped."


def _from_jexception(exc: JException) -> ExpressionError:
    location = getattr(exc, "location", None)
    position = location if isinstance(location, int) and location >= 0 else None
    return ExpressionError(str(getattr(exc, "error", None) or "JSONata"), str(exc), position)


@lru_cache(maxsize=256)
def parse(text: str) -> jsonata.Jsonata:
    """The expression parsed once (cached by its text); ExpressionError, in jsonata's words, on a syntax error."""
    try:
        expression = jsonata.Jsonata(text)
    except JException as exc:
        raise _from_jexception(exc) from exc
    except Exception as exc:  # jsonata-python lets some parse errors out as plain Python ones
        raise ExpressionError(type(exc).__name__, str(exc)) from exc
    # Inputs are parsed JSON, so every value already has a JSON type: skip the library's
    # walk over the whole input on each evaluation (most of the time for 5,000 records).
    expression.set_validate_input(False)
    expression.source_text = text  # what builder.transform.evaluate sends to the box
    return expression


CLOCK_EVERY = 64  # evaluation steps between two looks at the clock


def _set_bounds(frame: Any, timeout_ms: int, max_depth: int) -> None:
    """jsonata's own bounds (``Frame.set_runtime_bounds``), checked more cheaply: the same errors.

    jsonata's ``Timebox`` reads the clock twice per evaluation step (on entry and on exit), about
    5 % of an evaluation over 5,000 records; here the depth is checked on each entry and the
    clock every ``CLOCK_EVERY`` entries. A step is what is bounded either way (one long step runs
    on: the box's kill is for that), so a run stops at most ``CLOCK_EVERY`` short steps later.
    """
    deadline = time.monotonic() + timeout_ms / 1000
    depth = 0
    countdown = CLOCK_EVERY

    def entry(expr, input, environment):  # noqa: A002 - jsonata's parameter names
        nonlocal depth, countdown
        if environment.is_parallel_call:
            return
        depth += 1
        if depth > max_depth:
            raise JException("D1011", -1)  # what jsonata's Timebox raises: stack too deep
        countdown -= 1
        if not countdown:
            countdown = CLOCK_EVERY
            if time.monotonic() > deadline:
                raise JException("D1012", -1, timeout_ms)

    def exit(expr, input, environment, result):  # noqa: A001, A002 - jsonata's parameter names
        nonlocal depth
        if not environment.is_parallel_call:
            depth -= 1

    frame.set_evaluate_entry_callback(entry)
    frame.set_evaluate_exit_callback(exit)


_clocks = threading.local()


def _set_clock(now_ms: int) -> None:
    # $now() and $millis() read the clock of the thread's "current" jsonata instance, which is the
    # last one *constructed* on this thread, and evaluate() resets the clock of the instance being
    # evaluated to this process's time. Make the current instance one that is never evaluated and
    # holds the caller's time.
    clock = getattr(_clocks, "jsonata", None)
    if clock is None:
        clock = _clocks.jsonata = jsonata.Jsonata("$")
    clock.timestamp = now_ms
    jsonata.Jsonata.CURRENT.jsonata = clock


def evaluate_in_process(
    compiled: jsonata.Jsonata,
    data: Any,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
    max_depth: int = DEFAULT_MAX_DEPTH,
    now_ms: int | None = None,
) -> Any:
    """Evaluate here, with jsonata's step bounds only: what the box's worker runs; a long step is not stopped.

    ``now_ms``: the time ``$now()`` and ``$millis()`` give (default: now). MemoryError is let
    through (the worker reports it and is replaced); every other failure is an ExpressionError.
    """
    frame = compiled.create_frame()
    _set_bounds(frame, timeout_ms, max_depth)
    _set_clock(round(time.time() * 1000) if now_ms is None else now_ms)
    try:
        return compiled.evaluate(data, frame)
    except JException as exc:
        if getattr(exc, "error", None) == "D1012":
            raise ExpressionError("D1012", too_long_message(timeout_ms)) from exc
        raise _from_jexception(exc) from exc
    except RecursionError as exc:
        raise ExpressionError(
            "D1011", "Stack overflow: a function keeps calling itself. Check that the recursion stops."
        ) from exc
    except MemoryError:
        raise
    except Exception as exc:  # built-ins such as $number raise plain Python errors
        raise ExpressionError(type(exc).__name__, str(exc)) from exc
