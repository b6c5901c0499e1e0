"""SqliteStore: the Store contract (relay/store/base.py) on the SQLite engine (engine.py)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from typing import Any

from relay.models import (
    INTERRUPTED,
    INTERRUPTED_EXCERPT,
    Attempt,
    Delivery,
    DeliveryStatus,
    Phase,
    RunState,
    Transition,
    Via,
)
from relay.silences import Silence
from relay.store.base import BuildDigest, Context, Decide, Decision, Outcome, claimable_at_once
from relay.store.codec import (
    digest_item_from_json,
    digest_item_to_json,
    dumps,
    epoch,
    from_epoch,
    message_from_json,
    message_to_json,
    snapshot_from_json,
    snapshot_to_json,
)
from relay.store.sqlite.engine import Engine

_DELIVERY_COLUMNS = (
    "id, transition_id, rule, channel, idempotency_key, message, payload, status, attempts,"
    " next_attempt_at, created_at, rounds, last_error, group_key, template_error"
)
_STATE_COLUMNS = "snapshot, first_seen_at, phase_since"
# a sending delivery whose lease ran out: its process died mid-send. On record (started when
# its lease began), then pending again, so that the claim below takes it like any other
_RECORD_INTERRUPTED = (
    "INSERT OR REPLACE INTO attempts (delivery_id, n, started_at, latency_ms, ok, reason, excerpt)"
    " SELECT id, attempts + 1, lease_until - ?, 0, 0, ?, ? FROM deliveries"
    " WHERE status='sending' AND lease_until<=?"
)
_HAND_BACK_INTERRUPTED = (
    "UPDATE deliveries SET status='pending', attempts=attempts+1, lease_until=NULL"
    " WHERE status='sending' AND lease_until<=?"
)
_CLAIM = (
    # a group is one send: claiming one member claims the others with it
    "WITH picked AS (SELECT id, group_key FROM deliveries"
    "  WHERE status='pending' AND next_attempt_at<=? ORDER BY next_attempt_at LIMIT ?)"
    " UPDATE deliveries SET status='sending', lease_until=? WHERE id IN (SELECT id FROM picked)"
    "  OR (status='pending' AND group_key IN"
    "      (SELECT group_key FROM picked WHERE group_key IS NOT NULL))"
    f" RETURNING {_DELIVERY_COLUMNS}"
)


class SqliteStore(Engine):
    def __init__(self, conn: sqlite3.Connection, executor: ThreadPoolExecutor) -> None:
        super().__init__(conn, executor)
        # a source's watching_since never changes once committed: read it once
        self._since: dict[str, datetime] = {}

    # -- ingest ---------------------------------------------------------------------------

    async def record(
        self, snapshot: Any, decide: Decide, now: datetime, lease: float | None = None
    ) -> Decision:
        decision, since = await self._write(lambda c: self._record(c, snapshot, decide, now, lease))
        self._since[snapshot.source] = since  # committed now
        return decision

    def _record(
        self, c: sqlite3.Connection, snapshot: Any, decide: Decide, now: datetime, lease: float | None
    ) -> tuple[Decision, datetime]:
        row = c.execute(
            f"SELECT {_STATE_COLUMNS} FROM runs WHERE source=? AND run_id=?",
            (snapshot.source, snapshot.run_id),
        ).fetchone()
        previous = _state(row) if row else None
        last = c.execute(
            "SELECT phase FROM task_outcomes WHERE source=? AND task=?", (snapshot.source, snapshot.task)
        ).fetchone()
        since = self._watching_since(c, snapshot.source, now)
        context = Context(since, Phase(last[0]) if last else None)
        decision = decide(previous, context)
        if stored := decision.store:
            first_seen = row[1] if row else epoch(now)
            same_phase = previous is not None and previous.snapshot.phase == stored.phase
            phase_since = (row[2] or row[1]) if row and same_phase else epoch(now)
            c.execute(
                "INSERT OR REPLACE INTO runs (source, run_id, task, status, phase, terminal,"
                " updated_at, first_seen_at, snapshot, phase_since) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    stored.source,
                    stored.run_id,
                    stored.task,
                    stored.status,
                    stored.phase.value,
                    int(stored.terminal),
                    epoch(stored.updated_at),
                    first_seen,
                    snapshot_to_json(stored),
                    phase_since,
                ),
            )
            if stored.terminal and context.task_last != stored.phase:  # unchanged: no write
                c.execute(
                    "INSERT OR REPLACE INTO task_outcomes (source, task, phase) VALUES (?,?,?)",
                    (stored.source, stored.task, stored.phase.value),
                )
        if decision.transition:
            _insert_transition(c, decision.transition)
        written = []
        for d in decision.deliveries:
            lease_until = None
            if lease is not None and claimable_at_once(d, now):
                d, lease_until = replace(d, status=DeliveryStatus.SENDING), epoch(now) + lease
            if _insert_delivery(c, d, lease_until):
                written.append(d)
        c.executemany(
            "INSERT INTO digest_items (rule, channel, window_end, item) VALUES (?,?,?,?)",
            [(i.rule, i.channel, epoch(i.window_end), digest_item_to_json(i)) for i in decision.digest_items],
        )
        return replace(decision, deliveries=written), since

    async def enqueue(self, transition: Transition, deliveries: list[Delivery]) -> int:
        def write(c: sqlite3.Connection) -> int:
            if not c.execute("SELECT 1 FROM transitions WHERE id=?", (transition.id,)).fetchone():
                _insert_transition(c, transition)
            return sum(_insert_delivery(c, d) for d in deliveries)

        return await self._write(write)

    # -- silences -------------------------------------------------------------------------

    async def add_silence(self, silence: Silence) -> None:
        await self._write(
            lambda c: c.execute(
                "INSERT INTO silences (id, matchers, starts_at, ends_at, comment, created_by)"
                " VALUES (?,?,?,?,?,?)",
                (
                    silence.id,
                    dumps(dict(silence.matchers)),
                    epoch(silence.starts_at),
                    epoch(silence.ends_at),
                    silence.comment,
                    silence.created_by,
                ),
            )
        )

    async def silences(self, now: datetime | None = None) -> list[Silence]:
        where, args = ("WHERE ends_at > ?", (epoch(now),)) if now else ("", ())
        rows = await self._select(
            f"SELECT id, matchers, starts_at, ends_at, comment, created_by FROM silences {where}"
            " ORDER BY starts_at, id",
            args,
        )
        return [
            Silence(
                r[0], tuple(sorted(json.loads(r[1]).items())), from_epoch(r[2]), from_epoch(r[3]), r[4], r[5]
            )
            for r in rows
        ]

    async def expire_silence(self, silence_id: str, now: datetime) -> bool:
        def write(c: sqlite3.Connection) -> bool:
            sql = "UPDATE silences SET ends_at=? WHERE id=? AND ends_at > ?"
            return c.execute(sql, (epoch(now), silence_id, epoch(now))).rowcount == 1

        return await self._write(write)

    # -- digests --------------------------------------------------------------------------

    async def due_digests(self, now: datetime) -> list[tuple[str, str, datetime]]:
        rows = await self._select(
            "SELECT DISTINCT rule, channel, window_end FROM digest_items WHERE sent=0 AND window_end<=?"
            " ORDER BY window_end, rule, channel",
            (epoch(now),),
        )
        return [(r[0], r[1], from_epoch(r[2])) for r in rows]

    async def take_digest(
        self, rule: str, channel: str, window_end: datetime, build: BuildDigest
    ) -> Delivery | None:
        def write(c: sqlite3.Connection) -> Delivery | None:
            rows = c.execute(
                "SELECT id, item FROM digest_items WHERE sent=0 AND rule=? AND channel=? AND window_end=?"
                " ORDER BY id",
                (rule, channel, epoch(window_end)),
            ).fetchall()
            delivery = build([digest_item_from_json(r[1]) for r in rows])
            if delivery is not None and not _insert_delivery(c, delivery):
                delivery = None  # this window was sent already
            c.executemany("UPDATE digest_items SET sent=1 WHERE id=?", [(r[0],) for r in rows])
            return delivery

        return await self._write(write)

    async def watching_since(self, source: str, now: datetime) -> datetime:
        since = await self._write(lambda c: self._watching_since(c, source, now))
        self._since[source] = since  # committed now
        return since

    def _watching_since(self, c: sqlite3.Connection, source: str, now: datetime) -> datetime:
        known = self._since.get(source)
        if known is None:
            sql = "INSERT OR IGNORE INTO sources (name, watching_since) VALUES (?, ?)"
            c.execute(sql, (source, epoch(now)))
            row = c.execute("SELECT watching_since FROM sources WHERE name=?", (source,)).fetchone()
            known = from_epoch(row[0])
        return known

    async def known_runs(self, source: str, run_ids: list[str]) -> dict[str, RunState]:
        def query() -> dict[str, RunState]:
            found: dict[str, RunState] = {}
            for start in range(0, len(run_ids), 500):
                chunk = run_ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for row in self._conn.execute(
                    f"SELECT {_STATE_COLUMNS} FROM runs WHERE source=? AND run_id IN ({marks})",
                    (source, *chunk),
                ):
                    state = _state(row)
                    found[state.snapshot.run_id] = state
            return found

        return await self._read(query)

    async def active_runs(self, source: str) -> list[RunState]:
        rows = await self._select(
            f"SELECT {_STATE_COLUMNS} FROM runs WHERE source=? AND terminal=0", (source,)
        )
        return [_state(r) for r in rows]

    # -- delivery -------------------------------------------------------------------------

    async def claim(self, now: datetime, limit: int, lease: float) -> list[Delivery]:
        t = epoch(now)

        def claim(c: sqlite3.Connection) -> list[Any]:
            c.execute(_RECORD_INTERRUPTED, (lease, INTERRUPTED, INTERRUPTED_EXCERPT, t))
            c.execute(_HAND_BACK_INTERRUPTED, (t,))
            return c.execute(_CLAIM, (t, limit, t + lease)).fetchall()

        # no fsync of its own: a power loss that undoes a claim leaves the delivery pending, where
        # a crash would leave it anyway (sent again with the same id, as after any crash mid-send)
        rows = await self._write(claim, durable=False)
        return sorted((_delivery(r) for r in rows), key=lambda d: d.next_attempt_at)

    async def complete(self, delivery_id: str, attempts: list[Attempt], outcome: Outcome) -> None:
        await self._write(lambda c: _complete(c, delivery_id, attempts, outcome))

    async def defer(self, delivery_ids: list[str], until: datetime, group_key: str) -> None:
        def update(c: sqlite3.Connection) -> None:
            c.executemany(
                "UPDATE deliveries SET status='pending', lease_until=NULL, next_attempt_at=?, group_key=?"
                " WHERE id=? AND status='sending'",
                [(epoch(until), group_key, i) for i in delivery_ids],
            )

        await self._write(update)

    async def release(self, delivery_ids: list[str], attempts: Sequence[Attempt] = ()) -> None:
        def update(c: sqlite3.Connection) -> None:
            for i in delivery_ids:
                mine = [a for a in attempts if a.delivery_id == i]
                if c.execute(
                    "UPDATE deliveries SET status='pending', lease_until=NULL, attempts=attempts+?"
                    " WHERE id=? AND status='sending'",
                    (len(mine), i),
                ).rowcount:
                    _insert_attempts(c, mine)

        await self._write(update)

    async def replay(self, delivery_id: str, now: datetime) -> bool:
        def update(c: sqlite3.Connection) -> bool:
            cur = c.execute(
                "UPDATE deliveries SET status='pending', rounds=0, next_attempt_at=?,"
                " lease_until=NULL WHERE id=? AND status IN ('dead', 'sent')",
                (epoch(now), delivery_id),
            )
            return cur.rowcount == 1

        return await self._write(update)

    async def next_due(self) -> datetime | None:
        rows = await self._select(
            (
                "SELECT MIN(t) FROM (SELECT MIN(next_attempt_at) AS t FROM deliveries"
                " WHERE status='pending' UNION ALL SELECT MIN(lease_until) FROM deliveries"
                " WHERE status='sending')"
            ),
            (),
        )
        return from_epoch(rows[0][0]) if rows and rows[0][0] is not None else None

    async def heartbeat(self, now: datetime) -> None:
        # joins the next batch: under load it costs a statement, not a commit of its own
        sql = "INSERT OR REPLACE INTO heartbeat (id, at) VALUES (1, ?)"
        await self._write(lambda c: c.execute(sql, (epoch(now),)))

    # -- reading --------------------------------------------------------------------------

    async def delivery(self, delivery_id: str) -> Delivery | None:
        rows = await self._select(f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE id=?", (delivery_id,))
        return _delivery(rows[0]) if rows else None

    async def deliveries(self, status: DeliveryStatus | None = None, limit: int = 100) -> list[Delivery]:
        where = "WHERE status=?" if status else ""
        args: tuple[Any, ...] = (status.value, limit) if status else (limit,)
        rows = await self._select(
            f"SELECT {_DELIVERY_COLUMNS} FROM deliveries {where} ORDER BY created_at DESC, id LIMIT ?",
            args,
        )
        return [_delivery(r) for r in rows]

    async def attempts(self, delivery_id: str) -> list[Attempt]:
        rows = await self._select(
            "SELECT delivery_id, n, started_at, latency_ms, ok,"
            " http_status, reason, excerpt FROM attempts WHERE delivery_id=?"
            " ORDER BY n",
            (delivery_id,),
        )
        return [Attempt(r[0], r[1], from_epoch(r[2]), r[3], bool(r[4]), r[5], r[6], r[7]) for r in rows]

    async def runs(self, source: str | None = None, limit: int = 100) -> list[RunState]:
        where = "WHERE source=?" if source else ""
        args: tuple[Any, ...] = (source, limit) if source else (limit,)
        rows = await self._select(
            f"SELECT {_STATE_COLUMNS} FROM runs {where} ORDER BY updated_at DESC LIMIT ?",
            args,
        )
        return [_state(r) for r in rows]

    async def transitions(self, limit: int = 100) -> list[Transition]:
        rows = await self._select(
            "SELECT id, source, run_id, from_phase, to_phase,"
            " from_status, to_status, observed_at, via, backfill, skipped"
            " FROM transitions ORDER BY observed_at DESC, rowid DESC LIMIT ?",
            (limit,),
        )
        return [_transition(r) for r in rows]


def _complete(c: sqlite3.Connection, delivery_id: str, attempts: list[Attempt], outcome: Outcome) -> None:
    _insert_attempts(c, attempts)
    failed = outcome.status != DeliveryStatus.SENT
    c.execute(
        "UPDATE deliveries SET status=?, attempts=attempts+?, rounds=rounds+?,"
        " next_attempt_at=COALESCE(?, next_attempt_at), last_error=?, lease_until=NULL"
        " WHERE id=?",
        (
            outcome.status.value,
            len(attempts),
            int(failed),
            epoch(outcome.next_attempt_at) if outcome.next_attempt_at else None,
            outcome.error,
            delivery_id,
        ),
    )


def _insert_attempts(c: sqlite3.Connection, attempts: Sequence[Attempt]) -> None:
    c.executemany(
        "INSERT OR REPLACE INTO attempts (delivery_id, n, started_at, latency_ms, ok,"
        " http_status, reason, excerpt) VALUES (?,?,?,?,?,?,?,?)",
        [
            (
                a.delivery_id,
                a.n,
                epoch(a.started_at),
                a.latency_ms,
                int(a.ok),
                a.http_status,
                a.reason,
                a.excerpt,
            )
            for a in attempts
        ],
    )


def _state(row: tuple[Any, ...]) -> RunState:
    return RunState(snapshot_from_json(row[0]), from_epoch(row[1]), from_epoch(row[2] or row[1]))


def _insert_transition(c: sqlite3.Connection, t: Transition) -> None:
    c.execute(
        "INSERT INTO transitions (id, source, run_id, from_phase, to_phase, from_status,"
        " to_status, observed_at, via, backfill, skipped) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (
            t.id,
            t.source,
            t.run_id,
            t.from_phase.value if t.from_phase else None,
            t.to_phase.value,
            t.from_status,
            t.to_status,
            epoch(t.observed_at),
            t.via.value,
            int(t.backfill),
            ",".join(p.value for p in t.skipped),
        ),
    )


def _insert_delivery(c: sqlite3.Connection, d: Delivery, lease_until: float | None = None) -> int:
    """1 when written, 0 when a delivery with its idempotency key exists already."""
    return c.execute(
        f"INSERT OR IGNORE INTO deliveries ({_DELIVERY_COLUMNS}, lease_until)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            d.id,
            d.transition_id,
            d.rule,
            d.channel,
            d.idempotency_key,
            message_to_json(d.message),
            dumps(d.payload),
            d.status.value,
            d.attempts,
            epoch(d.next_attempt_at),
            epoch(d.created_at),
            d.rounds,
            d.last_error,
            d.group_key,
            d.template_error,
            lease_until,
        ),
    ).rowcount


def _delivery(r: tuple[Any, ...]) -> Delivery:
    import json

    return Delivery(
        id=r[0],
        transition_id=r[1],
        rule=r[2],
        channel=r[3],
        idempotency_key=r[4],
        message=message_from_json(r[5]),
        payload=json.loads(r[6]),
        status=DeliveryStatus(r[7]),
        attempts=r[8],
        next_attempt_at=from_epoch(r[9]),
        created_at=from_epoch(r[10]),
        rounds=r[11],
        last_error=r[12],
        group_key=r[13],
        template_error=r[14],
    )


def _transition(r: tuple[Any, ...]) -> Transition:
    return Transition(
        id=r[0],
        source=r[1],
        run_id=r[2],
        from_phase=Phase(r[3]) if r[3] else None,
        to_phase=Phase(r[4]),
        from_status=r[5],
        to_status=r[6],
        observed_at=from_epoch(r[7]),
        via=Via(r[8]),
        backfill=bool(r[9]),
        skipped=tuple(Phase(p) for p in r[10].split(",") if p),
    )
