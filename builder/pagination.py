"""Pagination: which request fetches the next page, when to stop, and the pages merged into one.

The wizard's Send request and (later) the sync engine walk pages the same way::

    pager = Pager(spec, endpoint, params)          # spec: a definition's request.pagination
    page = pager.first()
    while page is not None:
        response = client.request(method, page.endpoint, params=page.params, ...)
        page = pager.advance(response.data)
    merged = pager.merged()                        # the first page's body, all records inside
    pager.pages, pager.cap_hit                     # pages fetched; True when stopped by the cap

Types and their options (``pagination`` in the definition format; every option has a default):
    ``none``    one request.
    ``page``    ``param`` (``"page"``), ``start`` (1), ``size_param`` and ``size`` (optional; sent
                with each request when both are given). Stops on an empty page, on a page shorter
                than ``size``, or past ``total_pages_path`` (optional dotted path, e.g. ``total_pages``).
    ``offset``  ``offset_param`` (``"offset"``), ``limit_param`` (``"limit"``), ``limit`` (100).
                Stops on an empty or short page.
    ``cursor``  ``cursor_param`` (``"cursor"``), ``cursor_path`` (``"next_cursor"``: where the
                response gives the next cursor). Stops when it is missing, null or empty.
    ``next``    ``next_path`` (``"next"``: where the response gives the next page's full URL, which
                must stay under the connection's base URL; the client refuses anything else).
                Stops when it is missing, null or empty.
    ``vtiger``  ``param`` (``"query"``): the VTQL query gets ``LIMIT offset,100`` (``vtql.with_paging``,
                replacing a LIMIT the analyst wrote), then ``LIMIT 100,100``, ... until an empty page
                (a short page ends it too: Vtiger never returns fewer than it was asked for while
                more rows remain). The records are the envelope's ``result`` list.
Every type but ``vtiger`` and ``next`` takes ``records`` (a dotted path to the page's items; by
default ``builder.dates.find_records`` finds them).

At most ``max_pages`` pages (100, the product's cap per sync; the wizard's preview passes a
smaller one). Stopping at the cap while more pages remain sets ``cap_hit``, which callers show
as a warning.

Pure module: no Django, no models, no I/O.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from builder import vtql
from builder.dates import find_records

# The one declaration of the pagination types: definitions validates against it, the wizard's
# form offers TYPE_LABELS (here, not a TextChoices: this module imports no Django).
TYPES = ("none", "page", "offset", "cursor", "next", "vtiger")
TYPE_LABELS = {
    "none": "None (one request)",
    "page": "Page number",
    "offset": "Offset and limit",
    "cursor": "Cursor",
    "next": "Next link",
    "vtiger": "Vtiger (LIMIT offset,100 until an empty page)",
}
MAX_PAGES = 100
OPTIONS = {
    "none": {},
    "page": {"param": "page", "start": 1, "size_param": "", "size": None, "total_pages_path": "", "records": ""},
    "offset": {"offset_param": "offset", "limit_param": "limit", "limit": 100, "records": ""},
    "cursor": {"cursor_param": "cursor", "cursor_path": "next_cursor", "records": ""},
    "next": {"next_path": "next", "records": ""},
    "vtiger": {"param": "query"},
}
INT_OPTIONS = ("start", "size", "limit")


class PaginationError(ValueError):
    """A pagination spec that cannot be used, or a response it cannot page through."""


@dataclass(frozen=True)
class Page:
    """The request for one page: the endpoint (a path, or the full URL of a next link) and its params."""

    endpoint: str
    params: list[tuple[str, str]] = field(default_factory=list)


def normalise(spec: dict[str, Any] | None) -> dict[str, Any]:
    """The spec with its type checked and every option filled in; PaginationError when unusable."""
    spec = dict(spec or {"type": "none"})
    kind = spec.pop("type", "none") or "none"
    if kind not in TYPES:
        raise PaginationError(f"Unknown pagination type {kind!r}: choose one of {', '.join(TYPES)}.")
    unknown = sorted(set(spec) - set(OPTIONS[kind]))
    if unknown:
        raise PaginationError(f"Pagination {kind!r} has no option {', '.join(unknown)}.")
    options = {**OPTIONS[kind], **{k: v for k, v in spec.items() if v is not None and v != ""}}
    for name in INT_OPTIONS:
        if options.get(name) is not None:
            value = options[name]
            if isinstance(value, bool) or not str(value).isdigit():
                raise PaginationError(f"The pagination option {name} must be a whole number, not {value!r}.")
            options[name] = int(value)
    if kind == "offset" and options["limit"] < 1:
        raise PaginationError("The pagination limit must be at least 1.")
    return {"type": kind, **options}


def validate(spec: dict[str, Any] | None) -> list[str]:
    """Plain messages for what is wrong with a spec (empty when it is usable)."""
    try:
        normalise(spec)
    except PaginationError as exc:
        return [str(exc)]
    return []


def get_path(data: Any, path: str) -> Any:
    """The value at a dotted path (``"meta.next"``), or None when any step is missing."""
    value = data
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _set_path(data: Any, path: str, value: Any) -> Any:
    if not path:
        return value
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node[part]
    node[last] = value
    return data


def _replace(params: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    """``params`` with ``name`` set to ``value``: in place of its first occurrence, else appended."""
    out, done = [], False
    for key, old in params:
        if key == name:
            if not done:
                out.append((key, value))
                done = True
            continue
        out.append((key, old))
    if not done:
        out.append((name, value))
    return out


class Pager:
    """Walks the pages of one request; see the module docstring for the loop."""

    def __init__(
        self,
        spec: dict[str, Any] | None,
        endpoint: str,
        params: list[tuple[str, str]] | tuple = (),
        max_pages: int = MAX_PAGES,
    ) -> None:
        self.spec = normalise(spec)
        self.kind = self.spec["type"]
        self.endpoint = endpoint
        self.params = [(str(k), str(v)) for k, v in params]
        self.max_pages = max(1, min(int(max_pages), MAX_PAGES))
        self.pages = 0
        self.cap_hit = False
        self.records: list[Any] = []
        self.records_path: str | None = None
        self.first_body: Any = None
        self._number = 0  # page number or offset of the page last asked for
        self._query = ""
        if self.kind == "vtiger":
            self._query = next((v for k, v in self.params if k == self.spec["param"]), "")
            if not self._query.strip():
                name = self.spec["param"]
                raise PaginationError(f"Vtiger pagination pages a query: the {name!r} parameter is empty.")

    # ------------------------------------------------------------ requests

    def _page_for(self, number: int) -> Page:
        spec, params = self.spec, self.params
        if self.kind == "page":
            params = _replace(params, spec["param"], str(number))
            if spec["size_param"] and spec["size"]:
                params = _replace(params, spec["size_param"], str(spec["size"]))
        elif self.kind == "offset":
            params = _replace(params, spec["offset_param"], str(number))
            params = _replace(params, spec["limit_param"], str(spec["limit"]))
        elif self.kind == "vtiger":
            params = _replace(params, spec["param"], vtql.with_paging(self._query, number, vtql.PAGE_SIZE))
        return Page(endpoint=self.endpoint, params=params)

    def first(self) -> Page:
        """The request for the first page."""
        self._number = {"page": self.spec.get("start", 1), "offset": 0, "vtiger": 0}.get(self.kind, 0)
        return self._page_for(self._number)

    # ------------------------------------------------------------ reading pages

    def _page_records(self, data: Any) -> list[Any]:
        if self.kind == "vtiger":
            result = data.get("result") if isinstance(data, dict) and "success" in data else data
            if not isinstance(result, list):
                raise PaginationError("Vtiger pagination needs a query answer: its result is not a list of records.")
            self.records_path = "result" if isinstance(data, dict) and "success" in data else ""
            return result
        wanted = self.spec.get("records") or ""
        if wanted:
            items = data if wanted == "$" else get_path(data, wanted)
            if not isinstance(items, list):
                raise PaginationError(f"The pagination's records path {wanted!r} does not lead to a list.")
            self.records_path = "" if wanted == "$" else wanted
            return items
        if self.records_path is None:
            path, items = find_records(data)
            self.records_path = path
            return items if path is not None else []
        items = data if self.records_path == "" else get_path(data, self.records_path)
        return items if isinstance(items, list) else []

    def advance(self, data: Any) -> Page | None:
        """Take in one page's parsed body; the request for the next page, or None when done."""
        self.pages += 1
        if self.pages == 1:
            self.first_body = data
        if self.kind == "none":
            return None
        items = self._page_records(data)
        self.records.extend(items)
        following = self._next(data, items)
        if following is not None and self.pages >= self.max_pages:
            self.cap_hit = True
            return None
        return following

    def _next(self, data: Any, items: list[Any]) -> Page | None:
        spec = self.spec
        if self.kind == "vtiger":
            if len(items) < vtql.PAGE_SIZE:
                return None
            self._number += vtql.PAGE_SIZE
            return self._page_for(self._number)
        if self.kind == "offset":
            if len(items) < spec["limit"]:
                return None
            self._number += len(items)
            return self._page_for(self._number)
        if self.kind == "page":
            if not items or (spec["size"] and len(items) < spec["size"]):
                return None
            total = get_path(data, spec["total_pages_path"]) if spec["total_pages_path"] else None
            if isinstance(total, int | float) and not isinstance(total, bool) and self._number >= total:
                return None
            self._number += 1
            return self._page_for(self._number)
        if self.kind == "cursor":
            cursor = get_path(data, spec["cursor_path"])
            if cursor is None or cursor == "" or cursor is False or not items:
                return None
            return Page(endpoint=self.endpoint, params=_replace(self.params, spec["cursor_param"], str(cursor)))
        if self.kind == "next":
            link = get_path(data, spec["next_path"])
            if not isinstance(link, str) or not link.strip() or not items:
                return None
            return Page(endpoint=link.strip(), params=[])
        return None

    # ------------------------------------------------------------ the result

    def merged(self) -> Any:
        """The first page's body with every page's records in place of its own (one page: the body)."""
        if self.kind == "none" or self.pages <= 1 or self.records_path is None:
            return self.first_body
        if self.records_path == "":
            return list(self.records)
        body = copy.copy(self.first_body)
        # Copy only the containers on the path, so the first page's body is not changed.
        node = body
        parts = self.records_path.split(".")
        for part in parts[:-1]:
            node[part] = copy.copy(node[part])
            node = node[part]
        return _set_path(body, self.records_path, list(self.records))
