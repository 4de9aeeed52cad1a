"""The dashboards' forms: the date range picker, and the forms of databoards, tiles, goals,
alerts and scorecards (the views only bind them and choose the response)."""

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q

from accounts.roles import ADMIN, ANALYST
from builder import timeframes
from builder.models import Metric
from dashboards import breakdowns
from dashboards.models import Alert, Databoard, Goal, Scorecard, Tile

# The longest custom range a screen will chart by day.
MAX_CUSTOM_DAYS = 3 * 366


class RangeForm(forms.Form):
    """The date range picker: a preset, or custom from/to dates (both included)."""

    range = forms.ChoiceField(label="Date range", choices=list(timeframes.PRESETS.items()), initial="last_30_days")
    start = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("range") != "custom":
            return cleaned
        start, end = cleaned.get("start"), cleaned.get("end")
        if not start or not end:
            raise forms.ValidationError("A custom range needs a From date and a To date.")
        try:
            timeframes.check_supported(start, end)
        except timeframes.OutOfRange as exc:
            raise forms.ValidationError(str(exc)) from None
        if end < start:
            raise forms.ValidationError("The To date is before the From date.")
        if (end - start).days >= MAX_CUSTOM_DAYS:
            raise forms.ValidationError("A custom range can span at most three years.")
        return cleaned

    def resolve(self, tz):
        """The chosen Range in the zone `tz`; the default (Last 30 days) when the form is invalid."""
        if not self.is_valid():
            return timeframes.resolve("last_30_days", tz)
        data = self.cleaned_data
        return timeframes.resolve(data["range"], tz, start_date=data.get("start"), end_date=data.get("end"))


def range_form(request):
    """The picker bound to the query string (GET), so every range is a shareable URL."""
    return RangeForm(request.GET if "range" in request.GET else None, initial={"range": "last_30_days"})


class DataboardForm(forms.ModelForm):
    class Meta:
        model = Databoard
        fields = ["name"]
        labels = {"name": "Databoard name"}


WHOLE_METRIC = "The whole metric"


def dimension_select(help_text=""):
    """The Dimension field: a select whose options :meth:`DimensionChoice.offer` fills."""
    return forms.CharField(
        label="Dimension", required=False, widget=forms.Select(choices=[("", WHOLE_METRIC)]), help_text=help_text
    )


class DimensionChoice:
    """A form's Dimension select, filled with the metric's known dimensions (the distinct dimensions
    of its datapoints, labelled: one query) and checked against them, so an unknown dimension is
    refused with the metric's name instead of saving a goal, alert or tile that can never have a value."""

    def offer(self, metric):
        """Fill the select with ``metric``'s dimensions (none without a metric)."""
        self.dimension_metric = metric
        self.known_dimensions = dict(breakdowns.dimensions(metric)) if metric is not None else {}
        kept = getattr(self.instance, "dimension", "")
        if kept and metric is not None and kept not in self.known_dimensions:
            # Saved while its datapoints existed: editing the rest keeps it.
            self.known_dimensions[kept] = kept
        self.fields["dimension"].widget.choices = [("", WHOLE_METRIC), *self.known_dimensions.items()]

    def check_dimension(self, cleaned):
        key = cleaned.get("dimension") or ""
        metric = self.dimension_metric
        if key and metric is not None and key not in self.known_dimensions:
            self.add_error(
                "dimension",
                f"“{key}” is not a dimension of {metric.name}: none of its datapoints carries it. "
                f"Choose one from the list, or {WHOLE_METRIC.lower()}.",
            )
        cleaned["dimension"] = key
        return key


class TileForm(DimensionChoice, forms.ModelForm):
    metric = forms.ModelChoiceField(queryset=Metric.objects.order_by("name"), empty_label="Choose a metric")
    dimension = dimension_select("A chart or number of one dimension alone; a tile by dimension shows them all.")

    class Meta:
        model = Tile
        fields = ["metric", "kind", "dimension", "date_range"]
        labels = {"kind": "Show as", "date_range": "Date range"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.offer(self._chosen_metric())

    def _chosen_metric(self):
        """The metric the data (or the initial values) name, for the Dimension select; None if none."""
        chosen = self.data.get("metric") if self.is_bound else self.initial.get("metric")
        if isinstance(chosen, Metric):
            return chosen
        try:
            return self.fields["metric"].clean(chosen) if chosen else None
        except forms.ValidationError:
            return None

    def clean(self):
        cleaned = super().clean()
        dimension = self.check_dimension(cleaned)
        metric, kind = cleaned.get("metric"), cleaned.get("kind")
        if metric is None or kind not in Tile.BY_DIMENSION:
            return cleaned
        if dimension:
            self.add_error(
                "dimension",
                "A tile by dimension shows every dimension: leave Dimension at “The whole metric”, "
                "or show one dimension as a Number, Line chart or Bar chart.",
            )
        elif not self.known_dimensions:
            self.add_error(
                "kind",
                f"{metric.name} has no dimensions in its data: show it as a Number, Line chart or Bar chart, "
                "or break it down by a field on the JSONata step first.",
            )
        elif kind == Tile.Kind.DIMENSION_DONUT and not breakdowns.has_shares(metric.aggregation):
            self.add_error(
                "kind",
                f"A donut shows the parts of a whole, and the {metric.get_aggregation_display().lower()} of "
                f"{metric.name} is not the sum of its dimensions': show it as a Bar chart or a Table by dimension.",
            )
        return cleaned


class GoalForm(DimensionChoice, forms.ModelForm):
    dimension = dimension_select("A target for one dimension alone, such as one lead source.")

    class Meta:
        model = Goal
        fields = ["target", "dimension", "period", "start_date", "end_date"]
        labels = {"start_date": "From (custom)", "end_date": "To (custom)"}
        widgets = {
            "start_date": forms.DateInput(attrs={"type": "date"}),
            "end_date": forms.DateInput(attrs={"type": "date"}),
        }

    def __init__(self, *args, metric, **kwargs):
        super().__init__(*args, **kwargs)
        self.offer(metric)

    def clean(self):
        cleaned = super().clean()
        self.check_dimension(cleaned)
        if cleaned.get("period") == Goal.Period.CUSTOM:
            start, end = cleaned.get("start_date"), cleaned.get("end_date")
            if not start or not end:
                raise forms.ValidationError("A custom period needs a From date and a To date.")
            if end < start:
                raise forms.ValidationError("The To date is before the From date.")
        else:
            cleaned["start_date"] = cleaned["end_date"] = None
        return cleaned


class AlertForm(DimensionChoice, forms.ModelForm):
    dimension = dimension_select("Watch one dimension alone, such as the leads from one source.")

    class Meta:
        model = Alert
        fields = ["dimension", "condition", "threshold", "date_range"]
        labels = {"condition": "When the value", "threshold": "Threshold", "date_range": "Over"}
        help_texts = {
            "threshold": "A value in the metric's unit; for “Changes by more than”, a percentage "
            "against the previous period (either direction).",
            "date_range": "In your time zone. Evaluated after each sync.",
        }
        widgets = {"threshold": forms.NumberInput(attrs={"step": "any"})}

    def __init__(self, *args, metric, **kwargs):
        super().__init__(*args, **kwargs)
        self.offer(metric)

    def clean(self):
        cleaned = super().clean()
        self.check_dimension(cleaned)
        threshold = cleaned.get("threshold")
        if cleaned.get("condition") == Alert.Condition.CHANGE and threshold is not None and threshold <= 0:
            self.add_error("threshold", "A change alert needs a percentage above 0, such as 20 for 20%.")
        return cleaned


def _members():
    users = get_user_model().objects.filter(is_active=True)
    return users.filter(Q(is_superuser=True) | Q(groups__name__in=[ADMIN, ANALYST])).distinct().order_by("username")


class RecipientField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, user):
        return f"{user.get_username()} <{user.email}>" if user.email else f"{user.get_username()} (no email address)"


class ScorecardForm(forms.ModelForm):
    hour = forms.TypedChoiceField(
        label="Send at",
        coerce=int,
        choices=[(h, f"{h:02d}:00") for h in range(24)],
        initial=8,
        help_text="In the owner's time zone, which also decides where a day, week or month starts.",
    )
    metrics = forms.ModelMultipleChoiceField(
        queryset=Metric.objects.order_by("name"),
        widget=forms.CheckboxSelectMultiple,
        help_text=f"Up to {Scorecard.MAX_METRICS}.",
    )
    recipients = RecipientField(queryset=_members(), widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = Scorecard
        fields = ["name", "frequency", "hour", "metrics", "recipients"]
        help_texts = {"frequency": "A daily card reports on yesterday, weekly on last week, monthly on last month."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["recipients"].queryset = _members()

    def clean_metrics(self):
        chosen = self.cleaned_data["metrics"]
        if len(chosen) > Scorecard.MAX_METRICS:
            raise forms.ValidationError(
                f"A scorecard holds at most {Scorecard.MAX_METRICS} metrics; you chose {len(chosen)}. "
                "Untick a few, or make a second scorecard."
            )
        return chosen
