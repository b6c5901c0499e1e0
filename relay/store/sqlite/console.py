"""What the console reads of one run on SQLite: its transitions and the deliveries each caused
(a mixin of SqliteStore; both statements use an index: transitions_run, deliveries_transition)."""

from __future__ import annotations

from datetime import datetime

from relay.models import Delivery, Snapshot, Transition
from relay.store.codec import epoch, snapshot_from_json
from relay.store.sqlite.engine import Engine
from relay.store.sqlite.mappers import delivery_from_row, transition_from_row
from relay.store.sqlite.queries import SQL


class ConsoleReads(Engine):
    async def run_transitions(self, source: str, run_id: str) -> list[Transition]:
        rows = await self._select(SQL["run_transitions"], (source, run_id))
        return [transition_from_row(r) for r in rows]

    async def transition_deliveries(self, transition_id: str) -> list[Delivery]:
        rows = await self._select(SQL["transition_deliveries"], (transition_id,))
        return [delivery_from_row(r) for r in rows]

    async def activity(self, since: datetime, bucket: float) -> list[tuple[int, str, int]]:
        params = (epoch(since), bucket, epoch(since))
        found = [
            (int(b), "transitions", int(n))
            for b, n in await self._select(SQL["activity_transitions"], params)
        ]
        rows = await self._select(SQL["activity_deliveries"], params)
        return found + [(int(b), str(status), int(n)) for b, status, n in rows]

    async def transitions_since(self, since: datetime, limit: int) -> list[tuple[Transition, Snapshot]]:
        rows = await self._select(SQL["transitions_since"], (epoch(since), limit))
        return [(transition_from_row(r[:-1]), snapshot_from_json(r[-1])) for r in rows]
