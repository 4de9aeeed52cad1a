"""What every integration provides, and the pieces their forms share."""

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from django import forms
from django.utils.html import escape

from connections import egress
from connections.errors import (
    AuthRejected,
    ConnectionProblem,
    EgressDenied,
    NotJSON,
    RateLimited,
    Timeout,
    Unreachable,
)
from connections.models import Connection

Status = Connection.Status


@dataclass(frozen=True)
class TestOutcome:
    """The result of a live connection test, worded for the person who clicked Connect."""

    __test__ = False  # not a pytest test class, despite the name

    ok: bool
    status: str  # a Connection.Status value
    message: str
    details: dict = field(default_factory=dict)  # e.g. the Vtiger user; never a secret
    kind: str = ""  # the ConnectionProblem kind on failure

    def as_dict(self):
        return {"ok": self.ok, "status": self.status, "message": self.message, "kind": self.kind, **self.details}


@dataclass(frozen=True)
class Integration:
    """One kind of connection: its catalogue card, details page, form, test and wire behaviour."""

    slug: str
    name: str
    description: str
    keywords: tuple
    status_label: str  # "Beta", "Stable"
    auth_label: str  # authorization type, as the details page shows it
    requests_label: str  # "GET" or "GET, POST"
    endpoints_label: str
    date_range_label: str  # dynamic date range support
    pagination_label: str
    rate_limits_label: str
    docs_url: str
    credentials_help: str  # "how to find your credentials", plain text
    endpoint_suggestions: tuple  # ((endpoint, short description), ...)
    default_pagination: str  # a pagination type: "vtiger", "none", ...
    allowed_methods: Callable  # (connection) -> tuple of methods
    form_class: type  # the authorization form (create and edit)
    apply: Callable  # (connection, cleaned_data) -> None: copy a valid form onto a connection
    test: Callable  # (connection) -> TestOutcome
    send: Callable  # (client, method, endpoint, *, params, headers, json_body, allow_truncated) -> Response
    # (request, keys) -> {key: label}: what reference values read as (connections.references);
    # ``request(endpoint, params)`` sends one GET and returns its Response. None: no labels.
    lookup_labels: Callable | None = None

    def details(self):
        """The basics table of the integration's details page, as (label, value) rows."""
        return [
            ("Status", self.status_label),
            ("Authorization type", self.auth_label),
            ("Available requests", self.requests_label),
            ("Available endpoints", self.endpoints_label),
            ("Dynamic date range support", self.date_range_label),
            ("Pagination", self.pagination_label),
            ("Rate limits", self.rate_limits_label),
            ("Official documentation", self.docs_url),
        ]

    def __str__(self):
        return self.name


# --- turning problems into test outcomes ----------------------------------------


def status_for(problem):
    if isinstance(problem, AuthRejected):
        return Status.AUTH_FAILED
    if isinstance(problem, Unreachable | Timeout | EgressDenied):
        return Status.UNREACHABLE
    if isinstance(problem, RateLimited):
        return Status.RATE_LIMITED
    return Status.ERROR


def failed_test_outcome(problem: ConnectionProblem, *, html_prefix=""):
    """A failed TestOutcome for `problem`; `html_prefix` goes before "got an HTML page" messages."""
    message = problem.message
    if isinstance(problem, NotJSON) and problem.is_html and html_prefix:
        message = f"{html_prefix} {message[:1].lower()}{message[1:]}"
    return TestOutcome(ok=False, status=status_for(problem), message=message, kind=problem.kind)


# --- form pieces ------------------------------------------------------------------

DNS_LABELS_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$")


def secret_field(label, help_text=""):
    """A write-only field: never rendered back; blank on edit keeps the stored value."""
    return forms.CharField(
        label=label,
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=help_text,
        max_length=2000,
    )


def rate_budget_field(help_text=""):
    """The connection's own cap on requests per minute, shared by every worker; blank means none."""
    return forms.IntegerField(
        label="Rate budget (requests per minute)", required=False, min_value=1, max_value=10000, help_text=help_text
    )


def clean_http_url(value, label="URL"):
    """Refuse what the egress rules would refuse anyway, as a form error."""
    value = (value or "").strip()
    if not value:
        return value
    try:
        egress.parse_target(value)
    except EgressDenied as exc:
        raise forms.ValidationError(exc.message) from None
    if "?" in value or "#" in value:
        raise forms.ValidationError(f"The {label} can't contain a query string or fragment.")
    return value.rstrip("/")


class ConnectionForm(forms.Form):
    """Base of the authorization forms: `instance` is the connection being edited, or None."""

    # form field name -> stored secret name
    secret_fields: dict = {}
    # Fields the template tucks under an "Advanced" disclosure.
    advanced_fields: tuple = ()

    name = forms.CharField(
        label="Name",
        max_length=100,
        help_text="How this connection is called in the Data Manager and in metric definitions.",
    )

    def __init__(self, data=None, *args, instance=None, **kwargs):
        self.instance = instance
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(instance)
        super().__init__(data, *args, **kwargs)
        for field_name, secret_name in self.secret_fields.items():
            stored = instance.masked_secret(secret_name) if instance is not None else ""
            if stored:
                field_obj = self.fields[field_name]
                # Templates render help text as HTML: the last characters of a secret are user data.
                kept = f"Stored: {escape(stored)}. Leave blank to keep it."
                field_obj.help_text = f"{kept} {field_obj.help_text}" if field_obj.help_text else kept
                field_obj.widget.attrs["placeholder"] = "Leave blank to keep the stored value"

    @classmethod
    def initial_for(cls, connection):
        """The form's initial values for editing `connection`; never a secret."""
        return {"name": connection.name}

    def has_stored(self, field_name):
        secret_name = self.secret_fields[field_name]
        return self.instance is not None and self.instance.has_secret(secret_name)

    def require_secret(self, field_name, message):
        """Add `message` as an error unless the field was filled in or a value is stored."""
        if not self.cleaned_data.get(field_name) and not self.has_stored(field_name):
            self.add_error(field_name, message)

    def clean_name(self):
        name = " ".join(self.cleaned_data["name"].split())
        taken = Connection.objects.filter(name__iexact=name)
        if self.instance is not None and self.instance.pk:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError("A connection with this name already exists.")
        return name

    def clean_rate_limit_per_minute(self):
        value = self.cleaned_data.get("rate_limit_per_minute")
        return value or None
