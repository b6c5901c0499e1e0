"""Suppressed counts on SQLite (relay/store/suppression.py): read and written inside the
transaction of the record (or digest) that decides them."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from relay.models import Delivery
from relay.store.codec import epoch, from_epoch
from relay.store.sqlite.engine import Engine
from relay.store.sqlite.queries import SQL
from relay.store.suppression import SuppressedCount, carriers, carry, counted, from_rows


def take(c: sqlite3.Connection, planned: list[Delivery]) -> tuple[list[Delivery], list[Delivery]]:
    """`planned`, the first of each rule and channel to go out carrying the counts it takes
    from the table; and those that carry some."""
    chosen = {d.id: d for d in carriers(planned).values()}
    result, carrying = [], []
    for d in planned:
        if d.id in chosen:
            rows = c.execute(SQL["take_suppressed"], (d.rule, d.channel)).fetchall()
            d = carry(d, [SuppressedCount(d.rule, d.channel, r[0], r[1], from_epoch(r[2])) for r in rows])
            if rows:
                carrying.append(d)
        result.append(d)
    return result, carrying


def count(
    c: sqlite3.Connection,
    planned: list[Delivery],
    written: list[Delivery],
    carrying: list[Delivery],
    now: datetime,
) -> None:
    rows = counted(planned, {d.id for d in written}, carrying, now)
    if not rows:
        return  # the common case: no statement
    c.executemany(
        SQL["add_suppressed"], [(r.rule, r.channel, r.reason, r.count, epoch(r.since)) for r in rows]
    )


class SuppressionReads(Engine):
    async def suppressed_counts(self) -> list[SuppressedCount]:
        kept = await self._select(SQL["suppressed_counts"], ())
        held = await self._select(SQL["held_groups"], ())
        return from_rows(kept, held)
