"""The currencies a metric can be shown in: ISO 4217 code -> (symbol, decimals), and how an amount reads.

One small table instead of Babel: we render in English conventions only (comma thousands, point
decimals, the symbol before the number), and a table of the common codes is all that needs.
The symbols are CLDR's English ones; where English has no symbol of its own, the code is the
symbol and a space separates it from the number ("CHF 1,234.50").
"""

from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from django.conf import settings


class Currency(NamedTuple):
    symbol: str
    decimals: int


CURRENCIES = {
    "USD": Currency("$", 2),
    "EUR": Currency("€", 2),
    "GBP": Currency("£", 2),
    "JPY": Currency("¥", 0),
    "INR": Currency("₹", 2),
    "CHF": Currency("CHF", 2),
    "CAD": Currency("CA$", 2),
    "AUD": Currency("A$", 2),
    "NZD": Currency("NZ$", 2),
    "CNY": Currency("CN¥", 2),
    "HKD": Currency("HK$", 2),
    "SGD": Currency("SGD", 2),
    "KRW": Currency("₩", 0),
    "SEK": Currency("SEK", 2),
    "NOK": Currency("NOK", 2),
    "DKK": Currency("DKK", 2),
    "PLN": Currency("PLN", 2),
    "CZK": Currency("CZK", 2),
    "BRL": Currency("R$", 2),
    "MXN": Currency("MX$", 2),
    "ZAR": Currency("ZAR", 2),
    "AED": Currency("AED", 2),
    "ILS": Currency("₪", 2),
    "TRY": Currency("TRY", 2),
}

# "EUR (€)", or just "CHF" where the code is the symbol.
CHOICES = [(code, code if symbol == code else f"{code} ({symbol})") for code, (symbol, _) in CURRENCIES.items()]


def default_code() -> str:
    """The currency of a metric that names none (settings.DEFAULT_CURRENCY, "USD" unless configured)."""
    return settings.DEFAULT_CURRENCY


def amount_text(number, code: str) -> str:
    """``number`` in ``code``, as English writes it: "€1,234.50", "-¥1,235", "CHF 1,234.50".

    Rounded half up to the currency's decimals (JPY has none), as people round money.
    """
    currency = CURRENCIES[code]
    exact = Decimal(str(number))
    rounded = abs(exact).quantize(Decimal(1).scaleb(-currency.decimals), rounding=ROUND_HALF_UP)
    separator = " " if currency.symbol == code else ""
    sign = "-" if exact < 0 and rounded else ""
    return f"{sign}{currency.symbol}{separator}{rounded:,.{currency.decimals}f}"
