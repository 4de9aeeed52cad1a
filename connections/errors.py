"""Typed problems with an outbound request, each worded for a newcomer.

Every problem carries `.message` (plain words, shown in the UI and the CLI) and
`.kind` (a stable machine name used by syncs to decide retry or stop). Messages
never contain credentials: whatever text came from the remote server or from a
URL goes through `scrub()` first.
"""

import re
from datetime import datetime

from connections.masking import MASK, masker_for

# Query parameters and headers whose values are credentials, whatever the
# connection: masked in snippets and in logged URLs.
SECRET_PARAM_NAMES = frozenset(
    {
        "access_key",
        "accesskey",
        "api_key",
        "apikey",
        "api-key",
        "key",
        "token",
        "access_token",
        "auth",
        "password",
        "passwd",
        "secret",
        "sessionname",
        "session",
        "signature",
        "sig",
    }
)


def _shortest(names):
    """The names that contain no other: text holding none of these holds none of ``names``."""
    return tuple(sorted(name for name in names if not any(other != name and other in name for other in names)))


# "Authorization: Basic abc", "Bearer abc", "api_key=abc" and friends, wherever they turn up in a
# body echoed back by a server: (pattern, replacement, the words one of which any match contains).
_NAMES = "|".join(re.escape(n) for n in sorted(SECRET_PARAM_NAMES, key=len, reverse=True))
_GENERIC_SECRET_PATTERNS = [
    (
        re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?(?:[a-z]+\s+)?)[^\s\"',}&]+"),
        rf"\1{MASK}",
        ("authorization",),
    ),
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{6,}"), rf"\1\2{MASK}", ("basic", "bearer")),
    (
        re.compile(r"(?i)((?<![A-Za-z0-9_-])(?:" + _NAMES + r")[\"']?\s*[=:]\s*[\"']?)[^&\s\"',}<]+"),
        rf"\1{MASK}",
        _shortest(SECRET_PARAM_NAMES),
    ),
]


def scrub(text, secrets=(), usernames=()):
    """Return `text` with every known secret value, in any encoding (connections.masking), and
    every credential-looking token masked. `usernames` find the base64 of `user:secret` even
    for a secret too short to be found inside other base64."""
    if not text:
        return ""
    text = str(text)
    # Most bodies name no credential: a pattern runs only on text holding one of its words, as
    # lower() finds them (a 1.6 KB JSON body: 414 us -> 27 us). Sound for ASCII text only: a (?i)
    # pattern also matches letters that lower() leaves alone ("ſ", the long s, is an s), so other
    # text runs every pattern. The words are looked for in the text as given: masking and the
    # patterns only put MASK in, whose characters match no letter, so a word is in what a
    # pattern sees only if it was in the text given.
    lowered = text.lower() if text.isascii() else None
    text = masker_for(secrets, usernames).mask(text)
    for pattern, replacement, words in _GENERIC_SECRET_PATTERNS:
        if lowered is None or any(word in lowered for word in words):
            text = pattern.sub(replacement, text)
    return text


def snippet(text, secrets=(), limit=300, usernames=()):
    """A short, scrubbed, single-spaced excerpt of a response body for an error message."""
    # Masked before the cut (a secret across the limit), and again once the spaces are squeezed.
    text = masker_for(secrets, usernames).mask(str(text or ""))
    text = scrub(" ".join(text.split())[: limit + 200], secrets, usernames)
    if len(text) > limit:
        text = text[:limit] + "…"
    return text


class ConnectionProblem(Exception):
    """Base class: something went wrong talking to a connection's API."""

    kind = "error"
    default_message = "The request to the API failed."
    # Transient problems (the network, the server being busy) are worth retrying.
    transient = False

    def __init__(self, message=None):
        self.message = message or self.default_message
        super().__init__(self.message)

    def __str__(self):
        return self.message

    def __repr__(self):
        return f"{type(self).__name__}({self.message!r})"

    def as_dict(self):
        """Machine-readable form for `--json` output and stored sync runs."""
        return {"kind": self.kind, "message": self.message}


class AuthRejected(ConnectionProblem):
    kind = "auth_rejected"
    default_message = "The API refused the credentials: check the username and the access key."


class Unreachable(ConnectionProblem):
    kind = "unreachable"
    default_message = "The server could not be reached."
    transient = True


class Timeout(ConnectionProblem):
    kind = "timeout"
    default_message = "The server took too long to answer."
    transient = True


class RateLimited(ConnectionProblem):
    kind = "rate_limited"
    default_message = "The API says too many requests were sent: wait a minute and try again."
    transient = True

    def __init__(self, message=None, *, retry_after=None, reset_at=None):
        self.retry_after = retry_after  # seconds, float or None
        self.reset_at = reset_at  # aware datetime (UTC) or None
        super().__init__(message)

    def as_dict(self):
        data = super().as_dict()
        data["retry_after"] = self.retry_after
        data["reset_at"] = self.reset_at.isoformat() if isinstance(self.reset_at, datetime) else None
        return data


class NotJSON(ConnectionProblem):
    kind = "not_json"
    default_message = "The server's answer is not JSON."

    def __init__(self, message=None, *, snippet="", content_type="", is_html=False):
        self.snippet = snippet
        self.content_type = content_type
        self.is_html = is_html
        super().__init__(message)

    def as_dict(self):
        return {**super().as_dict(), "snippet": self.snippet, "content_type": self.content_type}


class NotVtiger(ConnectionProblem):
    """JSON came back, but not in Vtiger's `{"success": ...}` envelope."""

    kind = "not_vtiger"
    default_message = "The server answered, but not like a Vtiger API: check the instance URL."

    def __init__(self, message=None, *, snippet=""):
        self.snippet = snippet
        super().__init__(message)


class VtigerError(ConnectionProblem):
    kind = "vtiger_error"

    def __init__(self, code, vtiger_message, message=None):
        self.code = code or "UNKNOWN"
        self.vtiger_message = vtiger_message or ""
        super().__init__(message or f"Vtiger answered with an error: {self.code}: {self.vtiger_message}".rstrip(": "))

    def as_dict(self):
        return {**super().as_dict(), "code": self.code, "vtiger_message": self.vtiger_message}


class HTTPError(ConnectionProblem):
    kind = "http_error"

    def __init__(self, status, reason="", message=None, *, snippet=""):
        self.status = status
        self.reason = reason or ""
        self.snippet = snippet
        self.transient = status >= 500
        super().__init__(message or f"The server answered HTTP {status} {self.reason}".rstrip() + ".")

    def as_dict(self):
        return {**super().as_dict(), "status": self.status, "reason": self.reason, "snippet": self.snippet}


class ResponseTooLarge(ConnectionProblem):
    kind = "too_large"

    def __init__(self, limit_bytes, message=None):
        self.limit_bytes = limit_bytes
        super().__init__(
            message
            or f"The response is larger than the {limit_bytes // 1024:,} KB limit: ask for fewer records per request."
        )


class TooDeeplyNested(ConnectionProblem):
    kind = "too_deep"

    def __init__(self, limit, message=None):
        self.limit = limit
        super().__init__(
            message
            or f"The response is nested too deeply to read (over {limit} levels of lists and objects): "
            "ask the API for a flatter answer, or for fewer details."
        )


class EgressDenied(ConnectionProblem):
    kind = "egress_denied"
    default_message = "This address may not be reached from this server."

    def __init__(self, message=None, *, host=""):
        self.host = host
        super().__init__(message)


class MethodNotAllowed(ConnectionProblem):
    kind = "method_not_allowed"

    def __init__(self, method, allowed, message=None):
        self.method = method
        self.allowed = tuple(allowed)
        super().__init__(
            message or f"{method} requests are not allowed on this connection (allowed: {', '.join(self.allowed)})."
        )


class BadEndpoint(ConnectionProblem):
    kind = "bad_endpoint"
    default_message = "The endpoint must be a path relative to the connection's base URL."


class SecretUnreadable(ConnectionProblem):
    """A stored credential can't be decrypted with any configured key."""

    kind = "secret_unreadable"
    default_message = (
        "The stored credentials can't be decrypted with any key in FIELD_ENCRYPTION_KEYS: "
        "the key they were saved with is missing. Add it back, or re-enter the credentials."
    )
