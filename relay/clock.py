"""Time is an argument: logic takes `now` from a Clock, so tests never sleep to move it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

# the times the relay takes from outside (runs, silences): wide (platforms' mock servers
# invent dates back to 1890), yet far from datetime's limits (years 1 and 9999), where
# converting to UTC or adding a period to a date overflows
EARLIEST, LATEST = datetime(1800, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)


def parse_time(text: str) -> datetime:
    """ISO 8601 -> aware UTC (a value without an offset is UTC, never local time).
    Raises ValueError saying what is wrong, to follow "is"."""
    try:
        parsed = datetime.fromisoformat(text)  # accepts the "Z" suffix since Python 3.11
    except ValueError:
        raise ValueError("not an ISO 8601 datetime") from None
    aware = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
    # compared before converting: near year 1 or 9999 the conversion itself overflows
    if not EARLIEST <= aware < LATEST:
        raise ValueError("outside the years 1800..2199")
    return aware.astimezone(UTC)


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)
