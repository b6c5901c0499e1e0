"""At most N messages per period to a channel; what is over the limit waits for the next
free slot and goes out then, grouped into one message (never dropped).

The sends are counted in the store (`Store.admit`), so the limit holds across every replica
and process sharing it, not per process.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from relay.store import Store


class RateGate:
    def __init__(self, store: Store, limits: Mapping[str, tuple[int, float]]) -> None:
        self._store = store
        self._limits = dict(limits)

    def limit(self, limits: Mapping[str, tuple[int, float]]) -> None:
        """New limits (a reload); what was sent within a period still counts."""
        self._limits = dict(limits)

    async def admit(self, channel: str, now: datetime) -> datetime | None:
        """None: send now (counted). Otherwise the moment the channel has a free slot."""
        limit = self._limits.get(channel)
        if limit is None:
            return None
        count, period = limit
        return await self._store.admit(channel, now, count, period)
