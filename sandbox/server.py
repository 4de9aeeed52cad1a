"""The sandbox HTTP server: Vtiger Cloud REST, self-hosted webservice.php, a custom JSON API
and the /_sandbox/ control endpoints, on the standard library's ThreadingHTTPServer.

    server = SandboxServer(port=0, rate_limit_per_minute=30).start()
    requests.get(server.url + "/restapi/v1/vtiger/default/me", auth=(DEMO_USERNAME, DEMO_ACCESS_KEY))
    server.stop()

Transport decisions, each mirroring what the real servers do:
* Cloud REST: HTTP Basic on every call (401 + JSON error otherwise); call errors are HTTP 400
  with the JSON envelope and the message as the reason phrase. The sandbox serves GET only:
  any other method is 405 with an ``Allow: GET`` header and an ACCESS_DENIED envelope.
* webservice.php: every answer is HTTP 200 JSON with the success flag, except what crashes
  on 8.2 (unknown or empty operation, logout, and sync when ``selfhosted_sync_broken``): an
  HTTP 500 with an empty text/html body.
* Both, and the custom API: flood-control headers on every answer, 429 with Retry-After and
  a RATE_LIMIT_EXCEEDED envelope over the budget, and the latency/hang/error/malformed
  switches. The /_sandbox/ endpoints are exempt from all of that and need no auth.
"""

import base64
import binascii
import email.policy
import functools
import hmac
import json
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from email.parser import BytesParser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from sandbox import DEFAULT_SEED, DEMO_ACCESS_KEY, DEMO_USERNAME, custom_api, operations
from sandbox.controls import SandboxState, validate_switches
from sandbox.data import build_dataset
from sandbox.errors import (
    ACCESS_DENIED,
    AUTHENTICATION_REQUIRED,
    INTERNAL_ERROR_MESSAGE,
    INTERNAL_SERVER_ERROR,
    INVALID_AUTH_TOKEN,
    INVALID_SESSIONID,
    INVALID_USER_CREDENTIALS,
    RATE_LIMIT_EXCEEDED,
    UNKNOWN_OPERATION,
    VtigerError,
)

REST_PREFIX = "/restapi/v1/vtiger/default/"
WEBSERVICE_PATH = "/webservice.php"
CUSTOM_PREFIX = "/custom/v1/"
CONTROL_PREFIX = "/_sandbox/"
MAX_BODY_BYTES = 1_000_000

JSON_TYPE = "application/json"
HTML_TYPE = "text/html; charset=UTF-8"

# webservice.php operations and the method each is registered with (vtiger_ws_operation).
WEBSERVICE_OPERATIONS = {
    "getchallenge": "GET",
    "login": "POST",
    "logout": "POST",
    "listtypes": "GET",
    "describe": "GET",
    "query": "GET",
    "retrieve": "GET",
    "sync": "GET",
}

LOGIN_DETAILS = {
    "username": DEMO_USERNAME,
    "time_zone": "UTC",
    "hour_format": "12",
    "date_format": "yyyy-mm-dd",
    "is_admin": "on",
    "call_duration": "5",
    "other_event_duration": "5",
}


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: list = field(default_factory=list)
    reason: str | None = None


def json_reply(payload, status=200, headers=(), reason=None, content_type=JSON_TYPE):
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Reply(status, body, content_type, list(headers), reason)


def empty_crash():
    """What 8.2 sends when PHP dies mid-operation: HTTP 500, text/html, no body at all."""
    return Reply(500, b"", HTML_TYPE)


def _reason_phrase(message):
    # The status line is latin-1 and one line; the message may carry user input.
    text = " ".join(str(message).split())
    return text.encode("ascii", "replace").decode("ascii")[:200] or "Bad Request"


def _first(params, name, default=None):
    values = params.get(name)
    return values[0] if values else default


def _field_type_list(params):
    # PHP clients send fieldTypeList[]=email; the SDKs send fieldTypeList=<JSON list or null>.
    return params.get("fieldTypeList", []) + params.get("fieldTypeList[]", [])


class _Request:
    """The parts of an HTTP request the handlers read."""

    def __init__(self, method, path, query, body, headers, base_url):
        self.method = method
        self.path = path
        self.query = query  # dict name -> list of values
        self.body = body
        self.headers = headers
        self.base_url = base_url

    @functools.cached_property
    def form(self):
        """POST form fields, as PHP's $_POST: url-encoded or multipart."""
        if self.method != "POST":
            return {}
        content_type = self.headers.get("Content-Type") or ""
        kind = content_type.split(";")[0].strip().lower()
        if kind in ("", "application/x-www-form-urlencoded"):
            return parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        if kind == "multipart/form-data":
            message = BytesParser(policy=email.policy.HTTP).parsebytes(
                f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", "replace") + self.body
            )
            fields = {}
            for part in message.iter_parts() if message.is_multipart() else ():
                name = part.get_param("name", header="content-disposition")
                if name and part.get_filename() is None:
                    fields.setdefault(name, []).append(
                        part.get_content().strip("\r\n") if part.get_content_maintype() == "text" else ""
                    )
            return fields
        return {}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in one segment (the writer is flushed after each request), and
    # without Nagle: on a keep-alive connection, separate small writes cost ~40 ms each.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True

    def version_string(self):
        return "VtigerSandbox/1.0"

    # The sandbox logs one line per request itself (see _log), or nothing.
    def log_message(self, format, *args):  # noqa: A002 - BaseHTTPRequestHandler's signature
        pass

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def do_PUT(self):
        self._serve("PUT")

    def do_DELETE(self):
        self._serve("DELETE")

    def do_PATCH(self):
        self._serve("PATCH")

    def _serve(self, method):
        started = time.monotonic()
        sandbox = self.server.sandbox
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self.close_connection = True  # the body was not read, so the connection cannot be reused
            self._send(json_reply({"error": "bad or too large Content-Length"}, 400 if length < 0 else 413))
            return
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        host = self.headers.get("Host") or f"{self.server.server_address[0]}:{self.server.server_address[1]}"
        request = _Request(
            method, parts.path, parse_qs(parts.query, keep_blank_values=True), body, self.headers, f"http://{host}"
        )
        try:
            reply = sandbox.handle(request)
        except Exception:  # a sandbox bug must answer 500, not drop the connection
            traceback.print_exc()
            reply = json_reply(VtigerError(INTERNAL_SERVER_ERROR, INTERNAL_ERROR_MESSAGE).envelope(), 500)
        self._send(reply)
        if sandbox.log_requests:
            elapsed = (time.monotonic() - started) * 1000
            print(f"{self.client_address[0]} {method} {self.path} {reply.status} {elapsed:.0f}ms", flush=True)

    def _send(self, reply):
        self.send_response(reply.status, reply.reason)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    # socketserver's default backlog of 5 drops connections when several workers connect at
    # once, and each dropped SYN costs the client a one-second retransmit.
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # A client that gave up (a timeout test) is expected, not an error worth a traceback.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class SandboxServer:
    """A running sandbox. Thread-safe; switches can change while it serves."""

    def __init__(
        self, host="127.0.0.1", port=0, seed=DEFAULT_SEED, today=None, log_requests=False, scale=1, **switches
    ):
        self.host = host
        self._requested_port = port
        self.dataset = build_dataset(seed=seed, today=today, scale=scale)
        self.state = SandboxState(validate_switches(switches))
        self.log_requests = log_requests
        self._httpd = None
        self._thread = None

    # -- lifecycle --

    def start(self):
        self._httpd = _HTTPServer((self.host, self._requested_port), _Handler)
        self._httpd.sandbox = self
        # A short poll interval makes stop() quick; the cost is a few idle wake-ups per second.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="vtiger-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def wait(self):
        """Block until the server stops (Ctrl-C still gets through: join() with a timeout)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)

    def stop(self):
        self.state.stop()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def port(self):
        return self._httpd.server_address[1] if self._httpd else self._requested_port

    @property
    def url(self):
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def rest_url(self):
        return self.url + REST_PREFIX.rstrip("/")

    @property
    def webservice_url(self):
        return self.url + WEBSERVICE_PATH

    # -- switches --

    def configure(self, **switches):
        return self.state.configure(**switches)

    def reset(self):
        return self.state.reset()

    def stats(self):
        return self.state.stats()

    @property
    def config(self):
        return self.state.config()

    # -- dispatch --

    def handle(self, request):
        path = request.path
        if path.startswith(CONTROL_PREFIX):
            return self._control(request)
        if path.startswith(REST_PREFIX):
            return self._api(request, "rest/" + path[len(REST_PREFIX) :], self._rest)
        if path == WEBSERVICE_PATH:
            operation = _first(request.form, "operation") or _first(request.query, "operation") or ""
            return self._api(request, f"webservice/{operation}", self._webservice)
        if path.startswith(CUSTOM_PREFIX):
            return self._api(request, "custom/" + path[len(CUSTOM_PREFIX) :], self._custom)
        if path in ("/", ""):
            return json_reply(self.info())
        return json_reply({"error": f"nothing at {path}; see {CONTROL_PREFIX}info"}, 404)

    def info(self):
        return {
            "name": "Vtiger sandbox",
            "seed": self.dataset.seed,
            "today": self.dataset.today.isoformat(),
            "username": DEMO_USERNAME,
            "access_key": DEMO_ACCESS_KEY,
            "rest_base_url": self.rest_url,
            "webservice_url": self.webservice_url,
            "custom_base_url": self.url + CUSTOM_PREFIX.rstrip("/"),
            "counts": {module: self.dataset.count(module) for module in self.dataset.modules},
        }

    def _api(self, request, endpoint, handler):
        admission = self.state.admit(endpoint)
        if admission.delay_s:
            admission.wake.wait(admission.delay_s)
        if admission.rate_limited:
            reply = json_reply(
                {
                    "success": False,
                    "error": {
                        "code": RATE_LIMIT_EXCEEDED,
                        "message": f"API rate limit exceeded, retry after {admission.retry_after} seconds",
                    },
                },
                429,
                reason="Too Many Requests",
            )
        elif admission.fault == "error":
            status = self.state.switch("error_status")
            try:
                phrase = HTTPStatus(status).phrase
            except ValueError:  # a 5xx code without a standard name, such as 599
                phrase = "Server Error"
            body = f"<html><body><h1>{status} {phrase}</h1>sandbox: injected error</body></html>"
            reply = Reply(status, body.encode(), HTML_TYPE)
        else:
            reply = handler(request)
            if admission.fault == "malformed":
                # Cut the real answer in half: still labelled JSON, no longer parseable.
                body = reply.body or b'{"success":true,"result":'
                reply = Reply(200, body[: max(len(body) // 2, 1)], JSON_TYPE, reply.headers)
        reply.headers = admission.headers + reply.headers
        return reply

    # -- Cloud REST --

    def _authorised(self, request):
        header = request.headers.get("Authorization") or ""
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            username, _, key = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return hmac.compare_digest(username.encode(), DEMO_USERNAME.encode()) and hmac.compare_digest(
            key.encode(), DEMO_ACCESS_KEY.encode()
        )

    def _rest(self, request):
        if not self._authorised(request):
            self.state.count("auth_failures")
            missing = not request.headers.get("Authorization")
            error = (
                VtigerError(AUTHENTICATION_REQUIRED, "Authentication required")
                if missing
                else VtigerError(INVALID_USER_CREDENTIALS, "Invalid username or access key")
            )
            return json_reply(
                error.envelope(),
                401,
                headers=[("WWW-Authenticate", 'Basic realm="Vtiger"')],
                reason="Unauthorized",
            )
        if request.method != "GET":
            error = VtigerError(ACCESS_DENIED, "The sandbox serves GET requests only")
            return json_reply(error.envelope(), 405, headers=[("Allow", "GET")], reason="Method Not Allowed")
        name = request.path[len(REST_PREFIX) :].strip("/")
        params = request.query
        calls = {
            "me": lambda: operations.me(self.dataset),
            "listtypes": lambda: operations.listtypes(self.dataset, _field_type_list(params)),
            "describe": lambda: operations.describe(self.dataset, _first(params, "elementType")),
            "query": lambda: operations.query(self.dataset, _first(params, "query"), self.state.switch("max_rows")),
            "retrieve": lambda: operations.retrieve(self.dataset, _first(params, "id")),
            "sync": lambda: operations.sync(
                self.dataset,
                _first(params, "modifiedTime"),
                _first(params, "elementType"),
                _first(params, "syncType"),
                self.state.switch("max_rows"),
            ),
        }
        call = calls.get(name)
        if call is None:
            error = VtigerError(UNKNOWN_OPERATION, f"Unknown operation requested: {name}")
            return json_reply(error.envelope(), 404, reason="Not Found")
        try:
            return json_reply({"success": True, "result": call()})
        except VtigerError as error:
            return json_reply(error.envelope(), 400, reason=_reason_phrase(error.message))

    # -- webservice.php --

    def _webservice(self, request):
        form = request.form
        # $_REQUEST: POST fields override query-string ones.
        merged = {**request.query, **form}
        operation = _first(merged, "operation") or ""
        if operation not in WEBSERVICE_OPERATIONS or operation == "logout":
            # Unknown operations throw outside webservice.php's try block; logout dies on PHP 8.
            return empty_crash()
        expected_method = WEBSERVICE_OPERATIONS[operation]
        # OperationManager reads a GET operation's parameters from $_GET and a POST one's from $_POST.
        params = request.query if expected_method == "GET" else form
        try:
            if operation == "getchallenge":
                return self._ok(self._getchallenge(request, params))
            if operation == "login":
                return self._ok(self._login(params))
            session_name = _first(merged, "sessionName")
            if not session_name:
                raise VtigerError(AUTHENTICATION_REQUIRED, "Authencation required")  # sic, as 8.2 spells it
            if not self.state.touch_session(session_name):
                raise VtigerError(INVALID_SESSIONID, "Session Identifier provided is Invalid")
            if request.method != expected_method:
                raise VtigerError(ACCESS_DENIED, f"Permission to perform the operation is denied for {operation}")
            if operation == "sync" and self.state.switch("selfhosted_sync_broken"):
                return empty_crash()
            return self._ok(self._webservice_call(operation, params))
        except VtigerError as error:
            return json_reply(error.envelope())

    @staticmethod
    def _ok(result):
        return json_reply({"success": True, "result": result})

    def _getchallenge(self, request, params):
        if request.method != "GET":
            raise VtigerError(ACCESS_DENIED, "Permission to perform the operation is denied for getchallenge")
        username = _first(params, "username")
        if not username:
            raise VtigerError(ACCESS_DENIED, "No username given")
        if username != DEMO_USERNAME:
            raise VtigerError(ACCESS_DENIED, "username does not exists")
        return self.state.new_challenge(username)

    def _login(self, params):
        outcome, session_name = self.state.login(_first(params, "username"), _first(params, "accessKey"))
        if outcome == "bad_token":
            raise VtigerError(INVALID_AUTH_TOKEN, "Specified token is invalid or expired")
        if outcome == "bad_key":
            raise VtigerError(INVALID_USER_CREDENTIALS, "Invalid username or password")
        user = self.dataset.user
        return {
            "username": LOGIN_DETAILS["username"],
            "first_name": user["first_name"],
            "last_name": user["last_name"],
            "email": user["email1"],
            **{k: v for k, v in LOGIN_DETAILS.items() if k != "username"},
            "sessionName": session_name,
            "userId": user["id"],
            "version": "0.22",
            "vtigerVersion": "8.2.0",
        }

    def _webservice_call(self, operation, params):
        max_rows = self.state.switch("max_rows")
        if operation == "listtypes":
            return operations.listtypes(self.dataset, _field_type_list(params))
        if operation == "describe":
            return operations.describe(self.dataset, _first(params, "elementType"))
        if operation == "query":
            return operations.query(self.dataset, _first(params, "query"), max_rows)
        if operation == "retrieve":
            return operations.retrieve(self.dataset, _first(params, "id"))
        return operations.sync(
            self.dataset,
            _first(params, "modifiedTime"),
            _first(params, "elementType"),
            _first(params, "syncType"),
            max_rows,
        )

    # -- custom JSON API --

    def _custom(self, request):
        result = custom_api.handle(self.dataset, request)
        if result.json is not None:
            return json_reply(result.json, result.status, headers=result.headers)
        return Reply(result.status, result.body, result.content_type, result.headers)

    # -- control endpoints --

    def _control(self, request):
        name = request.path[len(CONTROL_PREFIX) :].strip("/")
        if name == "config" and request.method == "GET":
            return json_reply(self.state.config())
        if name == "config" and request.method == "POST":
            try:
                changes = json.loads(request.body or b"{}")
                return json_reply(self.state.configure(**validate_switches(changes)))
            except ValueError as error:
                return json_reply({"error": str(error)}, 400)
        if name == "reset" and request.method == "POST":
            return json_reply({"reset": True, "config": self.state.reset()})
        if name == "stats" and request.method == "GET":
            return json_reply(self.state.stats())
        if name == "info" and request.method == "GET":
            return json_reply(self.info())
        return json_reply(
            {"error": "control endpoints: GET/POST config, POST reset, GET stats, GET info"},
            404 if name not in ("config", "reset", "stats", "info") else 405,
        )
