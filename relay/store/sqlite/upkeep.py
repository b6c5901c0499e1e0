"""Running for years on SQLite: Store.prune and Store.backlog (a mixin of SqliteStore).

Prune deletes in batches of at most BATCH rows, each batch one write of the group-commit queue:
ingest and delivery wait for one batch at a time, never for the whole prune. Freed pages stay in
the file and are reused by new rows, so a pruned file stops growing rather than shrinking
(docs/operations.md, bench/soak.py)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import datetime
from functools import partial

from relay.models import Backlog, DeliveryStatus, Retention
from relay.store.codec import from_epoch
from relay.store.retention import TABLES, cutoffs
from relay.store.sqlite.engine import Engine
from relay.store.sqlite.queries import SQL

BATCH = 2000  # rows per write: a few milliseconds of the write lock
# status -> which cutoff ages it out
FINISHED = (
    (DeliveryStatus.SENT, "sent"),
    (DeliveryStatus.SILENCED, "sent"),
    (DeliveryStatus.DEAD, "dead"),
)
# table -> (delete statement taking (cut, limit), count statement, cutoff)
SIMPLE = {
    "seen": ("old_seen", "count_old_seen", "seen"),
    "rate_sends": ("old_rate_sends", "count_old_rate_sends", "rate_sends"),
    "digest_items": ("old_digest_items", "count_old_digest_items", "seen"),
}


class Upkeep(Engine):
    async def prune(self, retention: Retention, now: datetime, dry_run: bool = False) -> dict[str, int]:
        cut = cutoffs(retention, now)
        if dry_run:
            return await self._count_prunable(cut)
        counts = dict.fromkeys(TABLES, 0)
        for status, which in FINISHED:
            while True:
                deliveries, attempts = await self._write(
                    partial(_delete_deliveries, status=status.value, cut=cut[which])
                )
                counts["deliveries"] += deliveries
                counts["attempts"] += attempts
                if deliveries < BATCH:
                    break
        orphans = (cut["transitions"], cut["sent"], cut["dead"])
        counts["transitions"] = await self._drain(
            lambda c: _delete_ids(c, "orphan_transitions", "delete_transitions", (*orphans, BATCH))
        )
        counts["runs"] = await self._drain(
            lambda c: _delete_ids(c, "finished_runs", "delete_runs", (cut["finished_runs"], BATCH))
        )
        for table, (delete, _, which) in SIMPLE.items():
            counts[table] = await self._drain(partial(_delete_old, name=delete, cut=cut[which]))
        return counts

    async def _drain(self, batch: Callable[[sqlite3.Connection], int]) -> int:
        """Run the write `batch` (returns rows deleted) until it deletes less than BATCH."""
        total = 0
        while True:
            n = await self._write(batch)
            total += n
            if n < BATCH:
                return total

    async def _count_prunable(self, cut: dict[str, float]) -> dict[str, int]:
        counts = dict.fromkeys(TABLES, 0)
        for status, which in FINISHED:
            params = (status.value, cut[which])
            counts["deliveries"] += await self._count("count_prunable_deliveries", params)
            counts["attempts"] += await self._count("count_prunable_attempts", params)
        orphans = (cut["transitions"], cut["sent"], cut["dead"])
        counts["transitions"] = await self._count("count_orphan_transitions", orphans)
        counts["runs"] = await self._count("count_finished_runs", (cut["finished_runs"],))
        for table, (_, count, which) in SIMPLE.items():
            counts[table] = await self._count(count, (cut[which],))
        return counts

    async def _count(self, name: str, params: tuple[object, ...]) -> int:
        rows = await self._select(SQL[name], params)
        return int(rows[0][0])

    async def backlog(self) -> list[Backlog]:
        per: dict[str, dict[str, int]] = {}
        oldest: dict[str, datetime] = {}
        for channel, status, count, first in await self._select(SQL["backlog"], ()):
            per.setdefault(channel, {})[status] = count
            if status == DeliveryStatus.PENDING:
                oldest[channel] = from_epoch(first)
        return [
            Backlog(c, n.get("pending", 0), n.get("sending", 0), n.get("dead", 0), oldest.get(c))
            for c, n in sorted(per.items())
        ]


def _delete_deliveries(c: sqlite3.Connection, status: str, cut: float) -> tuple[int, int]:
    """One batch of the oldest deliveries of `status` written before `cut`, with their attempts
    (attempts first: they refer to the delivery)."""
    ids = [r[0] for r in c.execute(SQL["prunable_delivery_ids"], (status, cut, BATCH))]
    if not ids:
        return 0, 0
    listed = json.dumps(ids)
    attempts = c.execute(SQL["delete_attempts_of"], (listed,)).rowcount
    return c.execute(SQL["delete_deliveries"], (listed,)).rowcount, attempts


def _delete_old(c: sqlite3.Connection, name: str, cut: float) -> int:
    return int(c.execute(SQL[name], (cut, BATCH)).rowcount)


def _delete_ids(c: sqlite3.Connection, select: str, delete: str, params: tuple[object, ...]) -> int:
    ids = [r[0] for r in c.execute(SQL[select], params)]
    return c.execute(SQL[delete], (json.dumps(ids),)).rowcount if ids else 0
