"""Open-source Vtiger 7.x/8.x through `webservice.php`: challenge, login, then GET operations.

Sessions are cached per process (keyed by connection and a fingerprint of its
credentials) and reused; on INVALID_SESSIONID and friends we log in again once.
We never call `logout`: it crashes on Vtiger 8 with PHP 8, and sessions expire
by themselves (24 h life, 30 min idle).
"""

import hashlib
import re
import threading
from dataclasses import dataclass, field

from django import forms
from django.views.decorators.debug import sensitive_variables

from connections.client import Client, Credentials
from connections.errors import BadEndpoint, ConnectionProblem, NotVtiger, VtigerError
from connections.integrations import vtiger_labels
from connections.integrations.base import (
    ConnectionForm,
    Integration,
    Status,
    TestOutcome,
    clean_http_url,
    failed_test_outcome,
    rate_budget_field,
    secret_field,
)
from connections.integrations.vtiger_cloud import (
    interpret,
    normalise_instance_url,
    refuse_unless_get,
    user_label,
)
from connections.models import Connection

SLUG = Connection.Integration.VTIGER_SELFHOSTED.value
WEBSERVICE = "/webservice.php"
DOCS_URL = "https://community.vtiger.com/help/vtigercrm/developers/third-party-app-integration.html"

SESSION_CODES = frozenset({"INVALID_SESSIONID", "SESSION_EXPIRED", "SESSION_LEFT_IDLE", "AUTHENTICATION_REQUIRED"})
LOGIN_AUTH_CODES = frozenset({"INVALID_USER_CREDENTIALS", "ACCESSKEY_UNDEFINED", "ACCESS_DENIED", "INVALID_AUTH_TOKEN"})
# Handled by the connection itself, or broken on Vtiger 8 (see vtiger-api.md §8).
RESERVED_OPERATIONS = frozenset({"getchallenge", "login", "logout"})
RESERVED_PARAMS = frozenset({"operation", "sessionname"})
OPERATION_RE = re.compile(r"^[A-Za-z_]{1,64}$")

ENDPOINT_SUGGESTIONS = (
    ("me", "The user these credentials belong to"),
    ("listtypes", "The modules (record types) you can read"),
    ("describe", "A module's fields: elementType=Leads"),
    ("query", "Records by VTQL: query=SELECT * FROM Leads LIMIT 0,100;"),
    ("retrieve", "One record by id: id=10x28"),
    ("sync", "Changed records (crashes on Vtiger 8 with PHP 8: prefer query with modifiedtime)"),
)

CREDENTIALS_HELP = (
    "Instance URL: the address you open Vtiger at, e.g. https://crm.example.com/vtigercrm "
    "(with or without /webservice.php). "
    "Username and Access Key: in Vtiger, open your avatar menu → My Preferences; the user name is at the top "
    "and the Access Key is under User Advanced Options."
)


# --- sessions -----------------------------------------------------------------------


@dataclass
class VtigerSession:
    name: str = field(repr=False)
    user_id: str = ""
    user: dict = field(default_factory=dict)  # username, first/last name: no secrets


_sessions = {}
_sessions_lock = threading.Lock()
_login_locks = {}


def _session_key(connection, access_key):
    material = f"{connection.base_url}\0{connection.username}\0{access_key}".encode()
    return (connection.pk, hashlib.sha256(material).hexdigest()[:32])


def _login_lock(key):
    # One login at a time per key: Vtiger's getchallenge deletes the user's previous
    # token, so two concurrent logins as the same user can break each other.
    with _sessions_lock:
        return _login_locks.setdefault(key, threading.Lock())


def forget_sessions(connection=None):
    """Drop cached sessions (all, or one connection's)."""
    with _sessions_lock:
        for key in list(_sessions):
            if connection is None or key[0] == connection.pk:
                del _sessions[key]


def webservice_url(client):
    return client.base_url + WEBSERVICE


@sensitive_variables()
def login(client):
    """Challenge and login; returns a fresh VtigerSession. Raises AuthRejected on bad credentials."""
    connection = client.connection
    access_key = client.secret("access_key")
    url = webservice_url(client)
    raw = client.send("GET", url, params=[("operation", "getchallenge"), ("username", connection.username)])
    challenge = interpret(client, raw, auth_codes=LOGIN_AUTH_CODES).result or {}
    token = str(challenge.get("token") or "") if isinstance(challenge, dict) else ""
    if not token:
        raise NotVtiger("Vtiger's getchallenge answered without a token: check the instance URL.")
    digest = hashlib.md5((token + access_key).encode(), usedforsecurity=False).hexdigest()
    client.secrets.update({token, digest})
    raw = client.send(
        "POST",
        url,
        data={"operation": "login", "username": connection.username, "accessKey": digest},
    )
    result = interpret(client, raw, auth_codes=LOGIN_AUTH_CODES).result or {}
    name = str(result.get("sessionName") or "") if isinstance(result, dict) else ""
    if not name:
        raise NotVtiger("Vtiger's login answered without a session: check the instance URL.")
    client.secrets.add(name)
    user = {k: result.get(k) for k in ("username", "first_name", "last_name", "email", "time_zone", "is_admin")}
    return VtigerSession(name=name, user_id=str(result.get("userId") or ""), user=user)


def session_for(client, *, fresh=False):
    """The cached session for this client's connection, logging in when there is none (or `fresh`)."""
    key = _session_key(client.connection, client.secret("access_key"))
    with _sessions_lock:
        cached = None if fresh else _sessions.get(key)
    if cached is not None:
        client.secrets.add(cached.name)
        return cached
    with _login_lock(key):
        with _sessions_lock:
            cached = None if fresh else _sessions.get(key)
        if cached is not None:
            client.secrets.add(cached.name)
            return cached
        session = login(client)
        with _sessions_lock:
            # One live entry per connection: credentials changed means the old one is dead.
            for other in [k for k in _sessions if k[0] == key[0] and k != key]:
                del _sessions[other]
            _sessions[key] = session
        return session


def _drop_session(client, session):
    key = _session_key(client.connection, client.secret("access_key"))
    with _sessions_lock:
        if _sessions.get(key) is session:
            del _sessions[key]


# --- the wire ---------------------------------------------------------------------------


def _operation(client, endpoint):
    name = (endpoint or "").strip().strip("/")
    if not OPERATION_RE.match(name):
        raise BadEndpoint(
            "For self-hosted Vtiger the endpoint is an operation name such as query, describe or listtypes."
        )
    if name.lower() in RESERVED_OPERATIONS:
        raise BadEndpoint(f"The {name} operation is handled by the connection itself and can't be called.")
    return name


@sensitive_variables()
def send(client, method, endpoint, *, params, headers, json_body, allow_truncated):
    refuse_unless_get(method, json_body, headers)
    operation = _operation(client, endpoint)
    for key, _ in params:
        if key.lower() in RESERVED_PARAMS:
            raise BadEndpoint(f"The parameter {key} is set by the connection; remove it.")
    session = session_for(client)
    for attempt in (1, 2):
        op_params = [("operation", operation), *params]
        if operation == "me":
            # webservice.php has no `me`: retrieve the logged-in user, as Cloud's `me` does.
            op_params = [("operation", "retrieve"), ("id", session.user_id)]
        raw = client.send(
            "GET",
            webservice_url(client),
            params=op_params,
            # As a credential, the session name never follows a redirect to another host.
            credentials=Credentials(params=[("sessionName", session.name)]),
            allow_truncated=allow_truncated,
        )
        try:
            return interpret(client, raw)
        except VtigerError as exc:
            if exc.code not in SESSION_CODES or attempt == 2:
                raise
            _drop_session(client, session)
            session = session_for(client, fresh=True)
    raise AssertionError("unreachable")  # pragma: no cover


def test(connection):
    try:
        with Client(connection) as client:
            # A fresh login proves the credentials; a cached session might outlive a changed key.
            session = session_for(client, fresh=True)
            client.request("GET", "listtypes")
    except ConnectionProblem as problem:
        return failed_test_outcome(problem, html_prefix="This doesn't look like a Vtiger webservice:")
    label = user_label(session.user) or connection.username
    return TestOutcome(
        ok=True,
        status=Status.CONNECTED,
        message=f"Connected as {label}.",
        details={
            "user": {"id": session.user_id, **{k: session.user.get(k) for k in ("username", "first_name", "last_name")}}
        },
    )


# --- the form -----------------------------------------------------------------------------


class VtigerSelfHostedForm(ConnectionForm):
    secret_fields = {"access_key": "access_key"}

    instance_url = forms.CharField(
        label="Instance URL",
        max_length=400,
        help_text="The address you open Vtiger at, e.g. https://crm.example.com/vtigercrm.",
    )
    username = forms.CharField(label="Username", max_length=255)
    access_key = secret_field("Access Key", "In Vtiger: My Preferences → User Advanced Options → Access Key.")
    rate_limit_per_minute = rate_budget_field("Optional: at most this many requests per minute to your server.")

    @classmethod
    def initial_for(cls, connection):
        return {
            "name": connection.name,
            "instance_url": connection.base_url,
            "username": connection.username,
            "rate_limit_per_minute": connection.rate_limit_per_minute,
        }

    def clean_instance_url(self):
        return normalise_instance_url(clean_http_url(self.cleaned_data.get("instance_url"), "instance URL"), WEBSERVICE)

    def clean(self):
        cleaned = super().clean()
        self.require_secret("access_key", "Enter the access key.")
        return cleaned


def apply(connection, cleaned):
    connection.integration = SLUG
    connection.name = cleaned["name"]
    connection.base_url = cleaned["instance_url"]
    connection.username = cleaned["username"].strip()
    connection.auth_type = Connection.AuthType.NONE
    connection.options = {**(connection.options or {}), "docs_url": DOCS_URL, "data_timezone": "UTC"}
    connection.rate_limit_per_minute = cleaned.get("rate_limit_per_minute") or None
    connection.set_secret("access_key", cleaned.get("access_key"))


INTEGRATION = Integration(
    slug=SLUG,
    name="Vtiger self-hosted",
    description="Open-source Vtiger CRM 7.x/8.x on your own server, through webservice.php.",
    keywords=(
        "vtiger",
        "crm",
        "self-hosted",
        "selfhosted",
        "self",
        "hosted",
        "open source",
        "webservice",
        "on-premise",
    ),
    status_label="Beta",
    auth_label="Session (challenge and login with the access key)",
    requests_label="GET",
    endpoints_label=", ".join(e for e, _ in ENDPOINT_SUGGESTIONS),
    date_range_label="Yes: {{start}} and {{end}} in VTQL WHERE clauses (modifiedtime, createdtime, date fields)",
    pagination_label="Vtiger (LIMIT offset, 100 until an empty page)",
    rate_limits_label="None built in; set a rate budget to spare your server",
    docs_url=DOCS_URL,
    credentials_help=CREDENTIALS_HELP,
    endpoint_suggestions=ENDPOINT_SUGGESTIONS,
    default_pagination="vtiger",
    allowed_methods=lambda connection: ("GET",),
    form_class=VtigerSelfHostedForm,
    apply=apply,
    test=test,
    send=send,
    lookup_labels=vtiger_labels.lookup_labels,
)
