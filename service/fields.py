"""Field types shared by the API schemas of several domains."""

from datetime import date, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field, PlainSerializer, StrictInt

from service.times import rfc3339_seconds, to_utc, utcnow

# A row id (or a record index) as the database stores it: a 32-bit integer column on PostgreSQL, so that a larger
# number is refused by name instead of failing in the driver.
MAX_ID = 2**31 - 1

# Money is an integer in minor units (DESIGN §3.7): StrictInt refuses 12.5 and also 12.0.
MinorUnits = Annotated[StrictInt, Field(ge=0, le=10**15)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. GBP")]
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
ShortText = Annotated[str, Field(min_length=1, max_length=500)]
LongText = Annotated[str, Field(max_length=20_000)]
# A day in a contract or a record: bounded, so that adding notice or payment days to it, or finding the half-year
# before it, always gives a day Python can hold.
Day = Annotated[date, Field(ge=date(1900, 1, 1), le=date(2199, 12, 31))]


# The years a recorded time may fall in, as for days: RFC 3339 needs four-digit years, and 0001-01-01T00:00+14:00
# has no UTC time Python can hold.
FIRST_YEAR, LAST_YEAR = 1900, 2199


def utc_in_range(value: datetime) -> datetime:
    if not FIRST_YEAR < value.year < LAST_YEAR:  # the year before any offset is applied; +-14h cannot overflow
        raise ValueError(f"must fall between the years {FIRST_YEAR} and {LAST_YEAR}")
    return to_utc(value)


def _not_far_future(value: datetime) -> datetime:
    value = utc_in_range(value)
    if value > utcnow() + timedelta(days=1):
        raise ValueError("is more than one day in the future")
    return value


# A time the user states: must carry its zone, is stored as naive UTC, and cannot be in the future.
PastTime = Annotated[AwareDatetime, AfterValidator(_not_far_future), PlainSerializer(rfc3339_seconds, when_used="json")]
# A time that may lie ahead (a scheduled meeting, a deadline), or a bound of a search.
AnyTime = Annotated[AwareDatetime, AfterValidator(utc_in_range),
                    PlainSerializer(rfc3339_seconds, when_used="json")]
