"""What a message says about the messages of its rule and channel that were held back or
folded before it: "+12 more since 09:00 UTC (rate limit)". Pure.

A count is {"reason": REASON, "count": N, "since": ISO 8601 UTC}: N messages of the rule and
channel that did not go out on their own since then. Times are shown in UTC, and say so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

# reason -> how a message names it
REASONS = {
    "group_window": "grouped",
    "quiet_hours": "quiet hours",
    "rate_limit": "rate limit",
    "once_per": "once per",
    "silence": "silenced",
}

Count = dict[str, Any]


def combine(counts: Iterable[Mapping[str, Any]]) -> list[Count]:
    """Counts of one reason summed, from the earliest `since`; in a stable order."""
    by_reason: dict[str, Count] = {}
    for c in counts:
        reason, n, since = str(c["reason"]), int(c["count"]), str(c["since"])
        if n <= 0:
            continue
        seen = by_reason.setdefault(reason, {"reason": reason, "count": 0, "since": since})
        seen["count"] += n
        seen["since"] = min(seen["since"], since, key=lambda s: datetime.fromisoformat(s))
    order = list(REASONS)
    return sorted(by_reason.values(), key=lambda c: order.index(c["reason"]) if c["reason"] in order else 99)


def note(counts: Iterable[Mapping[str, Any]], now: datetime | None = None) -> str:
    """One line per reason: "+3 more since 09:00 UTC (rate limit)"."""
    return "\n".join(
        f"+{c['count']} more since {_when(datetime.fromisoformat(c['since']), now)} "
        f"({REASONS.get(c['reason'], c['reason'])})"
        for c in combine(counts)
    )


def _when(since: datetime, now: datetime | None) -> str:
    since = since.astimezone(UTC)
    same_day = now is None or since.date() == now.astimezone(UTC).date()
    return f"{since:%H:%M} UTC" if same_day else f"{since:%d %b %H:%M} UTC"
