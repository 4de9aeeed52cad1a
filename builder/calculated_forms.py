"""The form of a calculated metric: up to five named inputs, the formula, name and presentation.

The inputs are five fixed rows (``input_1_metric``/``input_1_name`` ... ``input_5_*``); an empty
row is skipped, a row with a metric and no name gets a name suggested from the metric's
(``builder.formulas.suggest_name``). Everything about the inputs and the formula is checked by
``Metric.calculated_problems``, the same check ``Metric.set_inputs`` makes when saving.
"""

from __future__ import annotations

from django import forms

from builder import currencies, formulas
from builder.forms import currency_field
from builder.models import Kind, Metric, NumberFormat, Trend
from builder.validators import validate_name

ROWS = range(1, formulas.MAX_INPUTS + 1)


class CalculatedMetricForm(forms.Form):
    name = forms.CharField(label="Name", max_length=120, validators=[validate_name])
    formula = forms.CharField(
        label="Formula",
        max_length=formulas.MAX_LENGTH,
        help_text="The inputs' names with + − × ÷ (or + - * /), numbers and parentheses, e.g. won / created * 100.",
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
    )
    number_format = forms.ChoiceField(label="Number format", choices=NumberFormat.choices)
    currency = currency_field()
    favourable_trend = forms.ChoiceField(label="Favourable trend", choices=Trend.choices, widget=forms.RadioSelect)
    description = forms.CharField(label="Description", required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, metric: Metric | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.metric = metric
        candidates = Metric.objects.order_by("name")
        if metric is not None:
            candidates = candidates.exclude(pk=metric.pk)
        self.candidates = {str(m.uuid): m for m in candidates}
        choices = [("", "— none —")] + [(key, m.name) for key, m in self.candidates.items()]
        for row in ROWS:
            self.fields[f"input_{row}_metric"] = forms.ChoiceField(
                label=f"Input {row}", choices=choices, required=False
            )
            self.fields[f"input_{row}_name"] = forms.CharField(
                label=f"Name of input {row} in the formula",
                max_length=formulas.NAME_MAX_LENGTH,
                required=False,
                widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off", "placeholder": "e.g. won"}),
            )
        self.pairs: list[tuple[str, Metric]] = []

    @classmethod
    def initial_for(cls, metric: Metric) -> dict:
        initial = {
            "name": metric.name,
            "formula": metric.formula,
            "number_format": metric.number_format,
            "currency": metric.currency,
            "favourable_trend": metric.favourable_trend,
            "description": metric.description,
        }
        for row, (name, source) in enumerate(metric.input_pairs(), start=1):
            initial[f"input_{row}_metric"] = str(source.uuid)
            initial[f"input_{row}_name"] = name
        return initial

    def rows(self):
        """(metric field, name field) per row, for the template."""
        return [(self[f"input_{row}_metric"], self[f"input_{row}_name"]) for row in ROWS]

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        taken = Metric.objects.filter(name__iexact=name)
        if self.metric is not None:
            taken = taken.exclude(pk=self.metric.pk)
        if taken.exists():
            raise forms.ValidationError(f"A metric called {name!r} already exists: choose another name.")
        return name

    def clean(self):
        cleaned = super().clean()
        pairs = []
        taken = [(cleaned.get(f"input_{row}_name") or "").strip() for row in ROWS]
        for row in ROWS:
            key = cleaned.get(f"input_{row}_metric")
            name = (cleaned.get(f"input_{row}_name") or "").strip()
            if not key:
                if name:
                    self.add_error(f"input_{row}_metric", f"Choose the metric that {name} stands for.")
                continue
            source = self.candidates[key]
            if not name:
                name = formulas.suggest_name(source.name, taken)
                taken.append(name)
            pairs.append((name, source))
        self.pairs = pairs
        probe = self.metric or Metric(kind=Kind.CALCULATED, name=cleaned.get("name") or "This metric")
        probe.formula = cleaned.get("formula") or ""
        for problem in probe.calculated_problems(pairs):
            field = "formula" if problem in formulas.check(probe.formula, [n for n, _ in pairs]) else None
            self.add_error(field, problem)
        return cleaned

    def apply(self, metric: Metric) -> Metric:
        """Copy the cleaned fields onto ``metric`` (not saved; the inputs are ``self.pairs``)."""
        data = self.cleaned_data
        metric.kind = Kind.CALCULATED
        metric.name = data["name"]
        metric.formula = data["formula"].strip()
        metric.number_format = data["number_format"]
        metric.currency = data.get("currency") or metric.currency or currencies.default_code()
        metric.favourable_trend = data["favourable_trend"]
        metric.description = data["description"]
        return metric
