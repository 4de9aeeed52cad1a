"""Any JSON REST API: none, Basic, bearer token, or an API key in a header or the query string."""

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.views.decorators.debug import sensitive_variables

from connections.client import FORBIDDEN_HEADERS, Client, Credentials, resolve_endpoint
from connections.errors import BadEndpoint, ConnectionProblem, MethodNotAllowed
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
from connections.integrations.vtiger_cloud import basic_credentials
from connections.models import Connection

SLUG = Connection.Integration.CUSTOM.value
AuthType = Connection.AuthType

METHOD_CHOICES = [("GET", "GET"), ("GET,POST", "GET, and POST with a JSON body")]
DEFAULT_API_KEY_HEADER = "X-API-Key"
DEFAULT_API_KEY_PARAM = "api_key"
HEADER_NAME_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
PARAM_NAME_RE = re.compile(r"^[A-Za-z0-9._~\-\[\]]+$")
# Which stored secrets each auth type uses; the others are cleared on save.
SECRETS_BY_AUTH = {
    AuthType.NONE: (),
    AuthType.BASIC: ("password",),
    AuthType.BEARER: ("token",),
    AuthType.API_KEY_HEADER: ("api_key",),
    AuthType.API_KEY_QUERY: ("api_key",),
}

CREDENTIALS_HELP = (
    "Base URL: the part every endpoint of the API starts with, e.g. https://api.example.com/v1. "
    "Credentials: your API's documentation says which kind it takes (often under Authentication): "
    "a username and password (Basic), a token sent as 'Authorization: Bearer ...', or an API key sent "
    "in a header (e.g. X-API-Key) or in the query string (e.g. ?api_key=...). "
    "Create a read-only key if the API offers one."
)


# --- the wire -------------------------------------------------------------------


def allowed_methods(connection):
    methods = connection.option("allowed_methods") or ["GET"]
    return tuple(m.upper() for m in methods)


@sensitive_variables()
def credentials_for(connection):
    auth = connection.auth_type
    if auth == AuthType.BASIC:
        return basic_credentials(connection.username, connection.get_secret("password"))
    if auth == AuthType.BEARER:
        return Credentials(headers=[("Authorization", f"Bearer {connection.get_secret('token')}")])
    if auth == AuthType.API_KEY_HEADER:
        name = connection.option("api_key_name") or DEFAULT_API_KEY_HEADER
        return Credentials(headers=[(name, connection.get_secret("api_key"))])
    if auth == AuthType.API_KEY_QUERY:
        name = connection.option("api_key_name") or DEFAULT_API_KEY_PARAM
        return Credentials(params=[(name, connection.get_secret("api_key"))])
    return Credentials()


@sensitive_variables()
def send(client, method, endpoint, *, params, headers, json_body, allow_truncated):
    connection = client.connection
    allowed = allowed_methods(connection)
    if method not in allowed:
        raise MethodNotAllowed(method, allowed)
    if method == "GET" and json_body is not None:
        raise MethodNotAllowed(method, allowed, "A GET request carries no body: use POST, or query parameters.")
    credentials = credentials_for(connection)
    default_headers = [(k, v) for k, v in connection.option("default_headers") or []]
    # Credentials live on the connection, never in per-request headers or parameters.
    client.check_headers(default_headers + headers, reserved=[name for name, _ in credentials.headers])
    secret_params = {name.lower() for name in credentials.param_names}
    for key, _ in params:
        if key.lower() in secret_params:
            raise BadEndpoint(f"The parameter {key} carries the API key: it is added by the connection.")
    url, query = client.url_for(endpoint)
    # A header given for this request overrides a default header of the same name.
    overridden = {k.lower() for k, _ in headers}
    merged = [(k, v) for k, v in default_headers if k.lower() not in overridden] + headers
    raw = client.send(
        method,
        url,
        params=query + params,
        headers=merged,
        json_body=json_body if method == "POST" else None,
        credentials=credentials,
        allow_truncated=allow_truncated,
    )
    client.raise_for_status(raw, auth_hint="check the connection's credentials")
    if raw.truncated:
        return client.to_response(raw, None)
    if raw.status == 204:
        return client.to_response(raw, None)
    return client.to_response(raw, client.parse_json(raw))


def test(connection):
    test_path = connection.option("test_path") or ""
    if not test_path:
        return TestOutcome(
            ok=True,
            status=Status.NEW,
            message="Saved without a test: add a test path to check the credentials.",
        )
    try:
        with Client(connection) as client:
            response = client.request("GET", test_path)
    except ConnectionProblem as problem:
        return failed_test_outcome(problem)
    return TestOutcome(
        ok=True,
        status=Status.CONNECTED,
        message=f"Connected: GET {test_path} answered HTTP {response.status} with JSON in {response.elapsed_ms} ms.",
        details={"http_status": response.status},
    )


# --- the form -------------------------------------------------------------------


def parse_header_lines(text):
    """[[name, value], ...] from 'Name: value' lines; raises ValidationError naming the bad line."""
    headers = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        name, value = name.strip(), value.strip()
        if not sep or not HEADER_NAME_RE.match(name):
            raise forms.ValidationError(f"Line {number}: write each header as 'Name: value'.")
        if name.lower() in FORBIDDEN_HEADERS or name.lower() == "authorization":
            raise forms.ValidationError(
                f"Line {number}: {name} can't be a default header"
                + (" (set credentials under Authentication)." if name.lower() == "authorization" else ".")
            )
        headers.append([name, value])
    return headers


def format_header_lines(headers):
    return "\n".join(f"{name}: {value}" for name, value in headers or [])


class CustomRestForm(ConnectionForm):
    secret_fields = {"password": "password", "token": "token", "api_key_value": "api_key"}
    advanced_fields = ("default_headers", "rate_limit_per_minute", "data_timezone")

    base_url = forms.CharField(
        label="Base URL",
        max_length=400,
        help_text="Every endpoint is a path relative to this, e.g. https://api.example.com/v1.",
    )
    auth_type = forms.ChoiceField(label="Authentication", choices=AuthType.choices, initial=AuthType.NONE)
    username = forms.CharField(label="Username", required=False, max_length=255, help_text="For Basic auth.")
    password = secret_field("Password", "For Basic auth.")
    token = secret_field("Bearer token", "Sent in the Authorization header, after the word Bearer.")
    api_key_name = forms.CharField(
        label="API key name",
        required=False,
        max_length=100,
        help_text=f"The header (e.g. {DEFAULT_API_KEY_HEADER}) or query parameter (e.g. {DEFAULT_API_KEY_PARAM}).",
    )
    api_key_value = secret_field("API key")
    default_headers = forms.CharField(
        label="Default headers",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Sent with every request, one 'Name: value' per line. Not for credentials.",
    )
    allowed_methods = forms.ChoiceField(label="Allowed methods", choices=METHOD_CHOICES, initial="GET")
    docs_url = forms.URLField(label="API docs URL", required=False, assume_scheme="https", max_length=500)
    rate_limit_per_minute = rate_budget_field()
    data_timezone = forms.CharField(
        label="Data time zone",
        initial="UTC",
        max_length=64,
        help_text="The time zone of dates without an offset in this API's data, e.g. UTC or Europe/Berlin.",
    )
    test_path = forms.CharField(
        label="Test path",
        required=False,
        max_length=400,
        help_text="Optional: an endpoint that answers JSON with these credentials, called by Connect and Test.",
    )

    @classmethod
    def initial_for(cls, connection):
        return {
            "name": connection.name,
            "base_url": connection.base_url,
            "auth_type": connection.auth_type,
            "username": connection.username,
            "api_key_name": connection.option("api_key_name", ""),
            "default_headers": format_header_lines(connection.option("default_headers")),
            "allowed_methods": ",".join(allowed_methods(connection)),
            "docs_url": connection.option("docs_url", ""),
            "rate_limit_per_minute": connection.rate_limit_per_minute,
            "data_timezone": connection.data_timezone,
            "test_path": connection.option("test_path", ""),
        }

    def clean_base_url(self):
        return clean_http_url(self.cleaned_data.get("base_url"), "base URL")

    def clean_default_headers(self):
        return parse_header_lines(self.cleaned_data.get("default_headers"))

    def clean_data_timezone(self):
        value = (self.cleaned_data.get("data_timezone") or "UTC").strip()
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise forms.ValidationError(
                f"{value} is not a time zone name; use one like UTC or Europe/Berlin."
            ) from None
        return value

    def clean_test_path(self):
        value = (self.cleaned_data.get("test_path") or "").strip()
        if value:
            try:
                resolve_endpoint("https://example.invalid", value)
            except BadEndpoint as exc:
                raise forms.ValidationError(exc.message) from None
        return value

    def clean(self):
        cleaned = super().clean()
        auth = cleaned.get("auth_type")
        if auth == AuthType.BASIC:
            if not cleaned.get("username"):
                self.add_error("username", "Basic auth needs a username.")
            self.require_secret("password", "Basic auth needs a password.")
        elif auth == AuthType.BEARER:
            self.require_secret("token", "Enter the bearer token.")
        elif auth in (AuthType.API_KEY_HEADER, AuthType.API_KEY_QUERY):
            name = (cleaned.get("api_key_name") or "").strip()
            pattern = HEADER_NAME_RE if auth == AuthType.API_KEY_HEADER else PARAM_NAME_RE
            if not name:
                self.add_error("api_key_name", "Enter the name of the header or query parameter that carries the key.")
            elif not pattern.match(name) or name.lower() in FORBIDDEN_HEADERS:
                self.add_error("api_key_name", f"{name} can't be used as the key's name.")
            self.require_secret("api_key_value", "Enter the API key.")
        for name, _ in cleaned.get("default_headers") or []:
            if auth == AuthType.API_KEY_HEADER and name.lower() == (cleaned.get("api_key_name") or "").lower():
                self.add_error("default_headers", f"{name} carries the API key: set it under Authentication.")
        return cleaned


def apply(connection, cleaned):
    auth = cleaned.get("auth_type") or AuthType.NONE
    connection.integration = SLUG
    connection.name = cleaned["name"]
    connection.base_url = cleaned["base_url"]
    connection.auth_type = auth
    connection.username = (cleaned.get("username") or "").strip() if auth == AuthType.BASIC else ""
    connection.options = {
        **(connection.options or {}),
        "api_key_name": (cleaned.get("api_key_name") or "").strip()
        if auth in (AuthType.API_KEY_HEADER, AuthType.API_KEY_QUERY)
        else "",
        "default_headers": cleaned.get("default_headers") or [],
        "allowed_methods": (cleaned.get("allowed_methods") or "GET").split(","),
        "docs_url": cleaned.get("docs_url") or "",
        "data_timezone": cleaned.get("data_timezone") or "UTC",
        "test_path": cleaned.get("test_path") or "",
    }
    connection.rate_limit_per_minute = cleaned.get("rate_limit_per_minute") or None
    connection.set_secret("password", cleaned.get("password"))
    connection.set_secret("token", cleaned.get("token"))
    connection.set_secret("api_key", cleaned.get("api_key_value"))
    # Switching auth type leaves no stale credential behind.
    for name in ("password", "token", "api_key"):
        if name not in SECRETS_BY_AUTH[auth]:
            connection.clear_secret(name)


INTEGRATION = Integration(
    slug=SLUG,
    name="Custom REST API",
    description="Any HTTP API that answers JSON: choose the base URL, the authentication and the headers.",
    keywords=("custom", "rest", "api", "json", "http", "webhook", "generic", "any"),
    status_label="Stable",
    auth_label="None, Basic, bearer token, API key in a header or in a query parameter",
    requests_label="GET, POST (JSON body, if allowed on the connection)",
    endpoints_label="Any path under the base URL",
    date_range_label="Yes: {{start}} and {{end}} in any parameter, header or body value",
    pagination_label="None, page number, offset, cursor or next link (chosen per metric)",
    rate_limits_label="The connection's rate budget; 429 answers are retried after Retry-After",
    docs_url="",
    credentials_help=CREDENTIALS_HELP,
    endpoint_suggestions=(),
    default_pagination="none",
    allowed_methods=allowed_methods,
    form_class=CustomRestForm,
    apply=apply,
    test=test,
    send=send,
)
