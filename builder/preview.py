"""Send request, as a service: the wizard's live preview of a metric's request.

    result = send(connection, request_spec, preset="last_30_days", tz="Europe/Paris")
    result.data      # the parsed body, pages merged (None when cut or on error)
    result.meta      # status, elapsed_ms (upstream), own_ms, total_ms, size_bytes, pages, truncated, ...
    result.error     # {"kind", "message"} for a ConnectionProblem or a bad request spec, else None

It is ``builder.fetching.fetch``, the path every sync takes (placeholders -> connections.ratelimit
-> connections.client -> builder.pagination), so a preview that works is a sync that works, and
it spends the same request budget (waiting at most ``fetching.SEND_BUDGET_WAIT_S`` for it).
Placeholders are filled for the preview range, cut in the analyst's zone and written in the
connection's data zone (Vtiger: UTC; see builder.placeholders). Pages are followed up to
PREVIEW_MAX_PAGES and PREVIEW_MAX_BYTES in total; what is kept is the capped, merged response.

``own_ms`` is the time spent in our own code: the total minus the upstream wait (the time
inside each HTTP call, ``Response.elapsed_ms``).

The rest is what the wizard shows of it: why a Send was not sent (``budget_message``) and the
response viewer (``json_tree``).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any

from django.conf import settings
from django.utils.safestring import mark_safe

from builder import fetching, pagination, placeholders, timeframes
from connections import ratelimit
from connections.client import Client
from connections.errors import ConnectionProblem

PREVIEW_MAX_PAGES = 10
TEXT_PREVIEW_CHARS = 2000


@dataclass
class PreviewResult:
    data: Any = None
    meta: dict = field(default_factory=dict)
    error: dict | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def preview_max_bytes() -> int:
    return int(settings.OUTBOUND_MAX_BYTES)


def send(
    connection,
    request_spec: dict,
    preset: str = "last_30_days",
    tz: str = "UTC",
    now: datetime | None = None,
    max_pages: int = PREVIEW_MAX_PAGES,
    max_bytes: int | None = None,
) -> PreviewResult:
    """Run the request now, for the preview range; never raises for a problem the analyst can fix."""
    started = time.perf_counter()
    window = timeframes.preview_window(preset, tz, now)
    sent_at = time.time()
    fetched = fetching.Fetched()
    error = None
    try:
        with Client(connection) as client:
            fetching.fetch(
                client,
                request_spec,
                window,
                connection.data_timezone,
                limiter=ratelimit.for_connection(connection),
                max_pages=max_pages,
                max_bytes=preview_max_bytes() if max_bytes is None else max_bytes,
                wait_s=fetching.SEND_BUDGET_WAIT_S,
                allow_truncated=True,
                result=fetched,
            )
    except placeholders.PlaceholderError as exc:
        error = {"kind": "placeholder", "message": exc.message}
    except pagination.PaginationError as exc:
        error = {"kind": "pagination", "message": str(exc)}
    except ratelimit.BudgetWait as wait:
        error = {"kind": "budget", "message": budget_message(connection, wait.seconds)}
    except ConnectionProblem as problem:
        error = _problem_error(problem)
    meta: dict[str, Any] = {
        "status": fetched.status,
        "elapsed_ms": fetched.elapsed_ms,
        "size_bytes": fetched.size_bytes,
        "pages": fetched.pages,
        "truncated": fetched.truncated,
        "cap_hit": fetched.cap_hit,
        "max_pages": max_pages,
        "window": {"preset": preset, "start": window.start.isoformat(), "end": window.end.isoformat(), "tz": tz},
        "sent_at": sent_at,
    }
    if fetched.status is not None:
        meta["content_type"] = fetched.content_type
    if fetched.truncated:
        meta["text"] = fetched.text[:TEXT_PREVIEW_CHARS]
    total_ms = (time.perf_counter() - started) * 1000
    meta["total_ms"] = round(total_ms, 1)
    meta["own_ms"] = round(max(0.0, total_ms - fetched.elapsed_ms), 1)
    return PreviewResult(data=fetched.data, meta=meta, error=error)


def _problem_error(problem: ConnectionProblem) -> dict:
    """A ConnectionProblem as the Send panel shows it: its kind and words, and what it knows besides."""
    error = {"kind": problem.kind, "message": problem.message}
    for name in ("code", "vtiger_message", "status", "snippet"):
        value = getattr(problem, name, None)
        if value not in (None, ""):
            error[name] = value
    return error


def budget_message(connection, seconds: float) -> str:
    """Why a Send was not sent: the budget is spent, or the API asked for a pause (a 429)."""
    wait = max(1, math.ceil(seconds))
    again = f"try again in {wait} second{'s' if wait != 1 else ''}"
    if connection.rate_limit_per_minute:
        return f"This connection's request budget ({connection.rate_limit_per_minute} per minute) is used up; {again}."
    return f"This connection's API asked for a pause (it answered “too many requests”); {again}."


def send_for_draft(draft, connection, tz: str, now: datetime | None = None) -> PreviewResult:
    """Send the draft's request and keep the (capped) response and its meta on the draft."""
    result = send(connection, (draft.definition or {}).get("request") or {}, draft.preview_range, tz, now)
    draft.response = result.data
    draft.response_meta = {**result.meta, "error": result.error, "connection": str(connection.uuid)}
    draft.save(update_fields=["response", "response_meta", "updated_at"])
    return result


# ---------------------------------------------------------------- the response viewer

TREE_MAX_DEPTH = 8
TREE_MAX_ITEMS = 50
TREE_OPEN_DEPTH = 2


def json_tree(data: Any, max_depth: int = TREE_MAX_DEPTH, max_items: int = TREE_MAX_ITEMS) -> str:
    """The response as nested ``<details>``, escaped; deep levels and long containers are cut with a note.

    Built as text rather than through templates: a 5,000-record response renders its first
    ``max_items`` records in a few milliseconds.
    """
    out: list[str] = []
    _node(out, None, data, 0, max_depth, max_items)
    # Safe to render as is: every key and value went through html.escape in _key/_scalar.
    return mark_safe("".join(out))  # noqa: S308 -- built from escaped parts only


def _scalar(value: Any) -> str:
    if value is None:
        return '<span class="j-null">null</span>'
    if isinstance(value, bool):
        return f'<span class="j-bool">{"true" if value else "false"}</span>'
    if isinstance(value, int | float):
        return f'<span class="j-num">{escape(json.dumps(value))}</span>'
    text = str(value)
    if len(text) > 300:
        text = text[:300] + "…"
    return f'<span class="j-str">{escape(json.dumps(text, ensure_ascii=False))}</span>'


def _key(key: Any) -> str:
    return "" if key is None else f'<span class="j-key">{escape(str(key))}</span>: '


def _node(out: list[str], key: Any, value: Any, depth: int, max_depth: int, max_items: int) -> None:
    if not isinstance(value, dict | list):
        out.append(f'<div class="j-leaf">{_key(key)}{_scalar(value)}</div>')
        return
    is_list = isinstance(value, list)
    size = len(value)
    summary = f"[{size} item{'s' if size != 1 else ''}]" if is_list else f"{{{size} key{'s' if size != 1 else ''}}}"
    if depth >= max_depth:
        out.append(f'<div class="j-leaf">{_key(key)}<span class="muted">{summary} (too deep to show)</span></div>')
        return
    # The top levels open, and the first record, so its fields show without a click.
    opened = " open" if depth < TREE_OPEN_DEPTH or (depth == TREE_OPEN_DEPTH and key == 0) else ""
    out.append(f'<details class="j-node"{opened}><summary>{_key(key)}<span class="muted">{summary}</span></summary>')
    items = enumerate(value) if is_list else value.items()
    for shown, (child_key, child) in enumerate(items):
        if shown >= max_items:
            out.append(f'<div class="j-more muted">… {size - max_items:,} more not shown</div>')
            break
        _node(out, child_key, child, depth + 1, max_depth, max_items)
    out.append("</details>")
