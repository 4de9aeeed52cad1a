from django import template

register = template.Library()


@register.filter
def metric_value(value, number_format="number"):
    """A metric value as people read it: 1,234.5 · $1,234.50 · 12.5% · — when empty."""
    if value is None or value == "":
        return "—"
    number = float(value)
    if number_format == "currency":
        return f"{number:,.2f}"
    if number_format == "percent":
        return f"{number:,.1f}%"
    if number.is_integer():
        return f"{int(number):,}"
    return f"{number:,.2f}"


@register.filter
def signed(value, number_format="number"):
    """An absolute change with its sign: +1,200 · -3.5%."""
    if value is None:
        return "—"
    text = metric_value(abs(value), number_format)
    return ("+" if value > 0 else "-" if value < 0 else "±") + text
