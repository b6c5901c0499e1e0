"""Digests: matches collected per rule and channel, sent as one message per schedule. Pure.

A digest rule names a cron expression and a time zone. Each match is filed under the window
it falls in, named by the window's end (the next scheduled time after the match). When a
window's end has passed, its items become one Message (relay/render/digest.py); the
delivery's idempotency key names rule, channel and window, so a window is sent once, also
after a restart, and a relay that was down at the scheduled minute catches up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from relay.models import Phase


@dataclass(frozen=True)
class DigestSpec:
    cron: str
    tz: str = "UTC"
    send_empty: bool = False

    def window_end(self, moment: datetime) -> datetime:
        """The first scheduled time strictly after `moment` (aware UTC)."""
        local = moment.astimezone(ZoneInfo(self.tz))
        nxt: datetime = croniter(self.cron, local).get_next(datetime)
        return nxt.astimezone(UTC)

    def window_start(self, end: datetime) -> datetime:
        local = end.astimezone(ZoneInfo(self.tz))
        prev: datetime = croniter(self.cron, local).get_prev(datetime)
        return prev.astimezone(UTC)

    def last_ends(self, now: datetime, count: int) -> list[datetime]:
        """The `count` most recent scheduled times at or before `now`, newest first."""
        ends = [self.window_start(now + timedelta(microseconds=1))]
        while len(ends) < count:
            ends.append(self.window_start(ends[-1]))
        return ends


def digest_key(rule: str, channel: str, end: datetime) -> str:
    """The idempotency key of a window's one delivery: a window is sent once, by any process."""
    return f"digest:{rule}:{channel}:{end.isoformat()}"


@dataclass(frozen=True)
class DigestItem:
    rule: str
    channel: str
    window_end: datetime
    source: str
    run_id: str
    task: str
    status: str
    phase: Phase
    finished_at: datetime | None
    duration_ms: int | None
    outcome: str  # the video link, an inline video note, the error, or ""
    link: str | None
    redacted: bool = False  # the run's data had secrets masked (relay/redaction.py)
    video_url: str | None = None  # absent from items stored before it existed
