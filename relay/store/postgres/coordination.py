"""Several replicas, one truth (issue 11): the Store methods by which processes share claims,
leader leases, rate limits, replay memory, API budgets and wake-ups through PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from relay.store.codec import epoch, from_epoch
from relay.store.postgres.base import PgBase
from relay.store.postgres.engine import Listener
from relay.store.postgres.queries import SQL


class Coordination(PgBase):
    async def expire_claims(self, owner: str, now: datetime) -> int:
        status = await self._pool.execute(SQL["expire_claims"], owner, epoch(now))
        return int(status.split()[-1])

    async def hold(self, name: str, owner: str, now: datetime, ttl: float) -> int | None:
        t = epoch(now)
        token = await self._pool.fetchval(SQL["hold"], name, owner, t, t + ttl)
        return int(token) if token is not None else None

    async def let_go(self, name: str, owner: str) -> None:
        await self._pool.execute(SQL["let_go"], name, owner)

    async def leases(self, now: datetime) -> dict[str, tuple[str, datetime]]:
        rows = await self._fetch("leases", epoch(now))
        return {r[0]: (r[1], from_epoch(r[2])) for r in rows}

    async def admit(self, channel: str, now: datetime, count: int, period: float) -> datetime | None:
        """Under the channel's advisory lock, so that N replicas asking at once count one
        after the other."""
        t = epoch(now)
        async with self._tx() as c:
            await c.execute(SQL["lock_channel"], channel)
            await c.execute(SQL["forget_sends"], channel, t - period)
            sends = [r[0] for r in await c.fetch(SQL["sends"], channel)]
            if len(sends) < count:
                await c.execute(SQL["count_send"], channel, t)
                return None
        return from_epoch(sends[len(sends) - count] + period)  # when the oldest that counts leaves

    async def first_sight(self, source: str, key: str, now: datetime) -> bool:
        return await self._pool.fetchval(SQL["first_sight"], source, key, epoch(now)) is not None

    async def budget(self, key: str) -> tuple[int | None, int | None, float | None]:
        row = await self._pool.fetchrow(SQL["budget"], key)
        return (row[0], row[1], row[2]) if row else (None, None, None)

    async def save_budget(
        self, key: str, limit: int | None, remaining: int | None, reset_at: float | None
    ) -> None:
        await self._pool.execute(SQL["save_budget"], key, limit, remaining, reset_at)

    async def on_due(self, wake: Callable[[], None]) -> None:
        """LISTEN on a connection of its own (not the pool's), shared by every `wake`."""
        if self._listener is None:
            self._listener = Listener(self._target.dsn, self._channel)
        await self._listener.add(wake)
