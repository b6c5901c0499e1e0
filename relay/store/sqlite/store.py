"""SqliteStore: the Store contract (relay/store/base.py) in named statements (queries.sql),
written through the group-commit engine (engine.py), rows mapped by mappers.py."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from relay.models import (
    INTERRUPTED,
    INTERRUPTED_EXCERPT,
    Attempt,
    Delivery,
    DeliveryStatus,
    RunState,
    Snapshot,
    Transition,
)
from relay.silences import Silence
from relay.store.base import BuildDigest, Claim, DecideEach, Decision, Outcome, RecordsOne
from relay.store.codec import digest_item_from_json, epoch, from_epoch
from relay.store.sqlite import batch, suppression
from relay.store.sqlite.console import ConsoleReads
from relay.store.sqlite.coordination import Coordination
from relay.store.sqlite.engine import Row
from relay.store.sqlite.mappers import (
    attempt_from_row,
    attempt_row,
    completion_row,
    delivery_from_row,
    delivery_row,
    run_state_from_row,
    silence_from_row,
    silence_row,
    transition_from_row,
    transition_row,
)
from relay.store.sqlite.queries import SQL
from relay.store.sqlite.suppression import SuppressionReads
from relay.store.sqlite.upkeep import Upkeep


class SqliteStore(Coordination, Upkeep, ConsoleReads, SuppressionReads, RecordsOne):
    writers = 1  # one transaction at a time

    def __init__(self, conn: sqlite3.Connection, executor: ThreadPoolExecutor) -> None:
        super().__init__(conn, executor)
        # a source's watching_since never changes once committed: read it once
        self._since: dict[str, datetime] = {}
        self._wakers = []

    # -- ingest ---------------------------------------------------------------------------

    async def record_many(
        self,
        snapshots: Sequence[Snapshot],
        decide: DecideEach,
        now: datetime,
        claim: Claim | None = None,
    ) -> list[Decision]:
        sinces: dict[str, datetime] = {}  # the sources' watching_since, read in the write

        def since(c: sqlite3.Connection, source: str, now: datetime) -> datetime:
            if source not in sinces:
                sinces[source] = self._watching_since(c, source, now)
            return sinces[source]

        def write(c: sqlite3.Connection) -> list[Decision]:
            return batch.record_many(c, snapshots, decide, now, since, claim)

        decisions = await self._write(write)
        self._since.update(sinces)  # committed now
        if any(d.status == DeliveryStatus.PENDING for x in decisions for d in x.deliveries):
            self._woke()
        return decisions

    async def enqueue(self, transition: Transition, deliveries: list[Delivery]) -> int:
        def write(c: sqlite3.Connection) -> int:
            if not c.execute(SQL["transition_exists"], (transition.id,)).fetchone():
                c.execute(SQL["insert_transition"], transition_row(transition))
            return sum(_insert_delivery(c, d) for d in deliveries)

        written: int = await self._write(write)
        if written:
            self._woke()
        return written

    async def watching_since(self, source: str, now: datetime) -> datetime:
        since = await self._write(lambda c: self._watching_since(c, source, now))
        self._since[source] = since  # committed now
        return since

    def _watching_since(self, c: sqlite3.Connection, source: str, now: datetime) -> datetime:
        known = self._since.get(source)
        if known is None:
            c.execute(SQL["watch_source"], (source, epoch(now)))
            known = from_epoch(c.execute(SQL["watching_since"], (source,)).fetchone()[0])
        return known

    async def known_runs(self, source: str, run_ids: list[str]) -> dict[str, RunState]:
        rows = await self._select(SQL["known_runs"], (source, json.dumps(run_ids)))
        return {state.snapshot.run_id: state for state in map(run_state_from_row, rows)}

    async def active_runs(self, source: str) -> list[RunState]:
        return [run_state_from_row(r) for r in await self._select(SQL["active_runs"], (source,))]

    # -- delivery -------------------------------------------------------------------------

    async def claim(self, now: datetime, limit: int, lease: float, owner: str = "") -> list[Delivery]:
        t = epoch(now)

        def claim(c: sqlite3.Connection) -> list[Row]:
            c.execute(SQL["record_interrupted"], (lease, INTERRUPTED, INTERRUPTED_EXCERPT, t))
            c.execute(SQL["hand_back_interrupted"], (t,))
            return c.execute(SQL["claim"], (t, limit, t + lease, owner)).fetchall()

        # no fsync of its own: a power loss that undoes a claim leaves the delivery pending, where
        # a crash would leave it anyway (sent again with the same id, as after any crash mid-send)
        rows = await self._write(claim, durable=False)
        return sorted(map(delivery_from_row, rows), key=lambda d: d.next_attempt_at)

    async def complete(self, delivery_id: str, attempts: list[Attempt], outcome: Outcome) -> None:
        def write(c: sqlite3.Connection) -> None:
            c.executemany(SQL["insert_attempt"], map(attempt_row, attempts))
            c.execute(SQL["complete"], completion_row(delivery_id, len(attempts), outcome))

        await self._write(write)

    async def defer(self, delivery_ids: list[str], until: datetime, group_key: str) -> None:
        rows = [(epoch(until), group_key, i) for i in delivery_ids]
        await self._write(lambda c: c.executemany(SQL["defer"], rows))

    async def release(self, delivery_ids: list[str], attempts: Sequence[Attempt] = ()) -> None:
        def write(c: sqlite3.Connection) -> None:
            for i in delivery_ids:
                mine = [a for a in attempts if a.delivery_id == i]
                if c.execute(SQL["release"], (len(mine), i)).rowcount:
                    c.executemany(SQL["insert_attempt"], map(attempt_row, mine))

        await self._write(write)
        self._woke()

    async def replay(self, delivery_id: str, now: datetime) -> bool:
        def write(c: sqlite3.Connection) -> bool:
            return c.execute(SQL["replay"], (epoch(now), delivery_id)).rowcount == 1

        replayed: bool = await self._write(write)
        if replayed:
            self._woke()
        return replayed

    async def next_due(self) -> datetime | None:
        rows = await self._select(SQL["next_due"], ())
        return from_epoch(rows[0][0]) if rows and rows[0][0] is not None else None

    async def heartbeat(self, now: datetime) -> None:
        # joins the next batch: under load it costs a statement, not a commit of its own
        await self._write(lambda c: c.execute(SQL["heartbeat"], (epoch(now),)))

    # -- reading --------------------------------------------------------------------------

    async def delivery(self, delivery_id: str) -> Delivery | None:
        rows = await self._select(SQL["delivery"], (delivery_id,))
        return delivery_from_row(rows[0]) if rows else None

    async def deliveries(self, status: DeliveryStatus | None = None, limit: int = 100) -> list[Delivery]:
        if status:
            rows = await self._select(SQL["deliveries_with_status"], (status.value, limit))
        else:
            rows = await self._select(SQL["deliveries"], (limit,))
        return [delivery_from_row(r) for r in rows]

    async def attempts(self, delivery_id: str) -> list[Attempt]:
        return [attempt_from_row(r) for r in await self._select(SQL["attempts"], (delivery_id,))]

    async def runs(self, source: str | None = None, limit: int = 100) -> list[RunState]:
        if source:
            rows = await self._select(SQL["runs_of_source"], (source, limit))
        else:
            rows = await self._select(SQL["runs"], (limit,))
        return [run_state_from_row(r) for r in rows]

    async def transitions(self, limit: int = 100) -> list[Transition]:
        return [transition_from_row(r) for r in await self._select(SQL["transitions"], (limit,))]

    # -- silences -------------------------------------------------------------------------

    async def add_silence(self, silence: Silence) -> None:
        await self._write(lambda c: c.execute(SQL["insert_silence"], silence_row(silence)))

    async def silences(self, now: datetime | None = None) -> list[Silence]:
        if now:
            rows = await self._select(SQL["silences_active"], (epoch(now),))
        else:
            rows = await self._select(SQL["silences"], ())
        return [silence_from_row(r) for r in rows]

    async def expire_silence(self, silence_id: str, now: datetime) -> bool:
        def write(c: sqlite3.Connection) -> bool:
            return c.execute(SQL["expire_silence"], (epoch(now), silence_id, epoch(now))).rowcount == 1

        return await self._write(write)

    # -- digests --------------------------------------------------------------------------

    async def due_digests(self, now: datetime) -> list[tuple[str, str, datetime]]:
        rows = await self._select(SQL["due_digests"], (epoch(now),))
        return [(r[0], r[1], from_epoch(r[2])) for r in rows]

    async def take_digest(
        self, rule: str, channel: str, window_end: datetime, build: BuildDigest
    ) -> Delivery | None:
        window = (rule, channel, epoch(window_end))

        def write(c: sqlite3.Connection) -> Delivery | None:
            rows = c.execute(SQL["digest_window"], window).fetchall()
            delivery = build([digest_item_from_json(r[1]) for r in rows])
            if delivery is not None:
                (delivery,), carrying = suppression.take(c, [delivery])
                written = [delivery] if _insert_delivery(c, delivery) else []
                suppression.count(c, [delivery], written, carrying, delivery.created_at)
                if not written:
                    delivery = None  # this window was sent already
            c.executemany(SQL["digest_item_sent"], [(r[0],) for r in rows])
            return delivery

        taken = await self._write(write)
        if taken:
            self._woke()
        return taken

    async def sent_keys(self, keys: Sequence[str]) -> set[str]:
        return {r[0] for r in await self._select(SQL["existing_keys"], (json.dumps(list(keys)),))}


def _insert_delivery(
    c: sqlite3.Connection, d: Delivery, lease_until: float | None = None, owner: str = ""
) -> int:
    """1 when written, 0 when a delivery with its idempotency key exists already."""
    return c.execute(SQL["insert_delivery"], delivery_row(d, lease_until, owner)).rowcount
