from django import template

from builder.models import NumberFormat

register = template.Library()


@register.filter
def metric_value(value, number_format=NumberFormat.NUMBER):
    """A metric value as people read it: 1,234.5 · $1,234.50 · 12.5% · — when empty."""
    if value is None or value == "":
        return "—"
    number = float(value)
    if number_format == NumberFormat.CURRENCY:
        return f"{number:,.2f}"
    if number_format == NumberFormat.PERCENT:
        return f"{number:,.1f}%"
    if number.is_integer():
        return f"{int(number):,}"
    return f"{number:,.2f}"


@register.filter
def signed(value, number_format=NumberFormat.NUMBER):
    """An absolute change with its sign: +1,200 · -3.5%."""
    if value is None:
        return "—"
    text = metric_value(abs(value), number_format)
    return ("+" if value > 0 else "-" if value < 0 else "±") + text
