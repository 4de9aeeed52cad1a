import uuid

from django.conf import settings
from django.db import models
from django.views.decorators.debug import sensitive_variables

from connections import integrations, secrets
from connections.errors import MASK


class Connection(models.Model):
    """Where data comes from: one API account and the credentials to call it."""

    class Integration(models.TextChoices):
        VTIGER = "vtiger", "Vtiger"
        VTIGER_SELFHOSTED = "vtiger-selfhosted", "Vtiger self-hosted"
        CUSTOM = "custom", "Custom REST API"

    # The integrations that speak Vtiger's web service (VTQL, 100-row pages, NxM ids).
    VTIGER_INTEGRATIONS = (Integration.VTIGER, Integration.VTIGER_SELFHOSTED)

    class AuthType(models.TextChoices):
        NONE = "none", "None"
        BASIC = "basic", "Basic (username and password)"
        BEARER = "bearer", "Bearer token"
        API_KEY_HEADER = "api_key_header", "API key in a header"
        API_KEY_QUERY = "api_key_query", "API key in a query parameter"

    class Status(models.TextChoices):
        NEW = "new", "Not tested"
        CONNECTED = "connected", "Connected"
        AUTH_FAILED = "auth_failed", "Authentication failed"
        UNREACHABLE = "unreachable", "Unreachable"
        RATE_LIMITED = "rate_limited", "Rate limited"
        ERROR = "error", "Error"

    uuid = models.UUIDField(default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    integration = models.CharField(max_length=32, choices=Integration.choices)
    base_url = models.URLField(max_length=500)
    username = models.CharField(max_length=255, blank=True)
    auth_type = models.CharField(max_length=20, choices=AuthType.choices, default=AuthType.NONE)
    # Integration-specific settings that are not secret (subdomain, plan, default
    # headers, allowed methods, docs URL, data time zone, test path, ...).
    options = models.JSONField(default=dict, blank=True)
    rate_limit_per_minute = models.PositiveIntegerField(null=True, blank=True)
    # A Fernet token of a JSON dict {secret name: value}; see connections.secrets.
    secrets_encrypted = models.TextField(blank=True, editable=False)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    last_error = models.TextField(blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_tested_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            # Public URLs look connections up by uuid.
            models.UniqueConstraint(fields=["uuid"], name="connection_uuid_unique"),
            # Commands, imports and metric definitions refer to connections by name.
            models.UniqueConstraint(fields=["name"], name="connection_name_unique"),
        ]

    def __str__(self):
        return self.name

    def __repr__(self):
        # Deliberately names no field that could hold a credential.
        return f"<Connection {self.pk}: {self.name} ({self.integration})>"

    @property
    def is_vtiger(self) -> bool:
        return self.integration in self.VTIGER_INTEGRATIONS

    # --- secrets ------------------------------------------------------------

    @sensitive_variables()
    def _secret_dict(self):
        return secrets.decrypt_dict(self.secrets_encrypted)

    @sensitive_variables()
    def get_secret(self, name, default=""):
        """The plaintext of one stored credential, or `default` when unset."""
        return self._secret_dict().get(name, default)

    @sensitive_variables()
    def set_secret(self, name, value):
        """Store a credential; a blank or None value keeps the stored one (write-only forms)."""
        if value is None or value == "":
            return
        values = self._secret_dict() if self.secrets_encrypted else {}
        values[name] = value
        self.secrets_encrypted = secrets.encrypt_dict(values)

    def clear_secret(self, name):
        values = self._secret_dict()
        if values.pop(name, None) is not None:
            self.secrets_encrypted = secrets.encrypt_dict(values) if values else ""

    def has_secret(self, name):
        return bool(self.secrets_encrypted) and bool(self.get_secret(name))

    def masked_secret(self, name):
        """`••••3f9a` (the last four characters) or `••••` for short or missing values."""
        value = self.get_secret(name) if self.secrets_encrypted else ""
        if len(value) >= 12:
            return f"{MASK}{value[-4:]}"
        return MASK if value else ""

    # --- options ------------------------------------------------------------

    def option(self, key, default=None):
        return (self.options or {}).get(key, default)

    @property
    def data_timezone(self):
        """The time zone of naive dates in this connection's data (Vtiger: UTC)."""
        return self.option("data_timezone") or "UTC"

    @property
    def integration_module(self):
        """This connection's Integration (form, test, wire behaviour), from the catalogue."""
        return integrations.get_or_raise(self.integration)


class RateBucket(models.Model):
    """A connection's request budget on the database (connections.ratelimit, the embedded setup).

    A fixed window of 60 s: ``count`` requests started since ``window_start``; nothing may be
    sent before ``blocked_until`` (from ``Retry-After`` or ``X-FloodControl-Reset``).
    """

    key = models.CharField(max_length=64, primary_key=True)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)
    blocked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.key}: {self.count} since {self.window_start}"


class ReferenceLabel(models.Model):
    """What a reference value reads as on one connection (``connections.references``): a cache.

    ``key`` is the raw value (a Vtiger ``19x5``), ``label`` the record's name ("Ada Admin"); an
    empty label means the lookup found no record for the key. ``fetched_at``: when the API last
    answered for it (refreshed after a day).
    """

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="reference_labels")
    key = models.CharField(max_length=200)
    label = models.CharField(max_length=255, blank=True)
    fetched_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "key"], name="reference_label_unique")]

    def __str__(self):
        return f"{self.key}: {self.label or '(no record)'}"
