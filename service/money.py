"""Money is integer minor units with an ISO 4217 code (DESIGN §3); this is how every page, bundle and sentence
writes it. Decimal, not float, so that large amounts print to the penny."""

from decimal import Decimal

SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}


def fmt_money(amount_minor: int | None, currency: str | None) -> str:
    if amount_minor is None:
        return ""
    value = f"{Decimal(amount_minor) / 100:,.2f}"
    symbol = SYMBOLS.get(currency or "")
    return f"{symbol}{value}" if symbol else f"{value} {currency}"
