"""Suppressed counts in memory (a mixin of MemoryStore): relay/store/suppression.py."""

from __future__ import annotations

from datetime import datetime

from relay.models import Delivery, DeliveryStatus
from relay.store.suppression import SuppressedCount, carriers, carry, counted, held_reason


class SuppressionCounts:
    _deliveries: dict[str, Delivery]

    def __init__(self) -> None:
        self._suppressed: dict[tuple[str, str, str], SuppressedCount] = {}

    def _take(self, planned: list[Delivery]) -> tuple[list[Delivery], list[Delivery]]:
        """`planned`, each first one of a rule and channel to go out carrying its counts (taken
        from the rows); and those that carry some."""
        chosen = {d.id for d in carriers(planned).values()}
        result, carrying = [], []
        for d in planned:
            if d.id in chosen:
                counts = [c for k, c in self._suppressed.items() if k[:2] == (d.rule, d.channel)]
                for c in counts:
                    del self._suppressed[(c.rule, c.channel, c.reason)]
                d = carry(d, counts)
                if counts:
                    carrying.append(d)
            result.append(d)
        return result, carrying

    def _count(
        self, planned: list[Delivery], written: list[Delivery], carrying: list[Delivery], now: datetime
    ) -> None:
        for c in counted(planned, {d.id for d in written}, carrying, now):
            key = (c.rule, c.channel, c.reason)
            if before := self._suppressed.get(key):
                c = SuppressedCount(
                    c.rule, c.channel, c.reason, before.count + c.count, min(before.since, c.since)
                )
            self._suppressed[key] = c

    async def suppressed_counts(self) -> list[SuppressedCount]:
        held: dict[tuple[str, str, str], SuppressedCount] = {}
        for d in self._deliveries.values():
            if d.status != DeliveryStatus.PENDING or d.group_key is None:
                continue
            key = (d.rule, d.channel, held_reason(d.group_key))
            before = held.get(key)
            held[key] = SuppressedCount(
                *key,
                count=(before.count if before else 0) + 1,
                since=min(before.since, d.created_at) if before else d.created_at,
                held=True,
            )
        rows = list(self._suppressed.values()) + list(held.values())
        return sorted(rows, key=lambda c: (c.rule, c.channel, c.held, c.reason))
