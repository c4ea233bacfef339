"""Money is integer minor units with an ISO 4217 code (DESIGN §3); this is how every page, bundle and sentence
writes it. Decimal, not float, so that large amounts print to the penny."""

from decimal import Decimal, InvalidOperation

SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}


def fmt_money(amount_minor: int | None, currency: str | None) -> str:
    if amount_minor is None:
        return ""
    value = f"{Decimal(amount_minor) / 100:,.2f}"
    symbol = SYMBOLS.get(currency or "")
    return f"{symbol}{value}" if symbol else f"{value} {currency}"


def parse_hundredths(text: str) -> int:
    """What people type for an amount or a rate ("1,250.00", "450", "5.25") in hundredths: minor units or basis
    points. ValueError for anything else: words, more than two decimals, infinities, numbers too big to store."""
    try:
        value = Decimal(text.strip().replace(",", ""))
        # The size first: quantizing a huge exponent raises rather than answering.
        if value.is_finite() and abs(value) < 10**15 and value == value.quantize(Decimal("0.01")):
            return int(value * 100)
    except InvalidOperation:
        pass
    raise ValueError(f"{text!r} is not a number with at most two decimals")
