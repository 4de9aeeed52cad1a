"""A small generic JSON REST API, for testing connections that are not Vtiger.

    GET  /custom/v1/deals             the Potentials as plain JSON (numbers as numbers, ISO dates)
    GET  /custom/v1/secure/deals      the same, behind a bearer token, an API key or Basic auth
    GET  /custom/v1/redirect?to=URL   302 to URL (redirect-safety tests)
    GET  /custom/v1/html              a 200 HTML page (not JSON)
    GET  /custom/v1/big?kb=N          about N KB of JSON (size-cap tests)
    GET  /custom/v1/status/<code>     answers with that status and a small JSON body
    GET|POST /custom/v1/echo          echoes the method, query and JSON body

Deals take ``paginate=page|offset|cursor|next|none`` (default none) and ``since``/``until``
(ISO dates or datetimes) filtering ``created_at``.
"""

import base64
import binascii
import functools
import hmac
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlencode

from sandbox import DEMO_ACCESS_KEY, DEMO_USERNAME

BEARER_TOKEN = "sandbox-token"  # noqa: S105 - the sandbox's published demo credential
API_KEY = "sandbox-api-key"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
MAX_BIG_KB = 32 * 1024
PAGINATION_STYLES = ("page", "offset", "cursor", "next", "none")


@dataclass
class Result:
    status: int = 200
    json: object = None
    body: bytes = b""
    content_type: str = "application/json"
    headers: list = field(default_factory=list)


class _BadRequest(Exception):
    pass


def _error(status, message, headers=()):
    return Result(status, {"error": message}, headers=list(headers))


def _iso(timestamp):
    return timestamp.replace(" ", "T") + "Z"


def _account(row):
    if row is None:
        return None
    return {"id": int(row["id"].split("x")[1]), "name": row["accountname"]}


@functools.lru_cache(maxsize=4)
def deals(dataset):
    """The Potentials as a typical JSON API would publish them."""
    accounts = {row["id"]: row for row in dataset.records("Accounts")}
    out = []
    for row in dataset.records("Potentials"):
        account = accounts.get(row["related_to"])
        stage = row["sales_stage"]
        out.append(
            {
                "id": int(row["id"].split("x")[1]),
                "number": row["potential_no"],
                "name": row["potentialname"],
                "amount": float(row["amount"]),
                "currency": "USD",
                "stage": stage,
                "probability": float(row["probability"]),
                "closed": stage.startswith("Closed"),
                "won": stage == "Closed Won",
                "close_date": row["closingdate"],
                "created_at": _iso(row["createdtime"]),
                "updated_at": _iso(row["modifiedtime"]),
                "lead_source": row["leadsource"] or None,
                "type": row["opportunity_type"] or None,
                "account": _account(account),
            }
        )
    return tuple(out)


def _int_param(query, name, default, minimum=0, maximum=None):
    raw = (query.get(name) or [""])[0]
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _BadRequest(f"{name} must be a whole number") from None
    if value < minimum:
        raise _BadRequest(f"{name} must be at least {minimum}")
    return min(value, maximum) if maximum is not None else value


def _moment(text, name):
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _BadRequest(f"{name} must be an ISO 8601 date or datetime") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _encode_cursor(offset):
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def _decode_cursor(cursor):
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        offset = json.loads(base64.urlsafe_b64decode(padded))["o"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise _BadRequest("invalid cursor") from None
    if not isinstance(offset, int) or offset < 0:
        raise _BadRequest("invalid cursor")
    return offset


def _filtered_deals(dataset, query):
    items = list(deals(dataset))
    since, until = (query.get("since") or [""])[0], (query.get("until") or [""])[0]
    if since:
        start = _moment(since, "since")
        items = [d for d in items if _moment(d["created_at"], "created_at") >= start]
    if until:
        end = _moment(until, "until")
        items = [d for d in items if _moment(d["created_at"], "created_at") < end]
    return items


def _paginate(items, request):
    query = request.query
    style = (query.get("paginate") or ["none"])[0]
    if style not in PAGINATION_STYLES:
        raise _BadRequest(f"paginate must be one of {', '.join(PAGINATION_STYLES)}")
    total = len(items)
    if style == "none":
        return items
    if style == "offset":
        offset = _int_param(query, "offset", 0)
        limit = _int_param(query, "limit", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
        return {"data": items[offset : offset + limit], "total": total, "offset": offset, "limit": limit}
    if style == "cursor":
        cursor = (query.get("cursor") or [""])[0]
        offset = _decode_cursor(cursor) if cursor else 0
        limit = _int_param(query, "limit", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
        more = offset + limit < total
        return {"data": items[offset : offset + limit], "next_cursor": _encode_cursor(offset + limit) if more else None}
    page = _int_param(query, "page", 1, 1)
    per_page = _int_param(query, "per_page", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    data = items[(page - 1) * per_page : page * per_page]
    total_pages = math.ceil(total / per_page)
    if style == "page":
        return {"data": data, "page": page, "per_page": per_page, "total_pages": total_pages, "total": total}
    next_url = None
    if page < total_pages:
        params = {name: values[0] for name, values in query.items()}
        params.update(page=str(page + 1), per_page=str(per_page))
        next_url = f"{request.base_url}{request.path}?{urlencode(params)}"
    return {"data": data, "next": next_url}


def _authorised(request):
    headers, query = request.headers, request.query
    authorization = headers.get("Authorization") or ""
    scheme, _, credential = authorization.partition(" ")
    credential = credential.strip()
    if scheme.lower() == "bearer" and hmac.compare_digest(credential.encode(), BEARER_TOKEN.encode()):
        return True
    if scheme.lower() == "basic":
        try:
            username, _, password = base64.b64decode(credential, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return username == DEMO_USERNAME and hmac.compare_digest(password.encode(), DEMO_ACCESS_KEY.encode())
    header_key = headers.get("X-API-Key") or ""
    query_key = (query.get("api_key") or [""])[0]
    return any(hmac.compare_digest(key.encode(), API_KEY.encode()) for key in (header_key, query_key) if key)


def _big(query):
    kb = _int_param(query, "kb", 1024, 1, MAX_BIG_KB)
    pad = "x" * 1000
    items = ",".join(f'{{"i":{i},"pad":"{pad}"}}' for i in range(kb))
    return Result(body=f'{{"kb":{kb},"items":[{items}]}}'.encode())


def _echo(request):
    body = None
    if request.body:
        try:
            body = json.loads(request.body)
        except ValueError:
            body = request.body.decode("utf-8", "replace")
    return Result(
        json={
            "method": request.method,
            "path": request.path,
            "query": {name: values if len(values) > 1 else values[0] for name, values in request.query.items()},
            "content_type": request.headers.get("Content-Type"),
            "json": body,
        }
    )


HTML_PAGE = (
    b"<!doctype html><html><head><title>Not an API</title></head>"
    b"<body><h1>Sandbox</h1><p>This page is HTML, not JSON.</p></body></html>"
)


def handle(dataset, request):
    name = request.path[len("/custom/v1/") :].strip("/")
    if name != "echo" and request.method != "GET":
        return _error(405, "this endpoint answers GET only", [("Allow", "GET")])
    try:
        if name == "deals":
            return Result(json=_paginate(_filtered_deals(dataset, request.query), request))
        if name == "secure/deals":
            if not _authorised(request):
                return _error(401, "unauthorized: send a bearer token or an API key", [("WWW-Authenticate", "Bearer")])
            return Result(json=_paginate(_filtered_deals(dataset, request.query), request))
        if name == "redirect":
            target = (request.query.get("to") or [""])[0]
            if not target:
                raise _BadRequest("to is required")
            status = _int_param(request.query, "status", 302, 300, 399)
            if status not in (301, 302, 303, 307, 308):
                raise _BadRequest("status must be 301, 302, 303, 307 or 308")
            return Result(status, {"redirect": target}, headers=[("Location", target)])
        if name == "html":
            return Result(body=HTML_PAGE, content_type="text/html; charset=utf-8")
        if name == "big":
            return _big(request.query)
        if name.startswith("status/"):
            code = name.split("/", 1)[1]
            if not code.isdigit() or not 200 <= int(code) <= 599:
                raise _BadRequest("status must be 200..599")
            if int(code) in (204, 304):
                return Result(int(code))  # these carry no body
            return Result(int(code), {"status": int(code)})
        if name == "echo":
            return _echo(request)
    except _BadRequest as problem:
        return _error(400, str(problem))
    return _error(404, f"no custom endpoint {name!r}")
