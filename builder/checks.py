"""System checks for the builder's settings: a DEFAULT_CURRENCY we cannot show is refused at start-up,
not at the first currency value a screen formats."""

from django.conf import settings
from django.core.checks import Error

from builder import currencies

# How many known codes the hint names (all of them would drown the message).
HINTED_CODES = 6


def default_currency_is_known(app_configs, **kwargs):
    """builder.E001 when settings.DEFAULT_CURRENCY is not an ISO 4217 code in builder.currencies."""
    value = getattr(settings, "DEFAULT_CURRENCY", None)
    if isinstance(value, str) and value in currencies.CURRENCIES:
        return []
    examples = ", ".join(list(currencies.CURRENCIES)[:HINTED_CODES])
    hint = (
        f"Set the DEFAULT_CURRENCY environment variable to an ISO 4217 code Metric Builder knows, such as "
        f"{examples} (builder/currencies.py lists them all)."
    )
    if isinstance(value, str) and value.strip().upper() in currencies.CURRENCIES:
        hint += f" Here that is {value.strip().upper()!r}: codes are three capital letters."
    return [
        Error(
            f"DEFAULT_CURRENCY is {value!r}, which is not a currency code Metric Builder knows.",
            hint=hint,
            id="builder.E001",
        )
    ]
