from django import forms

from builder import timeframes

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
