"""Vtiger CRM Cloud through its REST API (`/restapi/v1/vtiger/default`): Basic auth, GET only."""

import base64

from django import forms
from django.views.decorators.debug import sensitive_variables

from connections.client import Client, Credentials, rate_limited
from connections.errors import (
    AuthRejected,
    BadEndpoint,
    ConnectionProblem,
    HTTPError,
    MethodNotAllowed,
    NotJSON,
    NotVtiger,
    VtigerError,
)
from connections.integrations import vtiger_labels
from connections.integrations.base import (
    DNS_LABELS_RE,
    ConnectionForm,
    Integration,
    Status,
    TestOutcome,
    clean_http_url,
    failed_test_outcome,
    rate_budget_field,
    secret_field,
)
from connections.models import Connection

SLUG = Connection.Integration.VTIGER.value
API_PATH = "/restapi/v1/vtiger/default"
DOCS_URL = "https://help.vtiger.com/article/147111249-Rest-API-Manual"

# Requests per minute by edition (Vtiger CRM API Limits, 2025).
PLANS = {
    "growth": ("Growth", 30),
    "professional": ("Professional", 60),
    "enterprise": ("Enterprise", 90),
}
DEFAULT_PLAN = "growth"

ENDPOINT_SUGGESTIONS = (
    ("me", "The user these credentials belong to"),
    ("listtypes", "The modules (record types) you can read"),
    ("describe", "A module's fields: elementType=Leads"),
    ("query", "Records by VTQL: query=SELECT * FROM Leads LIMIT 0,100;"),
    ("retrieve", "One record by id: id=10x28"),
    ("sync", "Records changed since a time: modifiedTime=<epoch>, elementType=Leads"),
)

READ_ONLY_MESSAGE = (
    "Vtiger connections are read-only: only GET requests are allowed, so a metric can never change data in the CRM."
)

CREDENTIALS_HELP = (
    "Subdomain: the part before .vtiger.com in your browser's address bar when you are signed in to Vtiger "
    "(for https://acme.od2.vtiger.com it is acme.od2). "
    "Username and Access Key: in Vtiger, open your avatar menu → My Preferences; the user name is at the top "
    "and the Access Key is under User Advanced Options. The connection can read whatever that user can read."
)


# --- the wire -------------------------------------------------------------------


@sensitive_variables()
def basic_credentials(username, secret):
    token = base64.b64encode(f"{username}:{secret}".encode()).decode("ascii")
    return Credentials(headers=[("Authorization", f"Basic {token}")])


def interpret(client, raw, *, auth_codes=()):
    """A Vtiger answer as a Response, or the typed problem it stands for.

    The status code is checked before the `success` flag: Cloud reports call
    errors as 400 with the JSON envelope; webservice.php uses 200 for everything.
    """
    if raw.status == 401:
        raise AuthRejected(
            "Wrong username or access key: Vtiger refused them (HTTP 401). "
            "Copy both again from My Preferences in Vtiger."
        )
    if raw.status == 429:
        raise rate_limited(raw)
    if raw.truncated and raw.status < 400:
        return client.to_response(raw, None)
    if raw.status >= 500 and not raw.body.strip():
        raise HTTPError(
            raw.status,
            client.scrub(raw.reason),
            "The Vtiger server failed on this operation (HTTP 500 with an empty answer). Self-hosted Vtiger 8.x "
            "fails this way on sync and logout; use query with a modifiedtime filter instead.",
        )
    try:
        data = client.parse_json(raw, lenient_prefix=True)
    except NotJSON:
        if raw.status >= 400:
            client.raise_for_status(raw)
        raise
    if isinstance(data, dict) and data.get("success") is False:
        error = data.get("error") if isinstance(data.get("error"), dict) else {}
        code = client.scrub(str(error.get("code") or "UNKNOWN"))
        message = client.scrub(str(error.get("message") or raw.reason or ""))
        if code in auth_codes:
            raise AuthRejected(
                f"Wrong username or access key: Vtiger refused them ({code}: {message}). "
                "Copy both again from My Preferences in Vtiger."
            )
        raise VtigerError(code, message)
    if raw.status >= 400:
        client.raise_for_status(raw)
    if not isinstance(data, dict) or "success" not in data:
        raise NotVtiger(
            'This is not a Vtiger API: the server answered JSON without Vtiger\'s "success" flag. '
            "Check the subdomain or the instance URL.",
            snippet=client.snippet(raw.text(), 200),
        )
    return client.to_response(raw, data)


def refuse_unless_get(method, json_body, headers):
    if method != "GET":
        raise MethodNotAllowed(method, ("GET",), READ_ONLY_MESSAGE)
    if json_body is not None:
        raise MethodNotAllowed(method, ("GET",), "Vtiger GET requests carry no body.")
    if headers:
        raise BadEndpoint("Vtiger connections don't take extra headers; use query parameters.")


@sensitive_variables()
def send(client, method, endpoint, *, params, headers, json_body, allow_truncated):
    # Checked before any I/O: a refused write must not reach the CRM at all.
    refuse_unless_get(method, json_body, headers)
    url, query = client.url_for(endpoint)
    raw = client.send(
        "GET",
        url,
        params=query + params,
        credentials=basic_credentials(client.connection.username, client.secret("access_key")),
        allow_truncated=allow_truncated,
    )
    return interpret(client, raw)


def user_label(user):
    """'Dana Demo (demo)' from a Vtiger user record."""
    if not isinstance(user, dict):
        return ""
    full = " ".join(str(user.get(k) or "").strip() for k in ("first_name", "last_name")).strip()
    login = str(user.get("user_name") or user.get("username") or "").strip()
    if full and login:
        return f"{full} ({login})"
    return full or login


def test(connection):
    try:
        with Client(connection) as client:
            response = client.request("GET", "me")
    except ConnectionProblem as problem:
        return failed_test_outcome(problem, html_prefix="This doesn't look like a Vtiger API:")
    user = response.result
    if not isinstance(user, dict):
        problem = NotVtiger("The Vtiger 'me' call answered without a user record: check the instance URL.")
        return failed_test_outcome(problem)
    label = user_label(user) or "the Vtiger user"
    return TestOutcome(
        ok=True,
        status=Status.CONNECTED,
        message=f"Connected as {label}.",
        details={"user": {k: user.get(k) for k in ("id", "user_name", "first_name", "last_name") if k in user}},
    )


# --- the form -------------------------------------------------------------------


def normalise_subdomain(value):
    value = (value or "").strip().lower().rstrip(".")
    # Pasting "acme.od2.vtiger.com" is a common slip; the labels before it are what we want.
    if value.endswith(".vtiger.com"):
        value = value[: -len(".vtiger.com")]
    return value


def normalise_instance_url(value, suffix=API_PATH):
    value = (value or "").rstrip("/")
    if value.lower().endswith(suffix.lower()):
        value = value[: -len(suffix)]
    return value.rstrip("/")


class VtigerCloudForm(ConnectionForm):
    secret_fields = {"access_key": "access_key"}
    advanced_fields = ("instance_url",)

    subdomain = forms.CharField(
        label="Subdomain",
        required=False,
        max_length=200,
        help_text="The part before .vtiger.com in your browser's address, e.g. acme or acme.od2.",
    )
    username = forms.CharField(
        label="Username", max_length=255, help_text="Your Vtiger user name (often an email address)."
    )
    access_key = secret_field("Access Key", "In Vtiger: My Preferences → User Advanced Options → Access Key.")
    plan = forms.ChoiceField(
        label="Plan",
        choices=[(slug, f"{label} ({per_minute} requests per minute)") for slug, (label, per_minute) in PLANS.items()],
        initial=DEFAULT_PLAN,
        help_text="Your Vtiger edition sets how many API requests per minute the instance accepts.",
    )
    rate_limit_per_minute = rate_budget_field(
        "Leave blank to use the plan's limit; lower it to leave room for other integrations."
    )
    instance_url = forms.CharField(
        label="Instance URL (advanced)",
        required=False,
        max_length=400,
        help_text="Overrides https://{subdomain}.vtiger.com, for regional hosts or the sandbox. "
        f"With or without {API_PATH}.",
    )

    @classmethod
    def initial_for(cls, connection):
        return {
            "name": connection.name,
            "subdomain": connection.option("subdomain", ""),
            "username": connection.username,
            "plan": connection.option("plan", DEFAULT_PLAN),
            "rate_limit_per_minute": connection.rate_limit_per_minute,
            "instance_url": connection.option("instance_url", ""),
        }

    def clean_subdomain(self):
        value = normalise_subdomain(self.cleaned_data.get("subdomain"))
        if value and not DNS_LABELS_RE.match(value):
            raise forms.ValidationError(
                "Enter only the part before .vtiger.com, made of letters, digits and hyphens: acme or acme.od2."
            )
        return value

    def clean_instance_url(self):
        return normalise_instance_url(clean_http_url(self.cleaned_data.get("instance_url"), "instance URL"))

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("subdomain") and not cleaned.get("instance_url") and "subdomain" not in self.errors:
            self.add_error("subdomain", "Enter the subdomain (or an instance URL under Advanced).")
        self.require_secret("access_key", "Enter the access key.")
        return cleaned


def apply(connection, cleaned):
    """Copy a valid VtigerCloudForm's data onto `connection` (not saved)."""
    instance = cleaned.get("instance_url") or f"https://{cleaned['subdomain']}.vtiger.com"
    plan = cleaned.get("plan") or DEFAULT_PLAN
    connection.integration = SLUG
    connection.name = cleaned["name"]
    connection.base_url = instance + API_PATH
    connection.username = cleaned["username"].strip()
    connection.auth_type = Connection.AuthType.BASIC
    connection.options = {
        **(connection.options or {}),
        "subdomain": cleaned.get("subdomain") or "",
        "instance_url": cleaned.get("instance_url") or "",
        "plan": plan,
        "docs_url": DOCS_URL,
        "data_timezone": "UTC",
    }
    connection.rate_limit_per_minute = cleaned.get("rate_limit_per_minute") or PLANS[plan][1]
    connection.set_secret("access_key", cleaned.get("access_key"))


INTEGRATION = Integration(
    slug=SLUG,
    name="Vtiger",
    description="Vtiger CRM Cloud: leads, contacts, deals, tickets and invoices through the REST API.",
    keywords=("vtiger", "crm", "cloud", "sales", "leads", "deals", "tickets", "rest"),
    status_label="Beta",
    auth_label="Basic (username and access key)",
    requests_label="GET",
    endpoints_label=", ".join(e for e, _ in ENDPOINT_SUGGESTIONS),
    date_range_label="Yes: {{start}} and {{end}} in VTQL WHERE clauses and sync's modifiedTime",
    pagination_label="Vtiger (LIMIT offset, 100 until an empty page)",
    rate_limits_label="Per instance by plan: Growth 30, Professional 60, Enterprise 90 requests per minute",
    docs_url=DOCS_URL,
    credentials_help=CREDENTIALS_HELP,
    endpoint_suggestions=ENDPOINT_SUGGESTIONS,
    default_pagination="vtiger",
    allowed_methods=lambda connection: ("GET",),
    form_class=VtigerCloudForm,
    apply=apply,
    test=test,
    send=send,
    lookup_labels=vtiger_labels.lookup_labels,
)
