"""At most N messages per period to a channel; what is over the limit waits for the next
free slot and goes out then, grouped into one message (never dropped).

The count is per process: with several replicas each keeps its own (a limit of N becomes at
most N per replica).
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Mapping
from datetime import datetime, timedelta


class RateGate:
    def __init__(self, limits: Mapping[str, tuple[int, float]]) -> None:
        self._limits = dict(limits)
        self._sent: dict[str, deque[datetime]] = defaultdict(deque)

    def limit(self, limits: Mapping[str, tuple[int, float]]) -> None:
        """New limits (a reload); what was sent within a period still counts."""
        self._limits = dict(limits)

    def admit(self, channel: str, now: datetime) -> datetime | None:
        """None: send now (counted). Otherwise the moment the channel has a free slot."""
        limit = self._limits.get(channel)
        if limit is None:
            return None
        count, period = limit
        sent = self._sent[channel]
        while sent and sent[0] <= now - timedelta(seconds=period):
            sent.popleft()
        if len(sent) < count:
            sent.append(now)
            return None
        return sent[0] + timedelta(seconds=period)
