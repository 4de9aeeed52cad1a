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
from django.core.exceptions import ValidationError
from django.db import models

from builder import currencies, dates, formulas, timeframes, transform


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


class Kind(models.TextChoices):
    API = "api", "Fetched from an API"
    CALCULATED = "calculated", "Calculated from other metrics"


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
    """A metric fetched from an API (``kind`` "api": connection, request, dates, expression) or
    calculated from up to five other metrics (``kind`` "calculated": a ``formula`` over its
    ``inputs``, :class:`MetricInput`; no connection, request or expression, never synced itself:
    ``dashboards.queries`` computes its values from its inputs' values)."""

    uuid = models.UUIDField(default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.API)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="metrics")
    # Deleting a connection keeps its metrics and their data; they pause (syncs app).
    connection = models.ForeignKey(
        "connections.Connection", null=True, blank=True, on_delete=models.SET_NULL, related_name="metrics"
    )

    # The request, as the wizard's first step prepares it.
    method = models.CharField(max_length=8, default="GET")
    endpoint = models.CharField(max_length=500, blank=True)
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

    expression = models.TextField(blank=True)
    # A calculated metric's formula over its inputs' names (builder.formulas): "won / created * 100".
    formula = models.TextField(blank=True)
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
        if self.is_calculated:
            # No request of its own; an empty bucket is a gap, not 0 (dashboards.reading.drawn).
            self.connection = None
            self.date_mode = DateMode.NONE
            self.aggregation = Aggregation.AVERAGE
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
    def is_calculated(self) -> bool:
        return self.kind == Kind.CALCULATED

    def get_aggregation_display(self) -> str:
        if self.is_calculated:
            return "Calculated from its inputs"
        return str(Aggregation(self.aggregation).label) if self.aggregation in Aggregation.values else self.aggregation

    def input_pairs(self) -> list[tuple[str, "Metric"]]:
        """A calculated metric's ``[(name, input metric)]``, in the order they were given."""
        return [(row.name, row.source) for row in self.inputs.select_related("source").order_by("position", "pk")]

    def calculated_problems(self, pairs) -> list[str]:
        """What is wrong with ``pairs`` ``[(name, metric)]`` as this calculated metric's inputs and
        its ``formula`` over them (too many, a bad or repeated name, a cycle, a bad formula)."""
        problems = []
        if not pairs:
            problems.append("Choose at least one input metric.")
        if len(pairs) > formulas.MAX_INPUTS:
            problems.append(f"A calculated metric has at most {formulas.MAX_INPUTS} inputs.")
        names = [name for name, _ in pairs]
        for name in names:
            problem = formulas.check_name(name)
            if problem:
                problems.append(problem)
        for name in sorted({name for name in names if names.count(name) > 1}):
            problems.append(f"Two inputs are named “{name}”: give each its own name.")
        for _, source in pairs:
            cycle = self.cycle_through(source)
            if cycle:
                problems.append(cycle)
        problems.extend(formulas.check(self.formula, names))
        return problems

    def cycle_through(self, source: "Metric") -> str:
        """The problem when ``source`` as an input of this metric would make a cycle, else ""."""
        if self.pk is not None and source.pk == self.pk:
            return f"“{self.name}” cannot be an input of itself."
        if self.pk is None or not source.is_calculated:
            return ""
        path = _path_to(source, self.pk)
        if path:
            chain = " → ".join(f"“{metric.name}”" for metric in path)
            return (
                f"“{source.name}” cannot be an input: it is calculated from “{self.name}” "
                f"({chain} → “{self.name}”), which would make a cycle."
            )
        return ""

    def set_inputs(self, pairs) -> None:
        """Replace a saved calculated metric's inputs with ``pairs`` ``[(name, metric)]``;
        ValidationError with every problem (nothing changed) when they or the formula are wrong."""
        problems = self.calculated_problems(pairs)
        if problems:
            raise ValidationError(problems)
        self.inputs.all().delete()
        MetricInput.objects.bulk_create(
            MetricInput(metric=self, source=source, name=name, position=index)
            for index, (name, source) in enumerate(pairs)
        )

    def api_sources(self) -> list["Metric"]:
        """The fetched metrics this one's values come from: itself, or (transitively) its inputs'."""
        if not self.is_calculated:
            return [self]
        found: dict[int, Metric] = {}
        for _, source in self.input_pairs():
            for metric in source.api_sources():
                found.setdefault(metric.pk, metric)
        return list(found.values())

    def needed_by(self) -> list["Metric"]:
        """The calculated metrics that have this one as an input, by name."""
        return list(Metric.objects.filter(inputs__source=self).distinct().order_by("name"))

    @property
    def calendar_dates(self) -> bool:
        return self.date_kind == DateKind.CALENDAR

    @property
    def zone(self) -> str:
        """Where the metric's sync windows begin their days: its owner's zone, UTC without an owner."""
        return timeframes.user_zone(self.owner)

    @property
    def request_spec(self) -> dict | None:
        """The request as ``builder.fetching`` sends it (the ``request`` of a definition, copied);
        None for a calculated metric, which sends none."""
        if self.is_calculated:
            return None
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
        if self.is_calculated:
            inputs = [[name, str(source.uuid)] for name, source in self.input_pairs()] if self.pk else []
            values = {"kind": self.kind, "formula": self.formula, "inputs": inputs}
        else:
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
        if self.is_calculated:
            MetricInput.objects.bulk_create(
                MetricInput(metric=duplicate, source_id=row.source_id, name=row.name, position=row.position)
                for row in self.inputs.all()
            )
        return duplicate


def _path_to(start: Metric, target_pk: int, seen: set | None = None) -> list[Metric]:
    """The chain of calculated metrics from ``start`` down to one that has ``target_pk`` as an input, or []."""
    seen = seen if seen is not None else set()
    if start.pk in seen:
        return []
    seen.add(start.pk)
    for row in MetricInput.objects.filter(metric=start).select_related("source"):
        if row.source_id == target_pk:
            return [start]
        if row.source.is_calculated:
            rest = _path_to(row.source, target_pk, seen)
            if rest:
                return [start, *rest]
    return []


class MetricInput(models.Model):
    """One named input of a calculated metric: ``won`` is the metric “Deals won”."""

    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="inputs")
    # An input cannot be deleted while a calculated metric needs it (the delete page lists them).
    source = models.ForeignKey(Metric, on_delete=models.PROTECT, related_name="used_as_input")
    name = models.CharField(max_length=formulas.NAME_MAX_LENGTH)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["metric", "position", "pk"]
        constraints = [models.UniqueConstraint(fields=["metric", "name"], name="metricinput_metric_name_unique")]

    def __str__(self):
        return f"{self.name} = {self.source_id} in {self.metric_id}"

    def save(self, *args, **kwargs):
        problem = self.metric.cycle_through(self.source)
        if problem:
            raise ValidationError(problem)
        super().save(*args, **kwargs)


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
