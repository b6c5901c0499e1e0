"""What the sources remember while a relay runs, owned by the `Relay` that made it and
passed in (never a module global, so two relays in one process share nothing): the health
board, the webhook replay memory, and the rate budgets per API key. This is also the seam
through which a shared backend would hold them across processes."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

from relay.sources.health import HealthBoard

RECENT_IDS = 4096
BUDGET_RESERVE = 0.05  # of x-ratelimit-limit (at least BUDGET_RESERVE_MIN) kept for others
BUDGET_RESERVE_MIN = 10
MAX_RETRY_AFTER = 600.0  # a reset announced further away than this is not believed


class RecentIds:
    """A bounded LRU of recently seen keys. In memory: after a restart a replayed push is only
    stopped by the pipeline itself (a finished run's stored phase is absorbing, so it cannot
    notify twice while the run is stored)."""

    def __init__(self, size: int = RECENT_IDS) -> None:
        self._size = size
        self._keys: OrderedDict[tuple[str, ...], None] = OrderedDict()

    def seen(self, key: tuple[str, ...]) -> bool:
        """True if `key` was seen already; remembers it either way."""
        if key in self._keys:
            self._keys.move_to_end(key)
            return True
        self._keys[key] = None
        while len(self._keys) > self._size:
            self._keys.popitem(last=False)
        return False


def header_int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value is not None else None
    except (ValueError, OverflowError):
        return None


@dataclass
class RateBudget:
    """The last `x-ratelimit-*` headers seen for one API key."""

    limit: int | None = None
    remaining: int | None = None
    reset_at: float | None = None  # Unix seconds

    def update(self, headers: Mapping[str, str]) -> None:
        limit, remaining = (
            header_int(headers.get("x-ratelimit-limit")),
            header_int(headers.get("x-ratelimit-remaining")),
        )
        reset = header_int(headers.get("x-ratelimit-reset"))
        if remaining is not None:
            self.limit, self.remaining = limit or self.limit, remaining
            self.reset_at = reset / 1000.0 if reset is not None else self.reset_at

    def spend(self) -> None:
        if self.remaining is not None:
            self.remaining = max(0, self.remaining - 1)

    def pause(self, now: float) -> float:
        """Seconds to hold off before the next request: 0 unless the budget is at its reserve."""
        if self.remaining is None or self.reset_at is None or now >= self.reset_at:
            return 0.0
        reserve = max(BUDGET_RESERVE_MIN, int((self.limit or 0) * BUDGET_RESERVE))
        return min(self.reset_at - now, MAX_RETRY_AFTER) if self.remaining <= reserve else 0.0


@dataclass
class SourceState:
    health: HealthBoard = field(default_factory=HealthBoard)
    replays: RecentIds = field(default_factory=RecentIds)  # pushes already taken, per source
    _budgets: dict[str, RateBudget] = field(default_factory=dict)

    def budget(self, base_url: str, api_key: str) -> RateBudget:
        """One budget per API key in this relay: a platform's bucket is per key (environment)."""
        digest = hashlib.sha256(f"{base_url}\0{api_key}".encode()).hexdigest()
        return self._budgets.setdefault(digest, RateBudget())
