"""Times are aware UTC in Python and in the database, and RFC 3339 with Z on the wire (DESIGN §3.7)."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_utc(value: datetime) -> datetime:
    """UTC from an aware datetime; callers validate that the zone was given."""
    return value.astimezone(UTC)


def rfc3339_seconds(value: datetime) -> str:
    return to_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_micro(value: datetime) -> str:
    return to_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
