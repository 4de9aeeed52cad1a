"""The wizard's forms: one per step, each reading and writing the draft's definition dict.

Rows (query parameters, headers) are not Django fields: builder.keyvalue reads them from the
posted data, and RequestForm checks them together with the other fields, so one form carries
every error of the step.
"""

from __future__ import annotations

from django import forms

from builder import currencies, dates, keyvalue, pagination, placeholders, timeframes
from builder.models import Aggregation, DateMode, Metric, NumberFormat, Trend
from builder.validators import validate_name
from connections import safejson
from connections.client import resolve_endpoint
from connections.errors import BadEndpoint
from connections.models import Connection

CUSTOM_FORMAT = "custom"


def _placeholder_errors(value) -> list[str]:
    return placeholders.validate(value)


class RequestForm(forms.Form):
    """Step 1, Prepare API Request. ``connection`` decides the methods, rows and suggestions."""

    connection = forms.ChoiceField(label="Connection")
    endpoint = forms.CharField(
        label="Endpoint",
        max_length=500,
        help_text="A path relative to the connection's base URL, such as query or v1/deals.",
        widget=forms.TextInput(attrs={"list": "endpoint-suggestions", "autocomplete": "off", "spellcheck": "false"}),
    )
    # Checked in clean_method, so that a refused method gets a sentence rather than "not a valid choice".
    method = forms.CharField(label="Method", required=False, widget=forms.Select(choices=[("GET", "GET")]))
    body = forms.CharField(
        label="JSON body",
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}),
        help_text="Sent with POST only. Placeholders such as {{start:iso}} may appear in strings.",
    )
    pagination = forms.ChoiceField(label="Pagination", choices=list(pagination.TYPE_LABELS.items()))
    pagination_options = forms.CharField(
        label="Pagination options (JSON)",
        required=False,
        help_text='For example {"records": "data", "limit": 50}. Leave empty for the defaults.',
    )
    preview_range = forms.ChoiceField(label="Preview range", choices=list(timeframes.PREVIEW_PRESETS.items()))

    def __init__(self, *args, connection: Connection | None = None, rows=None, header_rows=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.conn = connection
        self.rows = rows or []
        self.header_rows = header_rows or []
        self.row_errors: list[keyvalue.RowError] = []
        self.header_errors: list[keyvalue.RowError] = []
        self.fields["connection"].choices = [(str(c.uuid), c.name) for c in Connection.objects.order_by("name")]
        if connection is not None:
            methods = connection.integration_module.allowed_methods(connection)
            self.fields["method"].widget.choices = [(m, m) for m in methods]

    @property
    def allows_body(self) -> bool:
        return self.conn is not None and "POST" in self.conn.integration_module.allowed_methods(self.conn)

    @property
    def takes_headers(self) -> bool:
        return self.conn is not None and self.conn.integration == Connection.Integration.CUSTOM

    def clean_method(self):
        method = (self.cleaned_data.get("method") or "GET").strip().upper()
        allowed = [value for value, _ in self.fields["method"].widget.choices]
        if method not in allowed:
            if self.conn is not None and self.conn.is_vtiger:
                raise forms.ValidationError(
                    f"{method} is not allowed: Vtiger connections allow GET only, so calls which change data "
                    "are not allowed."
                )
            raise forms.ValidationError(f"{method} is not allowed on this connection (allowed: {', '.join(allowed)}).")
        return method

    def clean_endpoint(self):
        endpoint = self.cleaned_data["endpoint"].strip()
        errors = _placeholder_errors(endpoint)
        if errors:
            raise forms.ValidationError(errors)
        if self.conn is not None:
            try:
                resolve_endpoint(self.conn.base_url, endpoint)
            except BadEndpoint as exc:
                raise forms.ValidationError(exc.message) from None
        return endpoint

    def clean_body(self):
        text = self.cleaned_data["body"].strip()
        if not text:
            return None
        try:
            body = safejson.loads(text)
        except safejson.NestingTooDeep as exc:
            raise forms.ValidationError(f"The JSON body is {exc}: a request body needs only a few levels.") from None
        except ValueError as exc:
            raise forms.ValidationError(
                f"The JSON body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
            ) from None
        errors = _placeholder_errors(body)
        if errors:
            raise forms.ValidationError(errors)
        return body

    def clean_pagination_options(self):
        text = self.cleaned_data["pagination_options"].strip()
        if not text:
            return {}
        try:
            options = safejson.loads(text)
        except safejson.NestingTooDeep as exc:
            raise forms.ValidationError(f"The pagination options are {exc}.") from None
        except ValueError as exc:
            raise forms.ValidationError(f"The pagination options are not valid JSON: {exc.msg}.") from None
        if not isinstance(options, dict):
            raise forms.ValidationError('The pagination options must be a JSON object, like {"limit": 50}.')
        return options

    def clean(self):
        cleaned = super().clean()
        method = cleaned.get("method")
        if method != "POST" and cleaned.get("body") is not None:
            self.add_error("body", "Only POST requests carry a JSON body: choose POST or clear the body.")
        if "pagination" in cleaned and "pagination_options" in cleaned:
            spec = {"type": cleaned["pagination"], **cleaned["pagination_options"]}
            for message in pagination.validate(spec):
                self.add_error("pagination_options", message)
        self.row_errors = keyvalue.validate(self.rows, "params")
        for index, row in enumerate(self.rows):
            for message in _placeholder_errors([row.key, row.value]):
                self.row_errors.append(keyvalue.RowError(index, "value", f"Row {index + 1}: {message}"))
        if self.takes_headers:
            self.header_errors = keyvalue.validate(self.header_rows, "headers")
            for index, row in enumerate(self.header_rows):
                for message in _placeholder_errors(row.value):
                    self.header_errors.append(keyvalue.RowError(index, "value", f"Row {index + 1}: {message}"))
        if self.row_errors or self.header_errors:
            raise forms.ValidationError("Check the rows marked below.")
        return cleaned


class DateForm(forms.Form):
    """Step 2: how each value gets its date."""

    mode = forms.ChoiceField(label="Date", choices=DateMode.choices, widget=forms.RadioSelect)
    field = forms.CharField(label="Date field", required=False, max_length=200)
    format = forms.ChoiceField(
        label="Format",
        required=False,
        choices=[(fmt, dates.FORMAT_LABELS[fmt]) for fmt in dates.FORMATS] + [(CUSTOM_FORMAT, "Custom pattern")],
    )
    custom_format = forms.CharField(
        label="Custom pattern", required=False, max_length=60, help_text="Made of YYYY MM DD HH mm ss, like DD/MM/YYYY."
    )
    timezone = forms.CharField(label="Time zone of dates without an offset", required=False, max_length=64)

    def clean_timezone(self):
        value = self.cleaned_data["timezone"].strip() or "UTC"
        try:
            timeframes.get_zone(value)
        except ValueError:
            raise forms.ValidationError(f"Unknown time zone {value!r}: use a name like UTC or Europe/Paris.") from None
        return value

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("mode") != DateMode.FIELD:
            return cleaned
        if not cleaned.get("field"):
            self.add_error("field", "Choose the field that holds each item's date.")
        fmt = cleaned.get("format") or ""
        if fmt == CUSTOM_FORMAT:
            pattern = cleaned.get("custom_format", "").strip()
            try:
                placeholders.parse_pattern(pattern)
            except placeholders.PatternError as exc:
                self.add_error("custom_format", f"This pattern cannot be used: {exc}.")
            cleaned["resolved_format"] = pattern
        elif not fmt:
            self.add_error("format", "Choose the format of the dates.")
        else:
            cleaned["resolved_format"] = fmt
        return cleaned


class ExpressionForm(forms.Form):
    expression = forms.CharField(
        label="JSONata expression",
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "class": "code", "autocomplete": "off"}),
        max_length=10_000,
    )
    breakdown = forms.ChoiceField(
        label="Break down by",
        required=False,
        widget=forms.Select(attrs={"data-breakdown": ""}),
        help_text="One value per value of this field (a lead source, a sales stage, an owner): the generated "
        'expression sets "dimension" to it. References such as an owner are shown by name.',
        error_messages={"invalid_choice": "%(value)s is not a text field of the response: choose one listed, or None."},
    )

    def __init__(self, *args, breakdown_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["breakdown"].choices = [("", "None"), *breakdown_choices]


def currency_field() -> forms.ChoiceField:
    """A metric's currency, as every form that sets a number format asks for it."""
    return forms.ChoiceField(
        label="Currency",
        choices=currencies.CHOICES,
        required=False,
        help_text="Shown with the value when the number format is Currency.",
        # static/js/number-format.js hides it while another format is chosen.
        widget=forms.Select(attrs={"data-shown-for-format": NumberFormat.CURRENCY}),
    )


class NameForm(forms.Form):
    name = forms.CharField(label="Name your metric", max_length=120, validators=[validate_name])
    description = forms.CharField(label="Description", required=False, widget=forms.Textarea(attrs={"rows": 3}))
    aggregation = forms.ChoiceField(label="Data Aggregation", choices=Aggregation.choices)
    number_format = forms.ChoiceField(label="Number format", choices=NumberFormat.choices)
    # Not required: a client that sends no currency keeps the draft's (or the default).
    currency = currency_field()
    favourable_trend = forms.ChoiceField(label="Favourable trend", choices=Trend.choices, widget=forms.RadioSelect)

    def __init__(self, *args, metric: Metric | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.metric = metric

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        taken = Metric.objects.filter(name__iexact=name)
        if self.metric is not None:
            taken = taken.exclude(pk=self.metric.pk)
        if taken.exists():
            raise forms.ValidationError(f"A metric called {name!r} already exists: choose another name.")
        return name
