"""What several processes on one SQLite file share through it (issue 11): claims that name
their owner, leader leases with a fencing token, channel rate limits, a push's replay memory
and the platform API rate budgets. Each write goes through the engine's group commit, so it
is one transaction under SQLite's single write lock: atomic across processes by construction.

SQLite has no LISTEN/NOTIFY: `on_due` wakes for writes of this process only; another process
on the same file finds them when its worker's timer looks at the store."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta

from relay.store.codec import epoch, from_epoch
from relay.store.sqlite.engine import Engine
from relay.store.sqlite.queries import SQL


class Coordination(Engine):
    _wakers: list[Callable[[], None]]

    async def expire_claims(self, owner: str, now: datetime) -> int:
        def write(c: sqlite3.Connection) -> int:
            return c.execute(SQL["expire_claims"], (epoch(now), owner)).rowcount

        return await self._write(write)

    async def hold(self, name: str, owner: str, now: datetime, ttl: float) -> int | None:
        def write(c: sqlite3.Connection) -> int | None:
            row = c.execute(SQL["hold"], (name, owner, epoch(now) + ttl, epoch(now))).fetchone()
            return int(row[0]) if row else None

        # a lease is not worth an fsync: lost with a power loss, it runs out as if never renewed
        return await self._write(write, durable=False)

    async def let_go(self, name: str, owner: str) -> None:
        await self._write(lambda c: c.execute(SQL["let_go"], (name, owner)), durable=False)

    async def leases(self, now: datetime) -> dict[str, tuple[str, datetime]]:
        rows = await self._select(SQL["leases"], (epoch(now),))
        return {name: (owner, from_epoch(until)) for name, owner, until in rows}

    async def admit(self, channel: str, now: datetime, count: int, period: float) -> datetime | None:
        t, since = epoch(now), epoch(now) - period

        def write(c: sqlite3.Connection) -> datetime | None:
            c.execute(SQL["rate_forget"], (channel, since))
            sent = [r[0] for r in c.execute(SQL["rate_sends_in_window"], (channel, since))]
            if len(sent) >= count:
                return from_epoch(sent[0]) + timedelta(seconds=period)
            c.execute(SQL["rate_send"], (channel, t))
            return None

        return await self._write(write, durable=False)

    async def first_sight(self, source: str, key: str, now: datetime) -> bool:
        def write(c: sqlite3.Connection) -> bool:
            return c.execute(SQL["first_sight"], (source, key, epoch(now))).rowcount == 1

        return await self._write(write)

    async def budget(self, key: str) -> tuple[int | None, int | None, float | None]:
        rows = await self._select(SQL["budget"], (key,))
        return (rows[0][0], rows[0][1], rows[0][2]) if rows else (None, None, None)

    async def save_budget(
        self, key: str, limit: int | None, remaining: int | None, reset_at: float | None
    ) -> None:
        row = (key, limit, remaining, reset_at)
        await self._write(lambda c: c.execute(SQL["save_budget"], row), durable=False)

    async def on_due(self, wake: Callable[[], None]) -> None:
        self._wakers.append(wake)

    def _woke(self) -> None:
        """A write of this process made a delivery due."""
        for wake in self._wakers:
            wake()
