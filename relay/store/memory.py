"""In-memory twin of the SQL stores, for fast tests of the logic around them.
It passes the same contract suite (tests/integration/test_store_contract.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from relay.digests import DigestItem
from relay.models import (
    INTERRUPTED,
    INTERRUPTED_EXCERPT,
    Attempt,
    Backlog,
    Delivery,
    DeliveryStatus,
    Phase,
    Retention,
    RunState,
    Snapshot,
    Transition,
)
from relay.silences import Silence
from relay.store.base import (
    BuildDigest,
    Claim,
    Context,
    DecideEach,
    Decision,
    Outcome,
    RecordsOne,
    as_written,
    claimed_as_written,
)
from relay.store.memory_console import ConsoleReads
from relay.store.memory_suppression import SuppressionCounts
from relay.store.retention import BACKLOG_STATUSES, RATE_SENDS_KEPT, TABLES, prunable


class MemoryStore(ConsoleReads, SuppressionCounts, RecordsOne):
    writers = 1  # one transaction at a time

    def __init__(self) -> None:
        SuppressionCounts.__init__(self)
        self._runs: dict[tuple[str, str], RunState] = {}
        self._sources: dict[str, datetime] = {}
        self._transitions: list[Transition] = []
        self._deliveries: dict[str, Delivery] = {}
        self._keys: set[str] = set()
        self._leases: dict[str, datetime] = {}
        self._attempts: dict[str, list[Attempt]] = {}
        self._task_last: dict[tuple[str, str], Phase] = {}
        self._silences: dict[str, Silence] = {}
        self._digest_items: list[tuple[DigestItem, bool]] = []  # (item, sent)
        self._heartbeat: datetime | None = None
        self._lock = asyncio.Lock()
        self._owners: dict[str, str] = {}  # claimed delivery -> the process that claimed it
        self._held: dict[str, tuple[str, datetime, int]] = {}  # lease -> (owner, until, token)
        self._rate_sends: dict[str, list[datetime]] = {}
        self._seen: dict[tuple[str, str], datetime] = {}
        self._budgets: dict[str, tuple[int | None, int | None, float | None]] = {}
        self._wakers: list[Callable[[], None]] = []

    async def record_many(
        self,
        snapshots: Sequence[Snapshot],
        decide: DecideEach,
        now: datetime,
        claim: Claim | None = None,
    ) -> list[Decision]:
        async with self._lock:
            decisions = self._decide_all(snapshots, decide, now)  # nothing written if it raises
            for s, decision in zip(snapshots, decisions, strict=True):
                self._apply(s, decision, now)
            planned, carrying = self._take([d for x in decisions for d in x.deliveries])
            written = {d.id: d for d in self._add_deliveries(planned, now, claim)}
            self._count(planned, list(written.values()), carrying, now)
        if any(d.status == DeliveryStatus.PENDING for d in written.values()):
            self._woke()
        return as_written(decisions, written)

    def _decide_all(self, snapshots: Sequence[Snapshot], decide: DecideEach, now: datetime) -> list[Decision]:
        """Each snapshot against the store as the ones before it in the batch left it."""
        runs: dict[tuple[str, str], RunState | None] = {}
        task_last: dict[tuple[str, str], Phase | None] = {}
        decisions = []
        for s in snapshots:
            key, task = (s.source, s.run_id), (s.source, s.task)
            previous = runs[key] if key in runs else self._runs.get(key)
            last = task_last[task] if task in task_last else self._task_last.get(task)
            decision = decide(s, previous, Context(self._sources.get(s.source, now), last))
            if stored := decision.store:
                runs[key] = _next_state(previous, stored, now)
                if stored.terminal:
                    task_last[(stored.source, stored.task)] = stored.phase
            decisions.append(decision)
        return decisions

    def _apply(self, snapshot: Snapshot, decision: Decision, now: datetime) -> None:
        self._sources.setdefault(snapshot.source, now)
        if stored := decision.store:
            key = (snapshot.source, snapshot.run_id)
            self._runs[key] = _next_state(self._runs.get(key), stored, now)
            if stored.terminal:
                self._task_last[(stored.source, stored.task)] = stored.phase
        if decision.transition:
            self._transitions.append(decision.transition)
        self._digest_items += [(item, False) for item in decision.digest_items]

    def _add_deliveries(
        self, deliveries: list[Delivery], now: datetime | None = None, claim: Claim | None = None
    ) -> list[Delivery]:
        fresh: dict[str, Delivery] = {}  # by key: the first of a batch's duplicates
        for d in deliveries:
            if d.idempotency_key not in self._keys:
                fresh.setdefault(d.idempotency_key, d)
        added = list(fresh.values())
        if claim is not None and now is not None:
            added = claimed_as_written(added, now, claim)
            for d in added:
                if d.status == DeliveryStatus.SENDING:
                    self._leases[d.id] = now + timedelta(seconds=claim.lease)
                    self._owners[d.id] = claim.owner
        for d in added:
            self._keys.add(d.idempotency_key)
            self._deliveries[d.id] = d
        return added

    async def enqueue(self, transition: Transition, deliveries: list[Delivery]) -> int:
        async with self._lock:
            if all(t.id != transition.id for t in self._transitions):
                self._transitions.append(transition)
            written = len(self._add_deliveries(deliveries))
        if written:
            self._woke()
        return written

    async def add_silence(self, silence: Silence) -> None:
        self._silences[silence.id] = silence

    async def silences(self, now: datetime | None = None) -> list[Silence]:
        found = [s for s in self._silences.values() if now is None or s.ends_at > now]
        return sorted(found, key=lambda s: (s.starts_at, s.id))

    async def expire_silence(self, silence_id: str, now: datetime) -> bool:
        silence = self._silences.get(silence_id)
        if silence is None or silence.ends_at <= now:
            return False
        self._silences[silence_id] = replace(silence, ends_at=now)
        return True

    async def due_digests(self, now: datetime) -> list[tuple[str, str, datetime]]:
        due = {
            (i.rule, i.channel, i.window_end)
            for i, sent in self._digest_items
            if not sent and i.window_end <= now
        }
        return sorted(due, key=lambda d: (d[2], d[0], d[1]))

    async def take_digest(
        self, rule: str, channel: str, window_end: datetime, build: BuildDigest
    ) -> Delivery | None:
        async with self._lock:
            mine = [
                n
                for n, (i, sent) in enumerate(self._digest_items)
                if not sent and (i.rule, i.channel, i.window_end) == (rule, channel, window_end)
            ]
            delivery = build([self._digest_items[n][0] for n in mine])
            if delivery is not None:
                (delivery,), carrying = self._take([delivery])
                written = self._add_deliveries([delivery])
                self._count([delivery], written, carrying, delivery.created_at)
                if not written:
                    delivery = None  # this window was sent already
            for n in mine:
                self._digest_items[n] = (self._digest_items[n][0], True)
        if delivery:
            self._woke()
        return delivery

    async def sent_keys(self, keys: Sequence[str]) -> set[str]:
        return self._keys.intersection(keys)

    async def watching_since(self, source: str, now: datetime) -> datetime:
        return self._sources.setdefault(source, now)

    async def known_runs(self, source: str, run_ids: list[str]) -> dict[str, RunState]:
        return {i: s for i in run_ids if (s := self._runs.get((source, i)))}

    async def active_runs(self, source: str) -> list[RunState]:
        return [s for (src, _), s in self._runs.items() if src == source and not s.snapshot.terminal]

    async def claim(self, now: datetime, limit: int, lease: float, owner: str = "") -> list[Delivery]:
        async with self._lock:
            self._interrupt(now, lease)
            due = sorted(
                (d for d in self._deliveries.values() if self._due(d, now)),
                key=lambda d: d.next_attempt_at,
            )[:limit]
            groups = {d.group_key for d in due if d.group_key}
            due += [
                d
                for d in self._deliveries.values()
                if d.group_key in groups and d.status == DeliveryStatus.PENDING and d not in due
            ]
            for d in due:
                self._deliveries[d.id] = replace(d, status=DeliveryStatus.SENDING)
                self._leases[d.id] = now + timedelta(seconds=lease)
                self._owners[d.id] = owner
            return [self._deliveries[d.id] for d in due]

    def _due(self, d: Delivery, now: datetime) -> bool:
        return d.status == DeliveryStatus.PENDING and d.next_attempt_at <= now

    def _interrupt(self, now: datetime, lease: float) -> None:
        """Sending, and the lease ran out: its process died mid-send. Pending again, on record."""
        for i, until in list(self._leases.items()):
            if until <= now and (d := self._deliveries[i]).status == DeliveryStatus.SENDING:
                started = until - timedelta(seconds=lease)
                cut = Attempt(i, d.attempts + 1, started, 0.0, False, None, INTERRUPTED, INTERRUPTED_EXCERPT)
                self._hand_back(i, [cut])

    def _hand_back(self, delivery_id: str, attempts: Sequence[Attempt]) -> None:
        d = self._deliveries[delivery_id]
        self._attempts.setdefault(delivery_id, []).extend(attempts)
        self._deliveries[delivery_id] = replace(
            d, status=DeliveryStatus.PENDING, attempts=d.attempts + len(attempts)
        )
        self._leases.pop(delivery_id, None)
        self._owners.pop(delivery_id, None)

    async def complete(self, delivery_id: str, attempts: list[Attempt], outcome: Outcome) -> None:
        d = self._deliveries[delivery_id]
        self._attempts.setdefault(delivery_id, []).extend(attempts)
        self._leases.pop(delivery_id, None)
        self._owners.pop(delivery_id, None)
        self._deliveries[delivery_id] = replace(
            d,
            status=outcome.status,
            attempts=d.attempts + len(attempts),
            rounds=d.rounds + int(outcome.status != DeliveryStatus.SENT),
            next_attempt_at=outcome.next_attempt_at or d.next_attempt_at,
            last_error=outcome.error,
        )

    async def defer(self, delivery_ids: list[str], until: datetime, group_key: str) -> None:
        for i in delivery_ids:
            d = self._deliveries[i]
            if d.status == DeliveryStatus.SENDING:
                self._deliveries[i] = replace(
                    d, status=DeliveryStatus.PENDING, next_attempt_at=until, group_key=group_key
                )
                self._leases.pop(i, None)
                self._owners.pop(i, None)

    async def release(self, delivery_ids: list[str], attempts: Sequence[Attempt] = ()) -> None:
        for i in delivery_ids:
            if self._deliveries[i].status == DeliveryStatus.SENDING:
                self._hand_back(i, [a for a in attempts if a.delivery_id == i])
        self._woke()

    async def replay(self, delivery_id: str, now: datetime) -> bool:
        d = self._deliveries.get(delivery_id)
        if d is None or d.status not in (DeliveryStatus.DEAD, DeliveryStatus.SENT):
            return False
        self._deliveries[delivery_id] = replace(
            d, status=DeliveryStatus.PENDING, rounds=0, next_attempt_at=now
        )
        self._woke()
        return True

    async def next_due(self) -> datetime | None:
        times = [d.next_attempt_at for d in self._deliveries.values() if d.status == DeliveryStatus.PENDING]
        times += list(self._leases.values())
        return min(times, default=None)

    async def heartbeat(self, now: datetime) -> None:
        async with self._lock:  # waits behind writes under way, as a SQL store's does
            self._heartbeat = now

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

    # -- several processes, one truth: here one process, so the same rules in a dict ------

    async def expire_claims(self, owner: str, now: datetime) -> int:
        mine = [i for i, o in self._owners.items() if o == owner]
        for i in mine:
            self._leases[i] = now
        return len(mine)

    async def hold(self, name: str, owner: str, now: datetime, ttl: float) -> int | None:
        held_by, until, token = self._held.get(name, (owner, now, 1))
        if held_by != owner:
            if until > now:
                return None
            token += 1
        self._held[name] = (owner, now + timedelta(seconds=ttl), token)
        return token

    async def let_go(self, name: str, owner: str) -> None:
        if (held := self._held.get(name)) and held[0] == owner:
            self._held[name] = (owner, datetime.min.replace(tzinfo=UTC), held[2])

    async def leases(self, now: datetime) -> dict[str, tuple[str, datetime]]:
        return {name: (o, until) for name, (o, until, _) in sorted(self._held.items()) if until > now}

    async def admit(self, channel: str, now: datetime, count: int, period: float) -> datetime | None:
        since = now - timedelta(seconds=period)
        sent = self._rate_sends[channel] = [t for t in self._rate_sends.get(channel, []) if t > since]
        if len(sent) >= count:
            return sent[0] + timedelta(seconds=period)
        sent.append(now)
        return None

    async def first_sight(self, source: str, key: str, now: datetime) -> bool:
        if (source, key) in self._seen:
            return False
        self._seen[(source, key)] = now
        return True

    async def budget(self, key: str) -> tuple[int | None, int | None, float | None]:
        return self._budgets.get(key, (None, None, None))

    async def save_budget(
        self, key: str, limit: int | None, remaining: int | None, reset_at: float | None
    ) -> None:
        self._budgets[key] = (limit, remaining, reset_at)

    async def on_due(self, wake: Callable[[], None]) -> None:
        self._wakers.append(wake)

    def _woke(self) -> None:
        for wake in self._wakers:
            wake()

    async def close(self) -> None:
        return None

    # -- running for years (Store.prune, Store.backlog) ----------------------------------

    async def prune(self, retention: Retention, now: datetime, dry_run: bool = False) -> dict[str, int]:
        async with self._lock:
            gone = [d for d in self._deliveries.values() if prunable(d, retention, now)]
            gone.sort(key=lambda d: d.created_at)
            gone_ids = {d.id for d in gone}
            kept_refs = {d.transition_id for d in self._deliveries.values() if d.id not in gone_ids}
            t_cut = now - timedelta(seconds=retention.transitions)
            old_t = [t for t in self._transitions if t.observed_at < t_cut and t.id not in kept_refs]
            r_cut = now - timedelta(seconds=retention.finished_runs)
            old_runs = [k for k, s in self._runs.items() if s.snapshot.terminal and _since(s) < r_cut]
            s_cut = now - timedelta(seconds=retention.seen)
            old_items = [n for n, (i, sent) in enumerate(self._digest_items) if sent and i.window_end < s_cut]
            counts = {
                "deliveries": len(gone),
                "attempts": sum(len(self._attempts.get(i, [])) for i in gone_ids),
                "transitions": len(old_t),
                "runs": len(old_runs),
                "digest_items": len(old_items),
            }
            counts |= self._prune_memory(now, retention, dry_run)
            if not dry_run:
                self._forget(gone, {t.id for t in old_t}, old_runs, set(old_items))
            return {table: counts[table] for table in TABLES}

    def _forget(
        self, gone: list[Delivery], transitions: set[str], runs: list[tuple[str, str]], items: set[int]
    ) -> None:
        for d in gone:
            del self._deliveries[d.id]
            self._keys.discard(d.idempotency_key)
            self._attempts.pop(d.id, None)
            self._leases.pop(d.id, None)
        self._transitions = [t for t in self._transitions if t.id not in transitions]
        for key in runs:
            del self._runs[key]
        self._digest_items = [x for n, x in enumerate(self._digest_items) if n not in items]

    def _prune_memory(self, now: datetime, retention: Retention, dry_run: bool) -> dict[str, int]:
        """The replay memory (`_seen`: (source, key) -> first seen) and the shared rate sends
        (`_rate_sends`: channel -> send times)."""
        seen = self._seen
        s_cut = now - timedelta(seconds=retention.seen)
        old_seen = [k for k, at in seen.items() if at < s_cut]
        sends = self._rate_sends
        r_cut = now - timedelta(seconds=RATE_SENDS_KEPT)
        old_sends = sum(1 for times in sends.values() for at in times if at < r_cut)
        if not dry_run:
            for k in old_seen:
                del seen[k]
            for channel, times in sends.items():
                sends[channel] = [at for at in times if at >= r_cut]
        return {"seen": len(old_seen), "rate_sends": old_sends}

    async def backlog(self) -> list[Backlog]:
        counts: dict[str, dict[DeliveryStatus, int]] = {}
        oldest: dict[str, datetime] = {}
        for d in self._deliveries.values():
            if d.status in BACKLOG_STATUSES:
                per = counts.setdefault(d.channel, {})
                per[d.status] = per.get(d.status, 0) + 1
            if d.status == DeliveryStatus.PENDING:
                oldest[d.channel] = min(oldest.get(d.channel, d.created_at), d.created_at)
        return [
            Backlog(
                channel,
                per.get(DeliveryStatus.PENDING, 0),
                per.get(DeliveryStatus.SENDING, 0),
                per.get(DeliveryStatus.DEAD, 0),
                oldest.get(channel),
            )
            for channel, per in sorted(counts.items())
        ]


def _since(state: RunState) -> datetime:
    return state.phase_since or state.first_seen_at


def _next_state(previous: RunState | None, stored: Snapshot, now: datetime) -> RunState:
    if previous is None:
        return RunState(stored, now, now)
    same_phase = previous.snapshot.phase == stored.phase
    return RunState(stored, previous.first_seen_at, previous.phase_since if same_phase else now)
