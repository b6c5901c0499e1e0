"""What the console reads of one run on PostgreSQL: its transitions and the deliveries each
caused (a mixin of PostgresStore; indexes transitions_run and, from migration 2,
deliveries_transition)."""

from __future__ import annotations

from datetime import datetime

from relay.models import Delivery, Snapshot, Transition
from relay.store.codec import epoch, snapshot_from_json
from relay.store.postgres.base import PgBase
from relay.store.sqlite.mappers import delivery_from_row, transition_from_row


class ConsoleReads(PgBase):
    async def run_transitions(self, source: str, run_id: str) -> list[Transition]:
        rows = await self._fetch("run_transitions", source, run_id)
        return [transition_from_row(tuple(r)) for r in rows]

    async def transition_deliveries(self, transition_id: str) -> list[Delivery]:
        rows = await self._fetch("transition_deliveries", transition_id)
        return [delivery_from_row(tuple(r)) for r in rows]

    async def activity(self, since: datetime, bucket: float) -> list[tuple[int, str, int]]:
        start = epoch(since)
        found = [(b, "transitions", n) for b, n in await self._fetch("activity_transitions", start, bucket)]
        rows = await self._fetch("activity_deliveries", start, bucket)
        return found + [(b, status, n) for b, status, n in rows]

    async def transitions_since(self, since: datetime, limit: int) -> list[tuple[Transition, Snapshot]]:
        rows = await self._fetch("transitions_since", epoch(since), limit)
        return [(transition_from_row(tuple(r)[:-1]), snapshot_from_json(r[-1])) for r in rows]
