"""PostgresStore: the Store contract (relay/store/base.py) on PostgreSQL, for several replicas
on one database. Statements in queries.sql, rows mapped by the SQLite mappers (same columns),
coordination in coordination.py, retention and gauges in upkeep.py."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Self

import asyncpg

from relay.coalesce import Coalescer
from relay.models import (
    INTERRUPTED,
    INTERRUPTED_EXCERPT,
    Attempt,
    Delivery,
    DeliveryStatus,
    Phase,
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
    claimed_as_written,
)
from relay.store.codec import digest_item_from_json, epoch, from_epoch
from relay.store.postgres import suppression
from relay.store.postgres.base import Conn, PgBase, Pool
from relay.store.postgres.console import ConsoleReads
from relay.store.postgres.coordination import Coordination
from relay.store.postgres.engine import open_pool
from relay.store.postgres.queries import SQL
from relay.store.postgres.suppression import SuppressionReads
from relay.store.postgres.upkeep import Upkeep
from relay.store.postgres.url import Target, parse_url
from relay.store.postgres.writes import Writes
from relay.store.sqlite.mappers import (
    attempt_from_row,
    attempt_row,
    completion_row,
    delivery_from_row,
    delivery_row,
    digest_item_row,
    run_row,
    run_state_from_row,
    silence_from_row,
    silence_row,
    transition_from_row,
    transition_row,
    written_row,
)
from relay.store.suppression import carriers

log = logging.getLogger("relay.store")
# a claimed delivery's round as `complete` records it: (its id, the attempts made, its outcome)
Completion = tuple[str, list[Attempt], Outcome]
DEADLOCK_TRIES = 3  # a batch PostgreSQL chose as a deadlock's victim is tried again this often


class PostgresStore(Coordination, Upkeep, ConsoleReads, SuppressionReads, PgBase, RecordsOne):
    def __init__(self, pool: Pool, target: Target) -> None:
        super().__init__(pool, target)
        # the outcomes of sends that end together, in one transaction and one WAL flush (as
        # SQLite's group commit writes them): a transaction each cost PostgreSQL and the relay
        # more than the send itself
        self._outcomes = Coalescer(self._complete_many)

    @property
    def writers(self) -> int:
        """Half the pool: the other half stays free for claims, outcomes and reads."""
        return max(1, self._target.pool // 2)

    @classmethod
    async def open(cls, url: str) -> Self:
        target = parse_url(url)
        return cls(await open_pool(target), target)

    async def close(self) -> None:
        if self._listener is not None:
            await self._listener.close()
        await self._pool.close()

    # -- ingest ---------------------------------------------------------------------------

    async def record_many(
        self,
        snapshots: Sequence[Snapshot],
        decide: DecideEach,
        now: datetime,
        claim: Claim | None = None,
    ) -> list[Decision]:
        """One transaction. Rows that batches share are locked in one order every replica
        takes: the batch's runs first, the tasks' last outcomes at the end, sorted. In
        between, each snapshot is decided and written in turn, seeing what the ones before it
        wrote. What is left to chance (two batches' suppressed counts or once_per keys in
        opposite orders) PostgreSQL breaks as a deadlock: the batch is then tried again."""
        if not snapshots:
            return []
        for attempt in range(DEADLOCK_TRIES):
            try:
                return await self._record_many(snapshots, decide, now, claim)
            except asyncpg.exceptions.DeadlockDetectedError:
                if attempt == DEADLOCK_TRIES - 1:
                    raise
                log.warning("record_deadlock_retried runs=%d attempt=%d", len(snapshots), attempt + 1)
        raise AssertionError("unreachable")

    async def _record_many(
        self,
        snapshots: Sequence[Snapshot],
        decide: DecideEach,
        now: datetime,
        claim: Claim | None,
    ) -> list[Decision]:
        sinces: dict[str, datetime] = {}
        batch = _Batch()
        async with self._tx() as c:
            runs = sorted({(s.source, s.run_id) for s in snapshots})
            await c.execute(SQL["lock_runs"], [r[0] for r in runs], [r[1] for r in runs])
            names = [s.source for s in snapshots], [s.run_id for s in snapshots], [s.task for s in snapshots]
            found = await c.fetch(SQL["run_states"], *names)
            decisions: list[Decision] = []
            for s, before in zip(snapshots, found, strict=True):
                if s.source not in sinces:
                    sinces[s.source] = self._since.get(s.source) or await _watching_since(c, s.source, now)
                batch.since = sinces[s.source]
                decisions.append(await self._record_one(c, s, tuple(before), decide, now, batch, claim))
                claim = claim and claim.less(decisions[-1].deliveries)
            if batch.outcomes:
                rows = [
                    (source, task, phase.value) for (source, task), phase in sorted(batch.outcomes.items())
                ]
                await c.executemany(SQL["save_task_outcome"], rows)
        self._since.update(sinces)  # committed now: it never changes again
        return decisions

    async def _record_one(
        self,
        c: Conn,
        snapshot: Snapshot,
        found: tuple[Any, ...],  # its row of `run_states`: as stored before the batch
        decide: DecideEach,
        now: datetime,
        batch: _Batch,
        claim: Claim | None,
    ) -> Decision:
        key, task = (snapshot.source, snapshot.run_id), (snapshot.source, snapshot.task)
        previous, row = batch.runs[key] if key in batch.runs else _as_stored(found)
        context = Context(batch.since, batch.outcomes.get(task) or (Phase(found[3]) if found[3] else None))
        decision = decide(snapshot, previous, context)
        writes = Writes()
        if stored := decision.store:
            row = _save_run(writes, stored, previous, row, now)
            batch.runs[key] = RunState(stored, from_epoch(row[1]), from_epoch(row[2])), row
            if stored.terminal and context.task_last != stored.phase:  # unchanged: no write
                batch.outcomes[task] = stored.phase
        if decision.transition:
            writes.add("insert_transition", transition_row(decision.transition))
        if batch.counted is None and carriers(decision.deliveries):
            batch.counted = await suppression.counted_pairs(c)
        planned, carrying = await suppression.take(c, decision.deliveries, batch.counted)
        written = await self._write(c, writes, planned, now, claim)
        added = await suppression.count(c, planned, written, carrying, now)
        if batch.counted is not None:
            batch.counted |= added
        if decision.digest_items:
            items = [digest_item_row(i) for i in decision.digest_items]
            await c.executemany(SQL["insert_digest_item"], items)
        return replace(decision, deliveries=written)

    async def _write(
        self,
        c: Conn,
        writes: Writes,
        deliveries: list[Delivery],
        now: datetime,
        claim: Claim | None = None,
    ) -> list[Delivery]:
        """`writes` and the deliveries in one statement. Returns the deliveries written (not
        those whose key exists already); with `claim`, claimed as written (a duplicate uses
        up room too). A pending one wakes the replicas (a duplicate too: a wake-up too many
        costs a claim that finds nothing)."""
        planned = claimed_as_written(deliveries, now, claim)
        for d in planned:
            writes.add("insert_delivery", written_row(d, now, claim))
        if any(d.status == DeliveryStatus.PENDING for d in planned):
            writes.add("notify_due", (self._channel,))
        if not writes.parts:
            return []
        answer = await c.fetchrow(writes.statement(), *writes.params)
        assert answer is not None  # one row, always
        ids = set(answer[0])
        return [d for d in planned if d.id in ids]

    async def enqueue(self, transition: Transition, deliveries: list[Delivery]) -> int:
        writes = Writes()
        writes.add("insert_transition", transition_row(transition))
        async with self._tx() as c:
            written = await self._write(c, writes, deliveries, transition.observed_at)
        return len(written)

    async def watching_since(self, source: str, now: datetime) -> datetime:
        if (since := self._since.get(source)) is None:
            async with self._tx() as c:
                since = await _watching_since(c, source, now)
            self._since[source] = since  # committed now
        return since

    async def known_runs(self, source: str, run_ids: list[str]) -> dict[str, RunState]:
        rows = await self._fetch("known_runs", source, run_ids)
        return {state.snapshot.run_id: state for state in (run_state_from_row(tuple(r)) for r in rows)}

    async def active_runs(self, source: str) -> list[RunState]:
        return [run_state_from_row(tuple(r)) for r in await self._fetch("active_runs", source)]

    # -- delivery -------------------------------------------------------------------------

    async def claim(self, now: datetime, limit: int, lease: float, owner: str = "") -> list[Delivery]:
        t = epoch(now)
        async with self._tx() as c:
            await c.execute(SQL["hand_back_interrupted"], t, lease, INTERRUPTED, INTERRUPTED_EXCERPT)
            rows = await c.fetch(SQL["claim"], t, limit, t + lease, owner)
        return sorted((delivery_from_row(tuple(r)) for r in rows), key=lambda d: d.next_attempt_at)

    async def complete(self, delivery_id: str, attempts: list[Attempt], outcome: Outcome) -> None:
        await self._outcomes([(delivery_id, attempts, outcome)])

    async def _complete_many(self, rounds: list[Completion]) -> list[None]:
        attempts = [attempt_row(a) for _, made, _ in rounds for a in made]
        async with self._tx() as c:
            if attempts:
                await c.executemany(SQL["insert_attempt"], attempts)
            await c.executemany(SQL["complete"], [completion_row(i, len(a), o) for i, a, o in rounds])
            if any(outcome.status == DeliveryStatus.PENDING for _, _, outcome in rounds):
                await self._notify(c)  # due again later: replicas asleep longer wake to see when
        return [None] * len(rounds)

    async def defer(self, delivery_ids: list[str], until: datetime, group_key: str) -> None:
        async with self._tx() as c:
            await c.execute(SQL["defer"], epoch(until), group_key, delivery_ids)
            await self._notify(c)

    async def release(self, delivery_ids: list[str], attempts: Sequence[Attempt] = ()) -> None:
        async with self._tx() as c:
            for i in delivery_ids:
                mine = [a for a in attempts if a.delivery_id == i]
                if await c.execute(SQL["release"], len(mine), i) != "UPDATE 0" and mine:
                    await c.executemany(SQL["insert_attempt"], [attempt_row(a) for a in mine])
            await self._notify(c)

    async def replay(self, delivery_id: str, now: datetime) -> bool:
        async with self._tx() as c:
            done = await c.execute(SQL["replay"], epoch(now), delivery_id) == "UPDATE 1"
            if done:
                await self._notify(c)
        return done

    async def next_due(self) -> datetime | None:
        value = await self._pool.fetchval(SQL["next_due"])
        return from_epoch(value) if value is not None else None

    async def heartbeat(self, now: datetime) -> None:
        await self._pool.execute(SQL["heartbeat"], epoch(now))

    # -- reading --------------------------------------------------------------------------

    async def delivery(self, delivery_id: str) -> Delivery | None:
        rows = await self._fetch("delivery", delivery_id)
        return delivery_from_row(tuple(rows[0])) if rows else None

    async def deliveries(self, status: DeliveryStatus | None = None, limit: int = 100) -> list[Delivery]:
        if status:
            rows = await self._fetch("deliveries_with_status", status.value, limit)
        else:
            rows = await self._fetch("deliveries", limit)
        return [delivery_from_row(tuple(r)) for r in rows]

    async def attempts(self, delivery_id: str) -> list[Attempt]:
        return [attempt_from_row(tuple(r)) for r in await self._fetch("attempts", delivery_id)]

    async def runs(self, source: str | None = None, limit: int = 100) -> list[RunState]:
        if source:
            rows = await self._fetch("runs_of_source", source, limit)
        else:
            rows = await self._fetch("runs", limit)
        return [run_state_from_row(tuple(r)) for r in rows]

    async def transitions(self, limit: int = 100) -> list[Transition]:
        return [transition_from_row(tuple(r)) for r in await self._fetch("transitions", limit)]

    # -- silences -------------------------------------------------------------------------

    async def add_silence(self, silence: Silence) -> None:
        await self._pool.execute(SQL["insert_silence"], *silence_row(silence))

    async def silences(self, now: datetime | None = None) -> list[Silence]:
        if now:
            rows = await self._fetch("silences_active", epoch(now))
        else:
            rows = await self._fetch("silences")
        return [silence_from_row(tuple(r)) for r in rows]

    async def expire_silence(self, silence_id: str, now: datetime) -> bool:
        return await self._pool.execute(SQL["expire_silence"], epoch(now), silence_id) == "UPDATE 1"

    # -- digests --------------------------------------------------------------------------

    async def due_digests(self, now: datetime) -> list[tuple[str, str, datetime]]:
        rows = await self._fetch("due_digests", epoch(now))
        return [(r[0], r[1], from_epoch(r[2])) for r in rows]

    async def take_digest(
        self, rule: str, channel: str, window_end: datetime, build: BuildDigest
    ) -> Delivery | None:
        async with self._tx() as c:
            rows = await c.fetch(SQL["digest_window"], rule, channel, epoch(window_end))
            delivery = build([digest_item_from_json(r[1]) for r in rows])
            if delivery is not None:
                (delivery,), carrying = await suppression.take(c, [delivery])
                written = [delivery] if await _insert_delivery(c, delivery) else []
                await suppression.count(c, [delivery], written, carrying, delivery.created_at)
                if written:
                    await self._notify(c)
                else:
                    delivery = None  # this window was sent already
            await c.execute(SQL["digest_items_sent"], [r[0] for r in rows])
        return delivery

    async def sent_keys(self, keys: Sequence[str]) -> set[str]:
        return {r[0] for r in await self._fetch("existing_keys", list(keys))}


async def _watching_since(c: Conn, source: str, now: datetime) -> datetime:
    value = await c.fetchval(SQL["watch_source"], source, epoch(now))
    if value is None:  # another replica wrote it after this statement's snapshot: read it now
        value = await c.fetchval(SQL["watching_since"], source)
    return from_epoch(value)


@dataclass
class _Batch:
    """What a batch has decided so far: the store as its next snapshot sees it."""

    since: datetime = datetime.min.replace(tzinfo=UTC)  # the current snapshot's source's watching_since
    # the runs it wrote: their state, and their row's times as `_save_run` reads them
    runs: dict[tuple[str, str], tuple[RunState, tuple[Any, ...]]] = field(default_factory=dict)
    outcomes: dict[tuple[str, str], Phase] = field(default_factory=dict)  # written at the end
    # the (rule, channel) pairs with suppressed counts to tell, read at the batch's first
    # delivery that could tell them: a take costs a statement only where there is something
    counted: set[tuple[str, str]] | None = None


def _as_stored(found: tuple[Any, ...]) -> tuple[RunState | None, tuple[Any, ...] | None]:
    """A run's row of `run_states` -> its state and stored row, (None, None) if new."""
    row = found[:3] if found[0] is not None else None
    return (run_state_from_row(row) if row else None), row


def _save_run(
    writes: Writes,
    stored: Snapshot,
    previous: RunState | None,
    row: tuple[Any, ...] | None,  # previous as stored: its times are kept exact, not rounded via datetime
    now: datetime,
) -> tuple[None, float, float]:
    """The run's new state, with since when it is in its phase (kept while the phase is); its
    row as the rest of the batch sees it."""
    first_seen = row[1] if row else epoch(now)
    same_phase = previous is not None and previous.snapshot.phase == stored.phase
    phase_since = (row[2] or row[1]) if row and same_phase else epoch(now)
    writes.add("save_run", run_row(stored, first_seen, phase_since))
    return None, first_seen, phase_since


async def _insert_delivery(
    c: Conn, d: Delivery, lease_until: float | None = None, owner: str | None = None
) -> bool:
    """True when written, False when a delivery with its idempotency key exists already."""
    return await c.fetchval(SQL["insert_delivery"], *delivery_row(d, lease_until, owner)) is not None
