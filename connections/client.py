"""The one outbound path: every request to a connection's API goes through here.

The wizard's Send request, syncs and connection tests all use `Client`, so a
preview that works is a sync that works. This module owns what every request
shares: the egress rules (connections.egress), manual redirects that never carry
credentials to another host, connect/read timeouts, the response size cap, and
turning network failures into the typed problems of connections.errors. What
differs per integration (auth, envelope, sessions) lives in
connections.integrations.<module>.send(), which calls `Client.send()`.

    with Client(connection) as client:
        response = client.request("GET", "query", params=[("query", "SELECT ...;")])
        rows = response.result
"""

import http.cookiejar
import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urljoin, urlsplit, urlunsplit

import requests
import urllib3.exceptions
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from connections import egress, safejson, secrets
from connections.errors import (
    AuthRejected,
    BadEndpoint,
    HTTPError,
    NotJSON,
    RateLimited,
    ResponseTooLarge,
    Timeout,
    TooDeeplyNested,
    Unreachable,
    scrub,
    snippet,
)
from connections.masking import masker_for

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 5
TEXT_SNIPPET_CHARS = 2000
_CHUNK = 64 * 1024
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
# Headers a caller may not set: they belong to the transport or to the connection's auth.
FORBIDDEN_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "cookie", "proxy-authorization"}
)
USER_AGENT = "MetricBuilder/1.0 (+self-hosted metric builder)"


class _RedactQueryStrings(logging.Filter):
    """urllib3 logs every request line at DEBUG, query string included (API keys, session names)."""

    def filter(self, record):
        if isinstance(record.args, tuple):
            record.args = tuple(
                arg.split("?", 1)[0] + "?[query redacted]" if isinstance(arg, str) and "?" in arg else arg
                for arg in record.args
            )
        return True


_urllib3_logger = logging.getLogger("urllib3.connectionpool")
if not any(isinstance(f, _RedactQueryStrings) for f in _urllib3_logger.filters):
    _urllib3_logger.addFilter(_RedactQueryStrings())


@dataclass
class Response:
    """A parsed API answer, as the wizard shows it and syncs consume it."""

    status: int
    elapsed_ms: int
    size_bytes: int
    data: Any  # the parsed JSON body (the whole Vtiger envelope), None when truncated
    text: str  # the start of the body, scrubbed of credentials, for display
    headers: dict = field(default_factory=dict)
    truncated: bool = False
    reason: str = ""
    content_type: str = ""
    url: str = ""  # with credential query values masked

    @property
    def result(self):
        """Vtiger's `result` (the envelope unwrapped); for other APIs the whole body."""
        if isinstance(self.data, dict) and "success" in self.data:
            return self.data.get("result")
        return self.data


@dataclass
class RawResponse:
    """What came over the wire, before any integration-specific interpretation."""

    status: int
    reason: str
    headers: dict
    body: bytes
    elapsed_ms: int
    truncated: bool
    url: str  # redacted
    _text: str | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def content_type(self):
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    def text(self):
        # Decoded once: parsing and the snippet both read it (a few ms for a large answer).
        if self._text is None:
            self._text = self.body.decode("utf-8-sig", errors="replace")
        return self._text


@dataclass
class Credentials:
    """What authenticates a request; sent only to the connection's own origin."""

    headers: list = field(default_factory=list)  # [(name, value)]
    params: list = field(default_factory=list)  # [(name, value)]

    @property
    def param_names(self):
        return {name for name, _ in self.params}


_pools = threading.local()


def _shared_adapter(allow_private):
    """This thread's connection pool, one per egress rule: keep-alive across requests and clients.

    A worker's syncs of one API reuse its open connections instead of a TCP connect each. Each
    new connection still passes the peer-address check (``egress.GuardedAdapter``), and every
    request still passes ``egress.check_url``. Per thread (requests does not promise that its
    adapters are thread-safe) and per process (a forked worker must not use its parent's sockets).
    """
    pid = os.getpid()
    if getattr(_pools, "pid", None) != pid:
        _pools.pid, _pools.adapters = pid, {}
    adapter = _pools.adapters.get(allow_private)
    if adapter is None:
        adapter = _pools.adapters[allow_private] = egress.GuardedAdapter(allow_private=allow_private, max_retries=0)
    return adapter


def _session(allow_private):
    session = requests.Session()
    # No proxies or .netrc from the environment: a proxy would hide the real peer
    # from the egress check, and .netrc would add credentials we didn't choose.
    session.trust_env = False
    # Stateless: a cookie a server set during one request would make the next one
    # behave differently from a fresh sync (and could act as a credential).
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    adapter = _shared_adapter(allow_private)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
    return session


def _strip_params(url, names):
    """`url` without the query parameters in `names` (credentials a server echoed into a Location)."""
    if not names:
        return url
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in names]
    query = urlencode(kept)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _retry_after(headers):
    """(seconds to wait, UTC datetime) from Retry-After or X-FloodControl-Reset, else (None, None)."""
    now = datetime.now(UTC)
    value = headers.get("retry-after", "").strip()
    if value:
        if value.isdigit():
            seconds = float(value)
            return seconds, now + timedelta(seconds=seconds)
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            when = when if when.tzinfo else when.replace(tzinfo=UTC)
            return max(0.0, (when - now).total_seconds()), when.astimezone(UTC)
    reset = headers.get("x-floodcontrol-reset", "").strip() or headers.get("x-ratelimit-reset", "").strip()
    if reset:
        try:
            number = float(reset)
        except ValueError:
            return None, None
        # An epoch timestamp, or (as some APIs send) seconds from now.
        when = datetime.fromtimestamp(number, UTC) if number > 1e9 else now + timedelta(seconds=number)
        return max(0.0, (when - now).total_seconds()), when
    return None, None


def rate_limited(raw):
    retry_after, reset_at = _retry_after(raw.headers)
    when = f"try again at {reset_at:%H:%M} UTC" if reset_at else "wait a minute and try again"
    return RateLimited(
        f"The API's rate limit was reached (HTTP 429 Too Many Requests): {when}.",
        retry_after=retry_after,
        reset_at=reset_at,
    )


def resolve_endpoint(base_url, endpoint):
    """(absolute URL, query params) for `endpoint`, refusing anything that escapes the base URL."""
    base_url = base_url.rstrip("/")
    endpoint = (endpoint or "").strip()
    if any(ord(c) < 32 or c in "\\" for c in endpoint):
        raise BadEndpoint("The endpoint contains characters that are not allowed (control characters or \\).")
    if endpoint.lower().startswith(("http://", "https://")):
        # A pasted full URL is fine if it is under this connection's base URL.
        if endpoint == base_url or endpoint.startswith(base_url + "/"):
            endpoint = endpoint[len(base_url) :]
            if endpoint.startswith("?"):
                endpoint = "/" + endpoint
        else:
            raise BadEndpoint(
                f"The endpoint points outside this connection ({egress.host_of(endpoint)}): "
                f"give a path relative to {base_url}."
            )
    elif endpoint.startswith("//") or _SCHEME_RE.match(endpoint.split("/", 1)[0]):
        raise BadEndpoint("The endpoint must be a path relative to the base URL, not a URL with a scheme or host.")
    path, _, query = endpoint.partition("#")[0].partition("?")
    segments = unquote(path).replace("\\", "/").split("/")
    if any(segment in ("..", ".") for segment in segments):
        raise BadEndpoint("The endpoint may not contain '..' or '.' path segments.")
    url = base_url + ("/" + path.lstrip("/") if path.strip("/") else "")
    return url, parse_qsl(query, keep_blank_values=True)


class Client:
    """Calls one connection's API. Reuse it for several requests (keep-alive); close it after."""

    @sensitive_variables()
    def __init__(self, connection):
        self.connection = connection
        self.integration = connection.integration_module
        self.base_url = connection.base_url.rstrip("/")
        self.allow_private = bool(settings.ALLOW_PRIVATE_HOSTS)
        self.timeout = (float(settings.OUTBOUND_CONNECT_TIMEOUT), float(settings.OUTBOUND_READ_TIMEOUT))
        self.max_bytes = int(settings.OUTBOUND_MAX_BYTES)
        self.session = _session(self.allow_private)
        # The stored credentials, decrypted once for all of this client's requests (``secret``)
        # rather than once more per request (Fernet: 60-150 us). Never shown: the repr names the
        # connection only, and a client is neither pickled nor rendered.
        self._stored_secrets = secrets.decrypt_dict(connection.secrets_encrypted)
        # Values to mask in anything we show or log: the stored credentials, plus
        # per-request ones (a Vtiger session name) that integrations add.
        self.secrets = {value for value in self._stored_secrets.values() if value}
        # For the base64 of `user:secret` (Basic credentials echoed back).
        self.usernames = {connection.username} if getattr(connection, "username", "") else set()
        self.requests_sent = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        # Nothing to close: the session's connection pool is the thread's (``_shared_adapter``),
        # kept open for the next client. The session itself holds no cookies or sockets.
        pass

    def __repr__(self):
        return f"<Client for {self.connection.name!r}>"

    # --- the public call ------------------------------------------------------

    def request(self, method, endpoint, params=(), headers=(), json_body=None, *, allow_truncated=False):
        """Send one request to `endpoint` (a path relative to the base URL) and return a Response.

        `params` and `headers` are lists of (name, value) pairs. Raises a
        ConnectionProblem subclass on any failure; never returns an error status.
        """
        return self.integration.send(
            self,
            (method or "GET").upper(),
            endpoint,
            params=[(str(k), "" if v is None else str(v)) for k, v in params or ()],
            headers=[(str(k), str(v)) for k, v in headers or ()],
            json_body=json_body,
            allow_truncated=allow_truncated,
        )

    # --- helpers for integrations ---------------------------------------------

    @sensitive_variables()
    def secret(self, name, default=""):
        """The plaintext of one of the connection's stored credentials, or `default` when unset."""
        return self._stored_secrets.get(name, default)

    @property
    def masker(self):
        """Masks this client's secrets in every encoding (connections.masking); cached per set."""
        return masker_for(self.secrets, self.usernames)

    def scrub(self, text):
        return scrub(text, self.secrets, self.usernames)

    def snippet(self, text, limit=300):
        return snippet(text, self.secrets, limit, self.usernames)

    def url_for(self, endpoint):
        return resolve_endpoint(self.base_url, endpoint)

    def check_headers(self, headers, reserved=()):
        reserved = {h.lower() for h in reserved}
        for name, value in headers:
            lowered = name.lower().strip()
            if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", name or ""):
                raise BadEndpoint(f"{name!r} is not a valid header name.")
            if "\r" in value or "\n" in value:
                raise BadEndpoint(f"The value of the header {name} contains a line break.")
            if lowered in FORBIDDEN_HEADERS:
                raise BadEndpoint(f"The header {name} is set by the client and can't be changed.")
            if lowered in reserved:
                raise BadEndpoint(
                    f"The header {name} carries this connection's credentials: set them on the connection instead."
                )

    # --- the wire -------------------------------------------------------------

    @sensitive_variables()
    def send(
        self,
        method,
        url,
        *,
        params=(),
        headers=(),
        data=None,
        json_body=None,
        credentials=None,
        allow_truncated=False,
    ):
        """Send one HTTP request, following redirects by hand, and return a RawResponse.

        HTTP error statuses are returned, not raised: the integration decides what
        they mean. Network failures, egress refusals and oversize bodies raise.
        `credentials` are attached only while the request stays on the connection's
        own origin (scheme, host and port of the base URL).
        """
        credentials = credentials or Credentials()
        self.secrets.update(v for _, v in credentials.headers + credentials.params if v)
        own_origin = egress.parse_target(self.base_url).origin
        started = time.monotonic()
        params = list(params)
        for _hop in range(MAX_REDIRECTS + 1):
            target = egress.check_url(url, allow_private=self.allow_private)
            same_origin = target.origin == own_origin
            request_headers = list(headers) + (credentials.headers if same_origin else [])
            request_params = params + (credentials.params if same_origin else [])
            response = self._send_once(method, url, request_params, request_headers, data, json_body)
            if not response.is_redirect:
                break
            location = urljoin(response.url, response.headers.get("location", ""))
            response.close()
            logger.info("Redirect %s -> %s", self._redact(response.url), self._redact(location))
            if response.status_code in (301, 302, 303) and method not in ("GET", "HEAD"):
                method, data, json_body = "GET", None, None
            # The Location already holds the query; drop echoed credentials, which
            # are re-added only if the next hop is our own origin again.
            url, params = _strip_params(location, credentials.param_names), []
        else:
            raise HTTPError(
                response.status_code,
                response.reason,
                f"The server redirected more than {MAX_REDIRECTS} times; stopped following.",
            )
        try:
            body, truncated = self._read_body(response, allow_truncated, started)
        finally:
            response.close()
        elapsed_ms = int((time.monotonic() - started) * 1000)
        headers_out = {k.lower(): v for k, v in response.headers.items() if k.lower() != "set-cookie"}
        raw = RawResponse(
            status=response.status_code,
            reason=response.reason or "",
            headers=headers_out,
            body=body,
            elapsed_ms=elapsed_ms,
            truncated=truncated,
            url=self._redact(response.url),
        )
        logger.debug(
            "%s %s -> %s in %d ms (%d bytes%s)",
            method,
            raw.url,
            raw.status,
            elapsed_ms,
            len(body),
            ", truncated" if truncated else "",
        )
        return raw

    def _redact(self, url):
        return self.scrub(egress.redact_url(url))

    def _send_once(self, method, url, params, headers, data, json_body):
        host = egress.host_of(url)
        self.requests_sent += 1
        try:
            return self.session.request(
                method,
                url,
                params=params or None,
                headers=dict(headers),
                data=data,
                json=json_body,
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
            )
        # `from None` everywhere below: requests' own messages carry the full URL,
        # which may hold an API key or a session name in its query string.
        except requests.exceptions.ConnectTimeout:
            logger.info("Connect timeout: %s %s", method, self._redact(url))
            raise Timeout(
                f"{host} did not accept the connection within {self.timeout[0]:g} seconds (connect timeout)."
            ) from None
        except requests.exceptions.ReadTimeout:
            logger.info("Read timeout: %s %s", method, self._redact(url))
            raise Timeout(f"{host} did not answer within {self.timeout[1]:g} seconds (read timeout).") from None
        except requests.exceptions.SSLError:
            logger.info("TLS failure: %s %s", method, self._redact(url))
            raise Unreachable(
                f"A secure (TLS) connection to {host} could not be made: its certificate could not be verified "
                "(self-signed, expired, or issued for another host name)."
            ) from None
        except requests.exceptions.ConnectionError as exc:
            logger.info("Connection failure: %s %s", method, self._redact(url))
            raise self._unreachable(exc, host) from None
        except (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL, ValueError):
            raise BadEndpoint("The request could not be built: check the endpoint, parameters and headers.") from None

    def _unreachable(self, exc, host):
        reason = exc.args[0] if exc.args else None
        inner = getattr(reason, "reason", reason)
        if isinstance(inner, urllib3.exceptions.NameResolutionError):
            return Unreachable(f"The host name {host} could not be found (DNS lookup failed).")
        if isinstance(inner, urllib3.exceptions.ReadTimeoutError):
            return Timeout(f"{host} did not answer within {self.timeout[1]:g} seconds (read timeout).")
        text = str(exc).lower()
        if "refused" in text:
            return Unreachable(f"{host} refused the connection: nothing is listening on that port.")
        if "reset" in text or "aborted" in text or "remote end closed" in text:
            return Unreachable(f"{host} closed the connection without answering.")
        return Unreachable(f"{host} could not be reached (network error).")

    def _read_body(self, response, allow_truncated, started):
        limit = self.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit and not allow_truncated:
            raise ResponseTooLarge(limit)
        # A server dripping bytes just inside the read timeout must still end.
        deadline = started + self.timeout[0] + 2 * self.timeout[1]
        chunks, size = [], 0
        host = egress.host_of(response.url)
        try:
            # iter_content decodes gzip, so the cap applies to what we'd hold in memory.
            for chunk in response.iter_content(_CHUNK):
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    if not allow_truncated:
                        raise ResponseTooLarge(limit)
                    return b"".join(chunks)[:limit], True
                if time.monotonic() > deadline:
                    raise Timeout(f"{host} took too long to send its answer.")
        except requests.exceptions.ConnectionError as exc:
            raise self._unreachable(exc, host) from None
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError):
            raise Unreachable(f"The connection to {host} broke while the answer was being read.") from None
        return b"".join(chunks), False

    # --- shared interpretation --------------------------------------------------

    def parse_json(self, raw, *, lenient_prefix=False):
        """The parsed JSON body of `raw`, or NotJSON with a scrubbed snippet."""
        text = raw.text()
        if not text.strip():
            raise NotJSON(
                f"The server answered HTTP {raw.status} with an empty body, not JSON.",
                content_type=raw.content_type,
            )
        try:
            return safejson.loads(text)
        except safejson.NestingTooDeep as exc:
            raise TooDeeplyNested(exc.limit) from None
        except ValueError:
            pass
        if lenient_prefix:
            # PHP warnings printed before the JSON (seen on Vtiger 8.3): skip to the envelope.
            start = text.find('{"success"')
            if start > 0:
                try:
                    return safejson.loads(text[start:])
                except safejson.NestingTooDeep as exc:
                    raise TooDeeplyNested(exc.limit) from None
                except ValueError:
                    pass
        is_html = raw.content_type in ("text/html", "application/xhtml+xml") or text.lstrip()[:1] == "<"
        excerpt = self.snippet(text, 200)
        shown = f"HTTP {raw.status}, {raw.content_type or 'no content type'}"
        if is_html:
            message = f"The server answered with an HTML page instead of JSON ({shown}). It starts with: {excerpt}"
        else:
            message = f"The server's answer is not valid JSON ({shown}). It starts with: {excerpt}"
        raise NotJSON(message, snippet=excerpt, content_type=raw.content_type, is_html=is_html)

    def raise_for_status(self, raw, *, auth_hint="check the credentials"):
        """The typed problem for an HTTP error status (401/403, 429, other 4xx/5xx)."""
        if raw.status < 400:
            return
        if raw.status in (401, 403):
            word = "Unauthorized" if raw.status == 401 else "Forbidden"
            raise AuthRejected(f"The API refused the credentials (HTTP {raw.status} {word}): {auth_hint}.")
        if raw.status == 429:
            raise rate_limited(raw)
        excerpt = self.snippet(raw.text(), 200)
        reason = self.scrub(raw.reason)
        message = f"The server answered HTTP {raw.status} {reason}".rstrip() + "."
        if excerpt:
            message += f" It said: {excerpt}"
        raise HTTPError(raw.status, reason, message, snippet=excerpt)

    def to_response(self, raw, data):
        text = raw.text()
        masker = self.masker
        if masker.found_in(text):
            # The API echoed a credential back (an echo endpoint, a debug field), perhaps
            # JSON-escaped, percent-encoded or in base64: mask it in the text before it is cut
            # (a secret across the cut), and in the parsed data, which the wizard shows
            # analysts and a draft stores.
            text = masker.mask_head(text, TEXT_SNIPPET_CHARS)
            if data is not None:
                data = masker.mask_data(data)
        return Response(
            status=raw.status,
            reason=self.scrub(raw.reason),
            elapsed_ms=raw.elapsed_ms,
            size_bytes=len(raw.body),
            data=None if raw.truncated else data,
            text=self.scrub(text[:TEXT_SNIPPET_CHARS]),
            headers={name: self.scrub(value) for name, value in raw.headers.items()},
            truncated=raw.truncated,
            content_type=raw.content_type,
            url=raw.url,
        )
