"""A secret is masked in every form an API may echo it in: raw, JSON-escaped, percent-encoded,
base64 (alone and as user:secret), before parsing and after, in what the wizard shows, what a
draft stores, error snippets and logs.

The upstream here is a loopback server that echoes each request (its headers, its query
string, the credential in base64) through one of several JSON encoders; the secrets carry
``/``, ``+``, ``=``, quotes, spaces and non-ASCII characters so that every escaping shows.
"""

import base64
import html
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

import pytest
from django.urls import reverse

from builder import preview
from builder.wizard_drafts import new_draft
from connections import masking, safejson
from connections.client import Client
from connections.errors import MASK, scrub, snippet
from tests.connections.factories import custom_connection

USER = "demo"
# Header values travel as Latin-1, so the header secrets keep to it; the others do not.
TOKEN = "Tök/3n+\"q'=Zx9/+8==Lm ab"
HEADER_KEY = 'Abcdef123456/+=ghIJKL"é'
PASSWORD = "pä/ss+\"wörd'=Ω✓😀 x"
QUERY_KEY = "kéy/+=\"'&? 42Ω-Qrstuvwx"

AUTHS = {
    "bearer": ({"auth_type": "bearer", "secrets": {"token": TOKEN}}, TOKEN),
    "basic": ({"auth_type": "basic", "username": USER, "secrets": {"password": PASSWORD}}, PASSWORD),
    "api_key_header": (
        {"auth_type": "api_key_header", "options": {"api_key_name": "X-API-Key"}, "secrets": {"api_key": HEADER_KEY}},
        HEADER_KEY,
    ),
    "api_key_query": (
        {"auth_type": "api_key_query", "options": {"api_key_name": "api_key"}, "secrets": {"api_key": QUERY_KEY}},
        QUERY_KEY,
    ),
}


def _b64_forms(raw: bytes):
    std = base64.b64encode(raw).decode()
    url = base64.urlsafe_b64encode(raw).decode()
    return [std, std.rstrip("="), url, url.rstrip("=")]


def _all_escaped(text, upper=False):
    units = text.encode("utf-16-be")
    return "".join(
        f"\\u{units[i : i + 2].hex().upper() if upper else units[i : i + 2].hex()}" for i in range(0, len(units), 2)
    )


def forms_of(secret):
    """Every encoding of `secret` this suite looks for in what we show, store and log."""
    forms = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        json.dumps(secret)[1:-1].replace("/", "\\/"),
        _all_escaped(secret),
        _all_escaped(secret, upper=True),
        quote(secret, safe=""),
        quote_plus(secret),
        _lower_escapes(quote(secret, safe="")),
        _lower_escapes(quote_plus(secret)),
        html.escape(secret),
        *_b64_forms(secret.encode()),
        *_b64_forms(f"{USER}:{secret}".encode()),
    }
    # The raw form is in all the others that leave letters alone; keep only forms long enough
    # not to turn up by chance.
    return {form for form in forms if len(form) >= 6}


def assert_no_form(secret, *texts):
    text = "\n".join(texts)
    for candidate in (text, html.unescape(text)):
        for form in forms_of(secret):
            assert form not in candidate, f"a form of the secret is shown: {form!r}"


# ---------------------------------------------------------------- the echoing upstream


def _escape_all(value, upper=False):
    """JSON with every character of every string written as \\uXXXX."""
    if isinstance(value, str):
        return '"' + _all_escaped(value, upper) + '"'
    if isinstance(value, dict):
        return "{" + ",".join(f"{_escape_all(k, upper)}:{_escape_all(v, upper)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_escape_all(v, upper) for v in value) + "]"
    return json.dumps(value)


ENCODERS = {
    "plain": lambda echo: json.dumps(echo),
    "unescaped": lambda echo: json.dumps(echo, ensure_ascii=False),
    "php": lambda echo: json.dumps(echo).replace("/", "\\/"),  # PHP's json_encode
    "escaped": lambda echo: _escape_all(echo),
    "escaped-upper": lambda echo: _escape_all(echo, upper=True),
}


def _credential(handler, query):
    """The secret the request carried, however it was sent."""
    auth = handler.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        return auth[len("Bearer ") :]
    if auth.startswith("Basic "):
        return base64.b64decode(auth[len("Basic ") :]).decode().partition(":")[2]
    return handler.headers.get("X-API-Key") or dict(query).get("api_key", "")


class EchoHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        parts = urlsplit(self.path)
        name = parts.path.rsplit("/", 1)[-1]
        query = parse_qsl(parts.query, keep_blank_values=True)
        secret = _credential(self, query)
        if name == "deep":
            return self._send(200, "application/json", "[" * 100_000 + "]" * 100_000)
        echo = {
            "headers": dict(self.headers.items()),
            "query_string": parts.query,
            "query_string_lower": _lower_escapes(parts.query),
            "query": dict(query),
            "quoted": quote(secret, safe=""),
            "base64": _b64_forms(secret.encode()),
            "basic": _b64_forms(f"{USER}:{secret}".encode()),
            "in_a_longer_token": base64.b64encode(f"x{secret}yz".encode()).decode(),
            secret: "the secret as a key",
        }
        # An error quotes what it got first, within the snippet an error message keeps.
        short = {"got": secret, "quoted": quote_plus(secret), "basic": _b64_forms(f"{USER}:{secret}".encode())[1]}
        if name == "html-error":
            body = f"<html><body><h1>Error</h1><pre>{html.escape(json.dumps(short, ensure_ascii=False))}</pre>"
            return self._send(500, "text/html", body)
        if name == "bad-request":
            return self._send(400, "application/json", ENCODERS["php"](short))
        if name == "not-json":
            return self._send(200, "text/plain", "echo: " + ENCODERS["escaped"](short))
        return self._send(200, "application/json", ENCODERS[name](echo))

    def _send(self, status, content_type, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _lower_escapes(query):
    out, i = [], 0
    while i < len(query):
        if query[i] == "%":
            out.append(query[i : i + 3].lower())
            i += 3
        else:
            out.append(query[i])
            i += 1
    return "".join(out)


@pytest.fixture(scope="module")
def echo_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api"
    server.shutdown()
    server.server_close()


def _connection(echo_url, auth):
    options = {"allowed_methods": ["GET"], "data_timezone": "UTC", **AUTHS[auth][0].get("options", {})}
    kwargs = {k: v for k, v in AUTHS[auth][0].items() if k != "options"}
    return custom_connection(echo_url, options=options, **kwargs)


def _spec(endpoint):
    return {"method": "GET", "endpoint": endpoint, "params": [], "headers": [], "body": None, "pagination": None}


# ---------------------------------------------------------------- the echo holds the secret...


@pytest.mark.parametrize("encoder", list(ENCODERS))
def test_the_upstream_really_echoes_each_form(echo_url, encoder):
    """Without masking, each of these bodies holds the secret: the tests below mean something."""
    import requests

    body = requests.get(f"{echo_url}/{encoder}", params={"api_key": QUERY_KEY}, timeout=5).text
    data = json.loads(body)
    assert data["query"]["api_key"] == QUERY_KEY and QUERY_KEY in data  # after parsing: raw
    assert quote_plus(QUERY_KEY) in data["query_string"] and quote(QUERY_KEY, safe="") == data["quoted"]
    if encoder.startswith("escaped"):
        assert _all_escaped(QUERY_KEY, upper=encoder.endswith("upper")) in body  # before parsing: escaped
    if encoder == "php":
        assert json.dumps(QUERY_KEY)[1:-1].replace("/", "\\/") in body


# ---------------------------------------------------------------- ...and nothing we keep does


@pytest.mark.django_db
@pytest.mark.parametrize("auth", list(AUTHS))
@pytest.mark.parametrize("encoder", list(ENCODERS))
def test_send_preview_and_the_stored_draft_hold_no_form_of_the_secret(echo_url, auth, encoder, analyst_user, caplog):
    caplog.set_level(logging.DEBUG)
    connection = _connection(echo_url, auth)
    secret = AUTHS[auth][1]
    draft = new_draft(analyst_user, connection)
    draft.definition["request"] = _spec(encoder)
    result = preview.send_for_draft(draft, connection, "UTC")
    assert result.ok, result.error
    assert MASK in json.dumps(result.data, ensure_ascii=False)  # the echo was there, and masked
    draft.refresh_from_db()
    stored = json.dumps(draft.response) + json.dumps(draft.response, ensure_ascii=False)
    meta = json.dumps(draft.response_meta, ensure_ascii=False, default=str)
    logs = "\n".join(r.getMessage() for r in caplog.records)
    assert_no_form(secret, stored, meta, logs)
    # What the wizard lets analysts browse: the response viewer.
    assert_no_form(secret, str(preview.json_tree(draft.response)))


@pytest.mark.django_db
@pytest.mark.parametrize("auth", list(AUTHS))
@pytest.mark.parametrize("endpoint", ["html-error", "bad-request", "not-json"])
def test_error_snippets_hold_no_form_of_the_secret(echo_url, auth, endpoint):
    connection = _connection(echo_url, auth)
    result = preview.send(connection, _spec(endpoint))
    assert not result.ok
    assert result.error.get("snippet"), result.error  # the error did quote the answer...
    assert_no_form(AUTHS[auth][1], json.dumps(result.error, ensure_ascii=False))  # ...masked


@pytest.mark.django_db
def test_the_client_masks_headers_text_and_data(echo_url):
    connection = _connection(echo_url, "basic")
    with Client(connection) as client:
        response = client.request("GET", "php")
    assert_no_form(PASSWORD, response.text, json.dumps(response.data, ensure_ascii=False), json.dumps(response.headers))
    assert response.data["headers"]["Authorization"] == MASK  # the whole header value is a secret
    assert response.data["query"] == {} and response.data[MASK] == "the secret as a key"


def test_what_the_wizard_shows_after_send_holds_no_form_of_the_secret(echo_url, analyst_client):
    from builder.models import Draft

    connection = _connection(echo_url, "api_key_query")
    analyst_client.post(reverse("builder:start"), {"connection": str(connection.uuid)})
    draft = Draft.objects.latest("created_at")
    data = {
        "connection": str(connection.uuid),
        "endpoint": "escaped",
        "method": "GET",
        "pagination": "none",
        "pagination_options": "",
        "preview_range": draft.preview_range,
        "body": "",
        "params-TOTAL_FORMS": "0",
    }
    page = analyst_client.post(reverse("builder:send", args=[draft.uuid]), data, HTTP_HX_REQUEST="true")
    assert page.status_code == 200
    text = page.content.decode()
    assert "query_string" in text  # the response is shown...
    assert_no_form(QUERY_KEY, text)  # ...without the key


# ---------------------------------------------------------------- deep nesting


@pytest.mark.django_db
def test_a_response_nested_too_deeply_is_a_plain_error(echo_url, analyst_client):
    connection = _connection(echo_url, "bearer")
    result = preview.send(connection, _spec("deep"))
    assert result.error["kind"] == "too_deep"
    assert result.error["message"].startswith(
        f"The response is nested too deeply to read (over {safejson.MAX_DEPTH} levels"
    )
    from builder.models import Draft

    analyst_client.post(reverse("builder:start"), {"connection": str(connection.uuid)})
    draft = Draft.objects.latest("created_at")
    data = {
        "connection": str(connection.uuid),
        "endpoint": "deep",
        "method": "GET",
        "pagination": "none",
        "pagination_options": "",
        "preview_range": draft.preview_range,
        "body": "",
        "params-TOTAL_FORMS": "0",
    }
    analyst_client.raise_request_exception = False
    page = analyst_client.post(reverse("builder:send", args=[draft.uuid]), data, HTTP_HX_REQUEST="true")
    assert page.status_code == 200
    assert "nested too deeply to read" in page.content.decode()


def test_safejson_bounds_the_depth():
    assert safejson.loads("[[[1]]]", max_depth=3) == [[[1]]]
    with pytest.raises(safejson.NestingTooDeep, match="over 2 levels"):
        safejson.loads("[[[1]]]", max_depth=2)
    with pytest.raises(safejson.NestingTooDeep):
        safejson.loads('{"a":' * 100_000 + "1" + "}" * 100_000)
    assert not safejson.deeper_than({"a": [{"b": 1}] * 1000}, 3)


# ---------------------------------------------------------------- the masker itself


@pytest.mark.parametrize("secret", [TOKEN, HEADER_KEY, PASSWORD, QUERY_KEY, "plainalnumsecret1234"])
def test_every_form_is_masked_inside_other_text(secret):
    masker = masking.masker_for({secret}, {USER})
    for form in forms_of(secret) | {base64.b64encode(f"ab{secret}cdef".encode()).decode()}:
        text = f'{{"before": 1, "value": "{form}", "after": "tail"}}'
        masked = masker.mask(text)
        assert MASK in masked and "tail" in masked and '"before": 1' in masked, form
        assert_no_form(secret, masked)


def test_mixed_escapes_within_one_secret_are_masked():
    secret = "abc/déf+ghi=jkl"
    mixed = "abc\\/d\\u00e9f%2Bghi%3djkl"  # JSON and percent escapes in one value
    assert scrub(f"x {mixed} y", {secret}) == f"x {MASK} y"
    doubled = json.dumps(json.dumps({"k": secret}))  # JSON inside a JSON string
    assert secret not in json.loads(json.loads(scrub(doubled, {secret})))["k"]


def test_data_is_masked_after_parsing_keys_included():
    masker = masking.masker_for({QUERY_KEY})
    data = {"list": [quote_plus(QUERY_KEY), {QUERY_KEY: 1}], "n": 3, "ok": True, "none": None}
    assert masker.mask_data(data) == {"list": [MASK, {MASK: 1}], "n": 3, "ok": True, "none": None}


def test_ordinary_text_and_short_values_are_left_alone():
    masker = masking.masker_for({"sandbox-api-key", "abc"}, {USER})
    text = json.dumps({"name": "Sandbox API", "abc": "abcdef", "url": "https:\\/\\/example.com\\/a%2Fb"})
    assert masker.mask(text) == text and not masker.found_in(text)
    assert repr(masker) == "<Masker>"


def test_a_snippet_never_shows_part_of_a_secret_cut_at_the_limit():
    secret = "0123456789abcdefghij"
    text = "x" * 295 + quote(secret)
    assert "01234" not in snippet(text, {secret}, limit=300)


def test_a_secret_the_patterns_cannot_place_still_fails_closed():
    secret = "deep-secret-value"
    # Percent-encoding three times over: the decoder reaches it, the in-place pattern does not.
    triple = quote(quote(quote(secret, safe="").replace("-", "%2D"), safe=""), safe="")
    assert masking.masker_for({secret}).mask(f"a {triple} b") == MASK


def test_the_head_of_a_large_echo_is_masked_whole_at_its_cut():
    secret = "abcdefgh12345678/+="
    masker = masking.masker_for({secret})
    for pad in range(0, 40, 7):
        # Masking shrinks each occurrence; none may slip in part into the head.
        text = "x" * pad + (" " + quote(secret, safe="")) * 2000
        head = masker.mask_head(text, 2000)
        assert len(head) == 2000 and "abcdefgh" not in head and "12345678" not in head
        assert head.count(MASK) > 100
    assert masker.mask_head("short and clean", 5) == "short"
