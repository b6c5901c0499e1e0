"""Running for years: pruning what retention lets go, and the backlog gauges."""

from __future__ import annotations

from datetime import datetime

from relay.models import Backlog, Retention
from relay.store.codec import from_epoch
from relay.store.postgres.base import PgBase
from relay.store.postgres.prune import PRUNE
from relay.store.postgres.queries import SQL
from relay.store.retention import TABLES, cutoffs


class _DryRun(Exception):
    """Rolls a dry run's deletes back."""


class Upkeep(PgBase):
    async def prune(self, retention: Retention, now: datetime, dry_run: bool = False) -> dict[str, int]:
        """One transaction deletes, table by table (PRUNE); a dry run does the same and rolls
        back, so its counts are exactly what a real run would delete."""
        cut, found = cutoffs(retention, now), dict.fromkeys(TABLES, 0)
        try:
            async with self._tx() as c:
                for table, which, delete in PRUNE:
                    status = await c.execute(delete, *(cut[w] for w in which))
                    found[table] += int(status.split()[-1])  # "DELETE 12"
                if dry_run:
                    raise _DryRun
        except _DryRun:
            pass
        return found

    async def backlog(self) -> list[Backlog]:
        rows = await self._pool.fetch(SQL["backlog"])
        return [Backlog(r[0], r[1], r[2], r[3], from_epoch(r[4]) if r[4] is not None else None) for r in rows]
