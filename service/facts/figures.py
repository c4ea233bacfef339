"""How the facts round and word their figures: percentages, days, counts, lists and quotations."""

from datetime import date
from decimal import Decimal
from fractions import Fraction

DISCLAIMER = "Estimate, not legal advice: figures follow the rules shown, from the records; check them with a lawyer."


def fmt_percent(rate_bp: int) -> str:
    return f"{Decimal(rate_bp) / 100:.2f}%"


def fmt_day(day: date) -> str:
    return day.strftime("%d %b %Y").lstrip("0")


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n} {word if n == 1 else (words or word + 's')}"


def round_half_up(value: Fraction) -> int:
    """To the nearest whole minor unit, halves away from zero (money is never negative here)."""
    return int((value * 2 + 1) // 2) if value >= 0 else -int((-value * 2 + 1) // 2)


def quote(text: str | None, limit: int = 200) -> str:
    text = " ".join(str(text or "").split())
    return "“" + (text if len(text) <= limit else text[: limit - 1] + "…") + "”"


def join_and(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
