"""How a metric's values read. Tags, not filters: a value needs both the metric's number format
and its currency, and a filter takes one argument: ``{% metric_value v metric.number_format metric.currency %}``."""

from django import template

from builder import currencies
from builder.models import NumberFormat

register = template.Library()


@register.simple_tag
def metric_value(value, number_format=NumberFormat.NUMBER, currency=None):
    """A metric value as people read it: 1,234.5 · $1,234.50 · €1,234.50 · ¥1,235 · 12.5% · — when empty.

    ``currency`` (an ISO 4217 code) counts only for the currency format; None is the default currency.
    """
    if value is None or value == "":
        return "—"
    number = float(value)
    if number_format == NumberFormat.CURRENCY:
        return currencies.amount_text(value, currency or currencies.default_code())
    if number_format == NumberFormat.PERCENT:
        return f"{number:,.1f}%"
    if number.is_integer():
        return f"{int(number):,}"
    return f"{number:,.2f}"


@register.simple_tag
def signed(value, number_format=NumberFormat.NUMBER, currency=None):
    """An absolute change with its sign: +1,200 · -3.5% · +€12.50."""
    if value is None:
        return "—"
    text = metric_value(abs(value), number_format, currency)
    return ("+" if value > 0 else "-" if value < 0 else "±") + text
