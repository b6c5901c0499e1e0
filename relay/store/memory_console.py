"""What the console reads of one run, in memory: its transitions and the deliveries each caused
(a mixin of MemoryStore, in the SQL stores' order)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from relay.models import Delivery, RunState, Snapshot, Transition


class ConsoleReads:
    _transitions: list[Transition]  # in the order recorded
    _deliveries: dict[str, Delivery]
    _runs: dict[tuple[str, str], RunState]

    async def run_transitions(self, source: str, run_id: str) -> list[Transition]:
        mine = [t for t in self._transitions if (t.source, t.run_id) == (source, run_id)]
        return sorted(mine, key=lambda t: t.observed_at)  # stable: recorded order among equals

    async def transition_deliveries(self, transition_id: str) -> list[Delivery]:
        mine = [d for d in self._deliveries.values() if d.transition_id == transition_id]
        return sorted(mine, key=lambda d: (d.created_at, d.id))

    async def activity(self, since: datetime, bucket: float) -> list[tuple[int, str, int]]:
        counts: Counter[tuple[int, str]] = Counter()
        for t in self._transitions:
            if t.observed_at >= since:
                counts[(int((t.observed_at - since).total_seconds() // bucket), "transitions")] += 1
        for d in self._deliveries.values():
            if d.created_at >= since:
                counts[(int((d.created_at - since).total_seconds() // bucket), d.status.value)] += 1
        return [(b, kind, n) for (b, kind), n in counts.items()]

    async def transitions_since(self, since: datetime, limit: int) -> list[tuple[Transition, Snapshot]]:
        found = []
        for t in sorted(self._transitions, key=lambda t: t.observed_at):  # stable: recorded order
            state = self._runs.get((t.source, t.run_id))
            if t.observed_at >= since and state is not None:
                found.append((t, state.snapshot))
        return found[:limit]
