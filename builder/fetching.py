"""Rendering a metric's request and walking its pages: the one path of the wizard's Send and every sync.

    fetched = fetch(client, request_spec, window, zone, limiter=limiter)
    fetched.data                  # every page's records in the first page's body (None when cut)
    fetched.requests, fetched.pages, fetched.cap_hit, fetched.size_bytes, fetched.elapsed_ms, ...

The request is rendered for ``window`` (``builder.placeholders``, written in the connection's data
zone ``zone``; Vtiger: UTC), its pages are walked by ``builder.pagination.Pager`` through
``connections.client``, and each request first waits on the connection's shared budget
(``connections.ratelimit``). The Send request (``builder.preview.send``) and the sync
(``syncs.engine``) both call ``fetch``, so a preview that works is a sync that works; they differ
only in the options they pass: the sync waits as long as the budget needs after its first request
and takes up to ``pagination.MAX_PAGES``; the Send, which an analyst is watching, waits at most
``SEND_BUDGET_WAIT_S`` for any request, caps the pages and bytes, and keeps a cut body's text.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from builder import pagination, placeholders, timeframes
from connections import ratelimit
from connections.client import Client, Response
from connections.errors import RateLimited

# A request an analyst is watching (a Send, the VTQL helper) spends the connection's budget like a
# sync, but waits this long at most for it; then it says the budget is used up and sends nothing.
SEND_BUDGET_WAIT_S = 2.0


@dataclass
class Fetched:
    """What ``fetch`` got, counted as it goes (a caller holding it reads the counts after a failure too).

    ``pages``: the pages whose body was read, the one that failed to page on or was cut included.
    ``status``, ``content_type``: of the last response. ``truncated``: the last body was cut at the
    client's size cap (only with ``allow_truncated``); ``text`` is then its start, and ``data`` None.
    """

    data: Any = None
    requests: int = 0
    pages: int = 0
    cap_hit: bool = False
    size_bytes: int = 0
    waited_s: float = 0.0
    elapsed_ms: int = 0
    status: int | None = None
    content_type: str = ""
    truncated: bool = False
    text: str = ""


def rendered_request(
    request_spec: dict, window: timeframes.Window, zone: str
) -> tuple[str, list[tuple[str, str]], list[tuple[str, str]], Any]:
    """(endpoint, params, headers, body) with the placeholders filled; PlaceholderError on a bad one."""
    endpoint = placeholders.render(request_spec.get("endpoint") or "", window, zone)
    params = [(k, placeholders.render(str(v), window, zone)) for k, v in request_spec.get("params") or []]
    headers = [(k, placeholders.render(str(v), window, zone)) for k, v in request_spec.get("headers") or []]
    body = request_spec.get("body")
    if body is not None:
        body = placeholders.render_json(body, window, zone)
    return endpoint, params, headers, body


def fetch(
    client: Client,
    request_spec: dict,
    window: timeframes.Window,
    zone: str,
    *,
    limiter: ratelimit.ConnectionLimiter | None = None,
    max_pages: int = pagination.MAX_PAGES,
    on_page=None,
    result: Fetched | None = None,
    first_wait_s: float | None = None,
    wait_s: float | None = None,
    max_bytes: int | None = None,
    allow_truncated: bool = False,
) -> Fetched:
    """Every page of the request for ``window``, merged; raises ConnectionProblem, PlaceholderError,
    PaginationError and ``ratelimit.BudgetWait``.

    ``request_spec`` is a definition's ``request`` dict (method, endpoint, params, headers, body,
    pagination). ``limiter`` is waited on before each request and told the flood-control headers
    and 429s. A request that would wait longer for the budget than ``wait_s`` (the first one:
    ``first_wait_s``, when given) raises ``ratelimit.BudgetWait`` instead, nothing sent; without
    them it waits as long as the budget needs (a sync's later pages: the pages fetched so far
    would be lost). ``on_page(fetched)`` runs after each page (the sync's heartbeat). Paging stops
    at ``max_pages`` pages, or once ``max_bytes`` bytes were read in all, with ``cap_hit`` set
    either way. With ``allow_truncated``, a body cut at the client's size cap ends the walk with
    ``truncated`` and its ``text`` instead of raising. ``result``: the ``Fetched`` to count into.
    """
    result = result if result is not None else Fetched()
    method = (request_spec.get("method") or "GET").upper()
    endpoint, params, headers, body = rendered_request(request_spec, window, zone)
    pager = pagination.Pager(request_spec.get("pagination"), endpoint, params, max_pages=max_pages)
    page = pager.first()
    while page is not None:
        longest_wait_s = first_wait_s if first_wait_s is not None and not result.requests else wait_s
        result.waited_s += _wait_for_budget(limiter, longest_wait_s)
        result.requests += 1
        response = _send(
            client,
            limiter,
            method,
            page.endpoint,
            params=page.params,
            headers=headers,
            json_body=body,
            allow_truncated=allow_truncated,
        )
        result.status, result.content_type = response.status, response.content_type
        result.elapsed_ms += response.elapsed_ms
        result.size_bytes += response.size_bytes
        if response.truncated:
            result.truncated, result.text = True, response.text
            result.pages = pager.pages + 1
            page = None
        else:
            try:
                page = pager.advance(response.data)
            finally:
                result.pages = pager.pages
            if page is not None and max_bytes is not None and result.size_bytes >= max_bytes:
                result.cap_hit = True
                page = None
        if on_page is not None:
            on_page(result)
    result.cap_hit = result.cap_hit or pager.cap_hit
    result.data = None if result.truncated else pager.merged()
    return result


def budgeted_request(client: Client, limiter: ratelimit.ConnectionLimiter, method: str, endpoint: str, **kwargs):
    """One request an analyst is watching (the VTQL helper's listtypes, describe), on the connection's
    budget: ``ratelimit.BudgetWait`` (nothing sent) when it frees up only after SEND_BUDGET_WAIT_S."""
    _wait_for_budget(limiter, SEND_BUDGET_WAIT_S)
    return _send(client, limiter, method, endpoint, **kwargs)


def _wait_for_budget(limiter: ratelimit.ConnectionLimiter | None, longest_wait_s: float | None) -> float:
    """Take one request from the budget, waiting for it; the seconds waited (BudgetWait past ``longest_wait_s``)."""
    if limiter is None:
        return 0.0
    deadline = None if longest_wait_s is None else time.monotonic() + longest_wait_s
    return limiter.acquire(deadline)


def _send(
    client: Client, limiter: ratelimit.ConnectionLimiter | None, method: str, endpoint: str, **kwargs
) -> Response:
    """One request; its flood-control headers go to the budget, and a 429 blocks it for every sender."""
    try:
        response = client.request(method, endpoint, **kwargs)
    except RateLimited as problem:
        if limiter is not None:
            limiter.block(problem)  # syncs and other Sends wait for the reset too
        raise
    if limiter is not None:
        limiter.observe(response)
    return response
