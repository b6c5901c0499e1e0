"""In-memory twin of the SQL stores, for fast tests of the logic around them.
It passes the same contract suite (tests/integration/test_store_contract.py)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta

from relay.models import Attempt, Delivery, DeliveryStatus, RunState, Snapshot, Transition
from relay.store.base import Decide, Decision, Outcome


class MemoryStore:
    def __init__(self) -> None:
        self._runs: dict[tuple[str, str], RunState] = {}
        self._sources: dict[str, datetime] = {}
        self._transitions: list[Transition] = []
        self._deliveries: dict[str, Delivery] = {}
        self._keys: set[str] = set()
        self._leases: dict[str, datetime] = {}
        self._attempts: dict[str, list[Attempt]] = {}
        self._lock = asyncio.Lock()

    async def record(self, snapshot: Snapshot, decide: Decide, now: datetime) -> Decision:
        async with self._lock:
            key = (snapshot.source, snapshot.run_id)
            previous = self._runs.get(key)
            decision = decide(previous, self._sources.setdefault(snapshot.source, now))
            if decision.store:
                self._runs[key] = RunState(decision.store, previous.first_seen_at if previous else now)
            if decision.transition:
                self._transitions.append(decision.transition)
            for d in decision.deliveries:
                if d.idempotency_key not in self._keys:
                    self._keys.add(d.idempotency_key)
                    self._deliveries[d.id] = d
            return decision

    async def watching_since(self, source: str, now: datetime) -> datetime:
        return self._sources.setdefault(source, now)

    async def known_runs(self, source: str, run_ids: list[str]) -> dict[str, RunState]:
        return {i: s for i in run_ids if (s := self._runs.get((source, i)))}

    async def active_runs(self, source: str) -> list[RunState]:
        return [s for (src, _), s in self._runs.items() if src == source and not s.snapshot.terminal]

    async def claim(self, now: datetime, limit: int, lease: float) -> list[Delivery]:
        async with self._lock:
            due = sorted(
                (d for d in self._deliveries.values() if self._claimable(d, now)),
                key=lambda d: d.next_attempt_at,
            )[:limit]
            for d in due:
                self._deliveries[d.id] = replace(d, status=DeliveryStatus.SENDING)
                self._leases[d.id] = now + timedelta(seconds=lease)
            return [self._deliveries[d.id] for d in due]

    def _claimable(self, d: Delivery, now: datetime) -> bool:
        if d.status == DeliveryStatus.PENDING:
            return d.next_attempt_at <= now
        return d.status == DeliveryStatus.SENDING and self._leases[d.id] <= now

    async def complete(self, delivery_id: str, attempts: list[Attempt], outcome: Outcome) -> None:
        d = self._deliveries[delivery_id]
        self._attempts.setdefault(delivery_id, []).extend(attempts)
        self._leases.pop(delivery_id, None)
        self._deliveries[delivery_id] = replace(
            d,
            status=outcome.status,
            attempts=d.attempts + len(attempts),
            rounds=d.rounds + int(outcome.status != DeliveryStatus.SENT),
            next_attempt_at=outcome.next_attempt_at or d.next_attempt_at,
            last_error=outcome.error,
        )

    async def release(self, delivery_ids: list[str]) -> None:
        for i in delivery_ids:
            if self._deliveries[i].status == DeliveryStatus.SENDING:
                self._deliveries[i] = replace(self._deliveries[i], status=DeliveryStatus.PENDING)
                self._leases.pop(i, None)

    async def replay(self, delivery_id: str, now: datetime) -> bool:
        d = self._deliveries.get(delivery_id)
        if d is None or d.status not in (DeliveryStatus.DEAD, DeliveryStatus.SENT):
            return False
        self._deliveries[delivery_id] = replace(
            d, status=DeliveryStatus.PENDING, rounds=0, next_attempt_at=now
        )
        return True

    async def next_due(self) -> datetime | None:
        times = [d.next_attempt_at for d in self._deliveries.values() if d.status == DeliveryStatus.PENDING]
        times += list(self._leases.values())
        return min(times, default=None)

    async def delivery(self, delivery_id: str) -> Delivery | None:
        return self._deliveries.get(delivery_id)

    async def deliveries(self, status: DeliveryStatus | None = None, limit: int = 100) -> list[Delivery]:
        found = [d for d in self._deliveries.values() if status is None or d.status == status]
        return sorted(found, key=lambda d: (d.created_at, d.id), reverse=True)[:limit]

    async def attempts(self, delivery_id: str) -> list[Attempt]:
        return sorted(self._attempts.get(delivery_id, []), key=lambda a: a.n)

    async def runs(self, source: str | None = None, limit: int = 100) -> list[RunState]:
        found = [s for (src, _), s in self._runs.items() if source is None or src == source]
        return sorted(found, key=lambda s: s.snapshot.updated_at, reverse=True)[:limit]

    async def transitions(self, limit: int = 100) -> list[Transition]:
        # newest first; among equal times the one recorded last first, as SQL's rowid order
        return sorted(reversed(self._transitions), key=lambda t: t.observed_at, reverse=True)[:limit]

    async def close(self) -> None:
        return None
