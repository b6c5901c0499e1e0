"""Running for years: pruning what retention lets go, and the backlog gauges."""

from __future__ import annotations

from datetime import datetime

from relay.models import Backlog, Retention
from relay.store.codec import epoch, from_epoch
from relay.store.postgres.base import PgBase
from relay.store.postgres.prune import PRUNE
from relay.store.postgres.queries import SQL
from relay.store.retention import RATE_SENDS_KEPT


class _DryRun(Exception):
    """Rolls a dry run's deletes back."""


class Upkeep(PgBase):
    async def prune(self, retention: Retention, now: datetime, dry_run: bool = False) -> dict[str, int]:
        """One transaction deletes, table by table (PRUNE); a dry run does the same and rolls
        back, so its counts are exactly what a real run would delete."""
        t, found = epoch(now), {}
        try:
            async with self._tx() as c:
                for table, fields, delete in PRUNE:
                    cutoffs = [t - _kept(retention, f) for f in fields]
                    found[table] = int((await c.execute(delete, *cutoffs)).split()[-1])  # "DELETE 12"
                if dry_run:
                    raise _DryRun
        except _DryRun:
            pass
        return found

    async def backlog(self) -> list[Backlog]:
        rows = await self._pool.fetch(SQL["backlog"])
        return [Backlog(r[0], r[1], r[2], r[3], from_epoch(r[4]) if r[4] is not None else None) for r in rows]


def _kept(retention: Retention, field: str) -> float:
    """Seconds a kind of row is kept: a Retention field, or the rate sends' fixed hour."""
    return RATE_SENDS_KEPT if field == "rate_sends" else float(getattr(retention, field))
