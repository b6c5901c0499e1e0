"""What the sources remember while a relay runs, owned by the `Relay` that made it and
passed in (never a module global, so two relays in one process share nothing): the health
board and the rate budgets per API key, the latter shared with other processes through the
store. (A push's replay memory lives in the store: `Store.first_sight`.)"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from relay.sources.health import HealthBoard
from relay.store import Store

BUDGET_RESERVE = 0.05  # of x-ratelimit-limit (at least BUDGET_RESERVE_MIN) kept for others
BUDGET_RESERVE_MIN = 10
MAX_RETRY_AFTER = 600.0  # a reset announced further away than this is not believed


def header_int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value is not None else None
    except (ValueError, OverflowError):
        return None


@dataclass
class RateBudget:
    """The last `x-ratelimit-*` headers seen for one API key. With a store, read before each
    request and saved after each answer, so every replica spends from the one bucket the
    platform keeps per key (the key is a digest, never the API key)."""

    limit: int | None = None
    remaining: int | None = None
    reset_at: float | None = None  # Unix seconds
    store: Store | None = None
    key: str = ""

    async def load(self) -> None:
        if self.store is not None:
            limit, remaining, reset_at = await self.store.budget(self.key)
            if remaining is not None:
                self._merge(limit, remaining, reset_at)

    async def save(self) -> None:
        if self.store is not None and self.remaining is not None:
            await self.store.save_budget(self.key, self.limit, self.remaining, self.reset_at)

    def update(self, headers: Mapping[str, str]) -> None:
        limit, remaining = (
            header_int(headers.get("x-ratelimit-limit")),
            header_int(headers.get("x-ratelimit-remaining")),
        )
        reset = header_int(headers.get("x-ratelimit-reset"))
        if remaining is not None:
            self._merge(limit, remaining, reset / 1000.0 if reset is not None else self.reset_at)

    def _merge(self, limit: int | None, remaining: int, reset_at: float | None) -> None:
        # within one window what is left only goes down: requests spent here and not yet
        # answered (they run side by side), or an older answer arriving late, must not raise it
        if reset_at == self.reset_at and self.remaining is not None:
            remaining = min(remaining, self.remaining)
        self.limit, self.remaining, self.reset_at = limit or self.limit, remaining, reset_at

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
    store: Store | None = None  # where budgets are shared with other processes (none: kept here)
    _budgets: dict[str, RateBudget] = field(default_factory=dict)

    def budget(self, base_url: str, api_key: str) -> RateBudget:
        """One budget per API key: a platform's bucket is per key (environment)."""
        digest = hashlib.sha256(f"{base_url}\0{api_key}".encode()).hexdigest()
        return self._budgets.setdefault(digest, RateBudget(store=self.store, key=f"budget:{digest}"))
