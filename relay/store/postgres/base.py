"""What every part of the PostgreSQL store stands on: the pool, the schema's wake-up channel,
and a transaction helper."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from relay.store.postgres.engine import Listener, due_channel
from relay.store.postgres.queries import SQL
from relay.store.postgres.url import Target

Record = asyncpg.Record
Conn: TypeAlias = "PoolConnectionProxy[Record]"  # strings: subscriptable only in the stubs
Pool: TypeAlias = "asyncpg.Pool[Record]"


class PgBase:
    def __init__(self, pool: Pool, target: Target) -> None:
        self._pool, self._target = pool, target
        self._channel = due_channel(target.schema)
        self._listener: Listener | None = None
        # a source's watching_since never changes once committed: read once per process
        self._since: dict[str, datetime] = {}

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[Conn]:
        """A connection of the pool in a transaction (READ COMMITTED): committed on leaving,
        rolled back on an exception."""
        async with self._pool.acquire() as c, c.transaction():
            yield c

    async def _fetch(self, name: str, *args: Any) -> list[Record]:
        return await self._pool.fetch(SQL[name], *args)

    async def _notify(self, c: Conn) -> None:
        """Wakes every replica's worker when this transaction commits."""
        await c.execute(SQL["notify_due"], self._channel)
