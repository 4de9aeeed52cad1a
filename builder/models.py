"""What a metric is, and the wizard draft it is built in.

A metric's whole definition (request, date handling, expression, presentation,
sync settings) can be read and written as one dict in the export format of
product.md: see `builder.definitions`. The draft keeps that dict while the
analyst moves through the wizard, so Back never loses anything.
"""

import copy
import hashlib
import json
import uuid

from django.conf import settings
from django.db import models

from builder import currencies, dates, timeframes, transform


class DateMode(models.TextChoices):
    NONE = transform.NO_DATE, "None (a single current value)"
    DYNAMIC = transform.DYNAMIC_DATE, "Use current time of storing data (Dynamic)"
    FIELD = transform.FIELD_DATE, "Use a field from response"


class DateKind(models.TextChoices):
    INSTANT = dates.INSTANT, "Instants (date and time, shown in each viewer's zone)"
    CALENDAR = dates.CALENDAR, "Calendar dates (the same date for every viewer)"


class Aggregation(models.TextChoices):
    SUM = "sum", "Sum"
    AVERAGE = "average", "Average"
    MIN = "min", "Min"
    MAX = "max", "Max"
    LATEST = "latest", "Latest value"
    COUNT = "count", "Count"


class NumberFormat(models.TextChoices):
    NUMBER = "number", "Number"
    CURRENCY = "currency", "Currency"
    PERCENT = "percent", "Percent"


class Trend(models.TextChoices):
    UP = "up", "Trending UP is positive"
    DOWN = "down", "Trending DOWN is positive"


# The fields that decide what a metric's data are; an edit of any re-syncs its history
# (``Metric.definition_hash``).
DEFINITION_FIELDS = (
    "connection_id",
    "method",
    "endpoint",
    "params",
    "headers",
    "body",
    "pagination",
    "date_mode",
    "date_field",
    "date_format",
    "date_timezone",
    "expression",
    "window_days",
    "history_days",
)


class Metric(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="metrics")
    # Deleting a connection keeps its metrics and their data; they pause (syncs app).
    connection = models.ForeignKey(
        "connections.Connection", null=True, blank=True, on_delete=models.SET_NULL, related_name="metrics"
    )

    # The request, as the wizard's first step prepares it.
    method = models.CharField(max_length=8, default="GET")
    endpoint = models.CharField(max_length=500)
    params = models.JSONField(default=list, blank=True)  # [[key, value], ...]
    headers = models.JSONField(default=list, blank=True)  # [[name, value], ...]
    body = models.JSONField(null=True, blank=True)
    pagination = models.JSONField(default=dict, blank=True)  # {"type": "none" | "vtiger" | ..., options}

    # Dates: how the values returned by the expression are stamped.
    date_mode = models.CharField(max_length=10, choices=DateMode.choices, default=DateMode.NONE)
    date_field = models.CharField(max_length=200, blank=True)  # the response field chosen in step 2
    date_format = models.CharField(max_length=60, blank=True)
    date_timezone = models.CharField(max_length=64, blank=True)  # for naive values
    # Derived from date_format on save (builder.dates.date_kind): calendar dates are stored as
    # midnight UTC of their date and read as dates, not instants (dashboards.queries).
    date_kind = models.CharField(max_length=10, choices=DateKind.choices, default=DateKind.INSTANT, editable=False)

    expression = models.TextField()
    aggregation = models.CharField(max_length=10, choices=Aggregation.choices, default=Aggregation.SUM)
    number_format = models.CharField(max_length=10, choices=NumberFormat.choices, default=NumberFormat.NUMBER)
    # ISO 4217; shown (with its symbol) only when number_format is currency.
    currency = models.CharField(max_length=3, choices=currencies.CHOICES, default=currencies.default_code)
    favourable_trend = models.CharField(max_length=4, choices=Trend.choices, default=Trend.UP)

    interval_minutes = models.PositiveIntegerField(default=60)
    window_days = models.PositiveIntegerField(default=7)
    history_days = models.PositiveIntegerField(default=365)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            # Public URLs look metrics up by uuid.
            models.UniqueConstraint(fields=["uuid"], name="metric_uuid_unique"),
            # Commands and imports refer to metrics by name.
            models.UniqueConstraint(fields=["name"], name="metric_name_unique"),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.date_kind = self.kind_of_dates()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"date_format", "date_mode"}.intersection(update_fields):
            kwargs["update_fields"] = {*update_fields, "date_kind"}
        super().save(*args, **kwargs)

    def kind_of_dates(self) -> str:
        """``calendar`` when the metric's dates come from a field whose format has no time of day."""
        if self.date_mode == DateMode.FIELD and not dates.has_time_of_day(self.date_format):
            return DateKind.CALENDAR
        return DateKind.INSTANT

    @property
    def calendar_dates(self) -> bool:
        return self.date_kind == DateKind.CALENDAR

    @property
    def zone(self) -> str:
        """Where the metric's sync windows begin their days: its owner's zone, UTC without an owner."""
        return timeframes.user_zone(self.owner)

    @property
    def request_spec(self) -> dict:
        """The request as ``builder.fetching`` sends it (the ``request`` of a definition, copied)."""
        return {
            "method": self.method,
            "endpoint": self.endpoint,
            "params": [list(pair) for pair in self.params or []],
            "headers": [list(pair) for pair in self.headers or []],
            "body": copy.deepcopy(self.body),
            "pagination": copy.deepcopy(self.pagination) or {"type": "none"},
        }

    def definition_hash(self) -> str:
        """A digest of the fields that decide the metric's data (``DEFINITION_FIELDS``)."""
        values = {name: getattr(self, name) for name in DEFINITION_FIELDS}
        text = json.dumps(values, sort_keys=True, default=str, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def copy(self, *, name: str, owner) -> "Metric":
        """A new metric, saved, with this one's definition as stored, under ``name`` and owned by ``owner``."""
        duplicate = Metric.objects.get(pk=self.pk)  # as stored, not as this instance may have been changed
        duplicate.pk = None
        duplicate._state.adding = True
        duplicate.uuid = uuid.uuid4()
        duplicate.name = name
        duplicate.owner = owner
        duplicate.save()
        return duplicate


class Draft(models.Model):
    """A metric being built or edited in the wizard, one per wizard session."""

    uuid = models.UUIDField(default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="metric_drafts")
    # Set when the draft edits an existing metric; saving updates it.
    metric = models.ForeignKey(Metric, null=True, blank=True, on_delete=models.CASCADE, related_name="drafts")
    # The definition so far, in the export format (builder.definitions), with
    # "connection" holding the connection's uuid instead of its name.
    definition = models.JSONField(default=dict)
    # The last Send request: the parsed body (None when cut) and what the viewer shows.
    response = models.JSONField(null=True, blank=True)
    response_meta = models.JSONField(default=dict, blank=True)
    preview_range = models.CharField(max_length=20, default="last_30_days")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["uuid"], name="draft_uuid_unique")]

    def __str__(self):
        return f"Draft {self.uuid} of {self.owner}"


class ClosedDraft(models.Model):
    """What a saved or discarded draft became, so that its old URLs (Browser Back, a bookmark) lead
    to the metric or the Builder with a message instead of a 404. The draft itself is deleted."""

    class Outcome(models.TextChoices):
        SAVED = "saved", "Saved"
        DISCARDED = "discarded", "Discarded"

    uuid = models.UUIDField()  # the draft's
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # The metric it saved (or was editing); null once that metric is deleted.
    metric = models.ForeignKey(Metric, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    metric_name = models.CharField(max_length=120, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    closed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["uuid"], name="closeddraft_uuid_unique")]

    def __str__(self):
        return f"Draft {self.uuid} ({self.outcome})"
