"""Time is stored as naive UTC everywhere; this module is the one place that converts."""
from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    """The current time as naive UTC, the form every DateTime column holds."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def iso_z(value: datetime | None) -> str | None:
    """`YYYY-MM-DDTHH:MM:SSZ`, the output form of both APIs."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    """Parse ISO-8601 with an offset or `Z` into naive UTC; a naive time is read as UTC.

    Raises ValueError for anything else.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("not a date")
    candidate = text.strip()
    if candidate[-1:] in ("z", "Z"):
        candidate = candidate[:-1] + "+00:00"
    parsed = datetime.fromisoformat(candidate)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed
