"""Where metrics are read: databoards and their tiles, goals, alerts and scorecards.

Each of these puts its metrics in use (``syncs.uses``): creating one adds a use,
deleting it removes the use, and a metric's last use stops its syncs
(see ``dashboards.receivers``).
"""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models import Max

from builder import timeframes
from builder.validators import validate_name

RANGE_CHOICES = [(key, label) for key, label in timeframes.PRESETS.items() if key != "custom"]


class Databoard(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["uuid"], name="databoard_uuid_unique")]

    def __str__(self):
        return self.name

    def clean(self):
        # In clean() rather than the field's validators, which would need a migration.
        _validate_name_field(self.name)

    def add_tile(self, metric, kind, date_range, dimension="") -> "Tile":
        """A new tile showing ``metric`` (or its ``dimension`` alone), placed after the databoard's last tile."""
        last = self.tiles.aggregate(last=Max("position"))["last"] or 0
        return self.tiles.create(
            metric=metric, kind=kind, date_range=date_range, dimension=dimension, position=last + 1
        )

    def move_tile(self, tile_id, up: bool) -> bool:
        """Swap a tile with its neighbour, earlier (``up``) or later; False when the tile is not here.

        The databoard's tiles are locked while they are renumbered 1, 2, 3..., so two moves at
        once do not both read the old order. The first tile moved up, or the last moved down,
        stays where it is.
        """
        with transaction.atomic():
            tiles = list(self.tiles.select_for_update().order_by("position", "pk"))
            index = next((i for i, tile in enumerate(tiles) if tile.pk == tile_id), None)
            if index is None:
                return False
            other = index - 1 if up else index + 1
            if 0 <= other < len(tiles):
                tiles[index], tiles[other] = tiles[other], tiles[index]
                for position, tile in enumerate(tiles, start=1):
                    if tile.position != position:
                        tile.position = position
                        tile.save(update_fields=["position"])
        return True

    def remove_tile(self, tile_id) -> bool:
        """Delete one of the databoard's tiles (its metric and data are kept); False when it is not here."""
        deleted, _ = self.tiles.filter(pk=tile_id).delete()
        return bool(deleted)


# A metric's datapoints carry a dimension ("Web Site" for leads by source); "" is a metric without
# one. On a tile, goal or alert, a blank dimension means the whole metric, a key that dimension alone.
DIMENSION_HELP = "Blank: the whole metric; a dimension: that dimension alone."


def dimension_field():
    return models.CharField(max_length=200, blank=True, default="", help_text=DIMENSION_HELP)


class Tile(models.Model):
    class Kind(models.TextChoices):
        NUMBER = "number", "Number"
        LINE = "line", "Line chart"
        BAR = "bar", "Bar chart"
        # The metric by dimension over the tile's range: one bar, row or slice per dimension.
        DIMENSION_BAR = "dim_bar", "Bar chart by dimension"
        DIMENSION_TABLE = "dim_table", "Table by dimension"
        DIMENSION_DONUT = "dim_donut", "Donut by dimension"

    BY_DIMENSION = (Kind.DIMENSION_BAR, Kind.DIMENSION_TABLE, Kind.DIMENSION_DONUT)

    databoard = models.ForeignKey(Databoard, on_delete=models.CASCADE, related_name="tiles")
    metric = models.ForeignKey("builder.Metric", on_delete=models.CASCADE, related_name="tiles")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.NUMBER)
    date_range = models.CharField(max_length=20, choices=RANGE_CHOICES, default="last_30_days")
    dimension = dimension_field()
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["databoard", "position", "pk"]

    def __str__(self):
        return f"{self.metric} on {self.databoard}"

    @property
    def chart_id(self):
        """The HTML id of the tile's chart data."""
        return f"tile-chart-{self.pk}"

    @property
    def by_dimension(self) -> bool:
        """Whether the tile shows the metric by dimension (bar, table or donut)."""
        return self.kind in self.BY_DIMENSION


class Goal(models.Model):
    class Period(models.TextChoices):
        MONTH = "month", "This month"
        QUARTER = "quarter", "This quarter"
        YEAR = "year", "This year"
        CUSTOM = "custom", "Custom dates"

    metric = models.ForeignKey("builder.Metric", on_delete=models.CASCADE, related_name="goals")
    target = models.FloatField()
    dimension = dimension_field()
    period = models.CharField(max_length=10, choices=Period.choices, default=Period.MONTH)
    # Custom periods only; month, quarter and year follow the calendar.
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["metric", "pk"]

    def __str__(self):
        of = f"{self.metric} ({self.dimension})" if self.dimension else str(self.metric)
        return f"{of}: {self.target:g} ({self.get_period_display()})"

    def clean(self):
        try:
            timeframes.check_supported(self.start_date, self.end_date)
        except timeframes.OutOfRange as exc:
            raise ValidationError(str(exc)) from None


class Alert(models.Model):
    class Condition(models.TextChoices):
        ABOVE = "above", "Goes above"
        BELOW = "below", "Goes below"
        CHANGE = "change", "Changes by more than (%)"

    metric = models.ForeignKey("builder.Metric", on_delete=models.CASCADE, related_name="alerts")
    condition = models.CharField(max_length=10, choices=Condition.choices)
    threshold = models.FloatField()
    date_range = models.CharField(max_length=20, choices=RANGE_CHOICES, default="today")
    dimension = dimension_field()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    # True while the condition holds: one notification per episode, not per sync.
    triggered = models.BooleanField(default=False)
    last_value = models.FloatField(null=True, blank=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["metric", "pk"]

    def __str__(self):
        return f"{self.metric} {self.get_condition_display().lower()} {self.threshold:g}"


class AlertEvent(models.Model):
    """One episode's start: when the condition began to hold, and what was sent."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    value = models.FloatField(null=True)
    message = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return self.message


class Scorecard(models.Model):
    class Frequency(models.TextChoices):
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly (Mondays)"
        MONTHLY = "monthly", "Monthly (the 1st)"

    MAX_METRICS = 15

    uuid = models.UUIDField(default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120)
    frequency = models.CharField(max_length=10, choices=Frequency.choices, default=Frequency.WEEKLY)
    metrics = models.ManyToManyField("builder.Metric", related_name="scorecards")
    recipients = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="scorecards")
    hour = models.PositiveSmallIntegerField(
        default=8, validators=[MinValueValidator(0), MaxValueValidator(23)], help_text="Local hour of sending."
    )
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    last_sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["uuid"], name="scorecard_uuid_unique")]

    def __str__(self):
        return self.name

    def clean(self):
        _validate_name_field(self.name)


def _validate_name_field(name):
    try:
        validate_name(name)
    except ValidationError as exc:
        raise ValidationError({"name": exc.messages}) from None
