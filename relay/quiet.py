"""Quiet hours: a daily span of wall-clock time in a time zone during which a rule's matches
are held, and released as one grouped message when the span ends. Pure: `now` is passed in.

The span may cross midnight (22:00-07:00). Its end is a wall time, so across a DST change it
is still "07:00 local": a night is an hour shorter or longer, never shifted. An end that falls
in the hour a spring-forward skips is the first moment after it (e.g. 02:30 -> 03:00 CEST).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def parse_clock_time(text: str) -> time:
    """'22:00' -> time(22, 0). Raises ValueError saying what is expected."""
    hours, sep, minutes = str(text).partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise ValueError(f"expected a time like 22:00, got {text!r}")
    if not (0 <= int(hours) <= 23 and 0 <= int(minutes) <= 59):
        raise ValueError(f"expected a time between 00:00 and 23:59, got {text!r}")
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class QuietHours:
    start: time  # local wall time the quiet period begins (inclusive)
    end: time  # local wall time it ends (exclusive); before `start`: it crosses midnight
    tz: str = "UTC"

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise ValueError("from and to must differ (a quiet period of no length, or of all day?)")
        ZoneInfo(self.tz)  # raises for an unknown zone

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def quiet(self, now: datetime) -> bool:
        t = now.astimezone(self.zone).time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def release(self, now: datetime) -> datetime | None:
        """When the quiet period `now` falls in ends (aware UTC), or None when `now` is not
        quiet: what matches now is held until then."""
        if not self.quiet(now):
            return None
        day = now.astimezone(self.zone).date()
        for offset in range(3):  # today's end, or tomorrow's (a DST day can't push it further)
            end = self._at(day + timedelta(days=offset))
            if end > now:
                return end
        raise AssertionError("unreachable: a quiet period ends within two days")

    def _at(self, day: date) -> datetime:
        """`end` on `day` as an instant: a wall time a spring-forward skips becomes the moment
        the clocks jump (the first instant whose wall time is at or after it)."""
        wall = datetime.combine(day, self.end, tzinfo=self.zone)
        instant = wall.astimezone(UTC)
        if instant.astimezone(self.zone).replace(tzinfo=None) != wall.replace(tzinfo=None):
            # in the gap: fold=0 read it with the offset before the jump, which lands after
            # the jump by as much as the wall time was into the gap: walk back to the jump
            step = timedelta(minutes=1)
            while (instant - step).astimezone(self.zone).replace(tzinfo=None) >= wall.replace(tzinfo=None):
                instant -= step
        return instant

    def describe(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M} {self.tz}"
