"""Suppressed counts on PostgreSQL (relay/store/suppression.py), in the transaction of the
record (or digest) that decides them: one statement to take them (only when a delivery will
go out), one to add to them (only when something was suppressed)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from relay.models import Delivery
from relay.store.codec import epoch, from_epoch
from relay.store.postgres.base import Conn, PgBase
from relay.store.postgres.queries import SQL
from relay.store.suppression import SuppressedCount, carriers, carry, counted, from_rows, merged


async def counted_pairs(c: Conn) -> set[tuple[str, str]]:
    """The (rule, channel) pairs with counts to tell: a batch asks once, and takes only theirs."""
    return {(r[0], r[1]) for r in await c.fetch(SQL["counted_pairs"])}


async def take(
    c: Conn, planned: list[Delivery], counted: set[tuple[str, str]] | None = None
) -> tuple[list[Delivery], list[Delivery]]:
    """`planned`, the first of each rule and channel to go out carrying the counts it takes;
    and those that carry some. `counted`: the pairs that may have counts (taken ones leave
    it), None if any may."""
    chosen = carriers(planned)
    if counted is not None:
        chosen = {pair: d for pair, d in chosen.items() if pair in counted}
        counted -= chosen.keys()
    if not chosen:
        return planned, []
    pairs = list(chosen)
    rows = await c.fetch(SQL["take_suppressed"], [p[0] for p in pairs], [p[1] for p in pairs])
    found: dict[tuple[str, str], list[SuppressedCount]] = defaultdict(list)
    for r in merged(SuppressedCount(r[0], r[1], r[2], r[3], from_epoch(r[4])) for r in rows):
        found[(r.rule, r.channel)].append(r)
    ids = {d.id for d in chosen.values()}
    result = [carry(d, found[(d.rule, d.channel)]) if d.id in ids else d for d in planned]
    return result, [d for d in result if d.id in ids and found[(d.rule, d.channel)]]


async def count(
    c: Conn, planned: list[Delivery], written: list[Delivery], carrying: list[Delivery], now: datetime
) -> set[tuple[str, str]]:
    """Adds to the counts; the pairs added to."""
    rows = counted(planned, {d.id for d in written}, carrying, now)
    if rows:
        columns = ([r.rule for r in rows], [r.channel for r in rows], [r.reason for r in rows])
        await c.execute(
            SQL["add_suppressed"], *columns, [r.count for r in rows], [epoch(r.since) for r in rows]
        )
    return {(r.rule, r.channel) for r in rows}


class SuppressionReads(PgBase):
    async def suppressed_counts(self) -> list[SuppressedCount]:
        kept = await self._fetch("suppressed_counts")
        held = await self._fetch("held_groups")
        return from_rows([tuple(r) for r in kept], [tuple(r) for r in held])
