"""SQLite (WAL) backend: the embedded default, one file.

All SQL runs on one dedicated thread (sqlite3 connections are not shared across threads),
so callers on the event loop never block on disk. synchronous=FULL: a 2xx means the
snapshot, its transition and its deliveries survive a power loss.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

from relay.models import Attempt, Delivery, DeliveryStatus, Phase, RunState, Transition, Via
from relay.store.base import Decide, Decision, Outcome
from relay.store.codec import (
    dumps,
    epoch,
    from_epoch,
    message_from_json,
    message_to_json,
    snapshot_from_json,
    snapshot_to_json,
)
from relay.store.migrations import MIGRATIONS

T = TypeVar("T")

_DELIVERY_COLUMNS = (
    "id, transition_id, rule, channel, idempotency_key, message, payload, status, attempts,"
    " next_attempt_at, created_at, rounds, last_error"
)


class SqliteStore:
    def __init__(self, conn: sqlite3.Connection, executor: ThreadPoolExecutor) -> None:
        self._conn, self._executor = conn, executor

    @classmethod
    async def open(cls, path: str) -> SqliteStore:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        loop = asyncio.get_running_loop()
        conn = await loop.run_in_executor(executor, _connect, path)
        return cls(conn, executor)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def close(self) -> None:
        await self._run(self._conn.close)
        self._executor.shutdown(wait=True)

    # -- ingest ---------------------------------------------------------------------------

    async def record(self, snapshot: Any, decide: Decide, now: datetime) -> Decision:
        return await self._run(self._record, snapshot, decide, now)

    def _record(self, snapshot: Any, decide: Decide, now: datetime) -> Decision:
        c = self._conn
        c.execute("BEGIN IMMEDIATE")
        try:
            row = c.execute(
                "SELECT snapshot, first_seen_at FROM runs WHERE source=? AND run_id=?",
                (snapshot.source, snapshot.run_id),
            ).fetchone()
            previous = _state(row) if row else None
            decision = decide(previous, self._watching_since(snapshot.source, now))
            if stored := decision.store:
                first_seen = row[1] if row else epoch(now)
                c.execute(
                    "INSERT OR REPLACE INTO runs (source, run_id, task, status, phase, terminal,"
                    " updated_at, first_seen_at, snapshot) VALUES (?,?,?,?,?,?,?,?,?)",
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
                    ),
                )
            if decision.transition:
                _insert_transition(c, decision.transition)
            for d in decision.deliveries:
                _insert_delivery(c, d)
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        return decision

    async def watching_since(self, source: str, now: datetime) -> datetime:
        def query() -> datetime:
            with self._tx():
                return self._watching_since(source, now)

        return await self._run(query)

    def _watching_since(self, source: str, now: datetime) -> datetime:
        c = self._conn
        c.execute("INSERT OR IGNORE INTO sources (name, watching_since) VALUES (?, ?)", (source, epoch(now)))
        row = c.execute("SELECT watching_since FROM sources WHERE name=?", (source,)).fetchone()
        return from_epoch(row[0])

    async def known_runs(self, source: str, run_ids: list[str]) -> dict[str, RunState]:
        def query() -> dict[str, RunState]:
            found: dict[str, RunState] = {}
            for start in range(0, len(run_ids), 500):
                chunk = run_ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for row in self._conn.execute(
                    f"SELECT snapshot, first_seen_at FROM runs WHERE source=? AND run_id IN ({marks})",
                    (source, *chunk),
                ):
                    state = _state(row)
                    found[state.snapshot.run_id] = state
            return found

        return await self._run(query)

    async def active_runs(self, source: str) -> list[RunState]:
        rows = await self._run(
            self._all, "SELECT snapshot, first_seen_at FROM runs WHERE source=? AND terminal=0", (source,)
        )
        return [_state(r) for r in rows]

    # -- delivery -------------------------------------------------------------------------

    async def claim(self, now: datetime, limit: int, lease: float) -> list[Delivery]:
        t = epoch(now)
        rows = await self._run(
            self._all,
            (
                f"UPDATE deliveries SET status='sending', lease_until=? WHERE id IN ("
                " SELECT id FROM deliveries WHERE (status='pending' AND next_attempt_at<=?)"
                "  OR (status='sending' AND lease_until<=?) ORDER BY next_attempt_at LIMIT ?)"
                f" RETURNING {_DELIVERY_COLUMNS}"
            ),
            (t + lease, t, t, limit),
        )
        return sorted((_delivery(r) for r in rows), key=lambda d: d.next_attempt_at)

    async def complete(self, delivery_id: str, attempts: list[Attempt], outcome: Outcome) -> None:
        await self._run(self._complete, delivery_id, attempts, outcome)

    def _complete(self, delivery_id: str, attempts: list[Attempt], outcome: Outcome) -> None:
        with self._tx() as c:
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

    async def release(self, delivery_ids: list[str]) -> None:
        def update() -> None:
            with self._tx() as c:
                c.executemany(
                    "UPDATE deliveries SET status='pending', lease_until=NULL"
                    " WHERE id=? AND status='sending'",
                    [(i,) for i in delivery_ids],
                )

        await self._run(update)

    async def replay(self, delivery_id: str, now: datetime) -> bool:
        def update() -> bool:
            with self._tx() as c:
                cur = c.execute(
                    "UPDATE deliveries SET status='pending', rounds=0, next_attempt_at=?,"
                    " lease_until=NULL WHERE id=? AND status IN ('dead', 'sent')",
                    (epoch(now), delivery_id),
                )
                return cur.rowcount == 1

        return await self._run(update)

    async def next_due(self) -> datetime | None:
        rows = await self._run(
            self._all,
            (
                "SELECT MIN(t) FROM (SELECT MIN(next_attempt_at) AS t FROM deliveries"
                " WHERE status='pending' UNION ALL SELECT MIN(lease_until) FROM deliveries"
                " WHERE status='sending')"
            ),
            (),
        )
        return from_epoch(rows[0][0]) if rows and rows[0][0] is not None else None

    # -- reading --------------------------------------------------------------------------

    async def delivery(self, delivery_id: str) -> Delivery | None:
        rows = await self._run(
            self._all, f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE id=?", (delivery_id,)
        )
        return _delivery(rows[0]) if rows else None

    async def deliveries(self, status: DeliveryStatus | None = None, limit: int = 100) -> list[Delivery]:
        where = "WHERE status=?" if status else ""
        args: tuple[Any, ...] = (status.value, limit) if status else (limit,)
        rows = await self._run(
            self._all,
            f"SELECT {_DELIVERY_COLUMNS} FROM deliveries {where} ORDER BY created_at DESC, id LIMIT ?",
            args,
        )
        return [_delivery(r) for r in rows]

    async def attempts(self, delivery_id: str) -> list[Attempt]:
        rows = await self._run(
            self._all,
            "SELECT delivery_id, n, started_at, latency_ms, ok,"
            " http_status, reason, excerpt FROM attempts WHERE delivery_id=?"
            " ORDER BY n",
            (delivery_id,),
        )
        return [Attempt(r[0], r[1], from_epoch(r[2]), r[3], bool(r[4]), r[5], r[6], r[7]) for r in rows]

    async def runs(self, source: str | None = None, limit: int = 100) -> list[RunState]:
        where = "WHERE source=?" if source else ""
        args: tuple[Any, ...] = (source, limit) if source else (limit,)
        rows = await self._run(
            self._all,
            f"SELECT snapshot, first_seen_at FROM runs {where} ORDER BY updated_at DESC LIMIT ?",
            args,
        )
        return [_state(r) for r in rows]

    async def transitions(self, limit: int = 100) -> list[Transition]:
        rows = await self._run(
            self._all,
            "SELECT id, source, run_id, from_phase, to_phase,"
            " from_status, to_status, observed_at, via, backfill"
            " FROM transitions ORDER BY observed_at DESC LIMIT ?",
            (limit,),
        )
        return [_transition(r) for r in rows]

    # -- helpers --------------------------------------------------------------------------

    def _all(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        # autocommit: one statement is its own transaction; reads take no write lock
        return self._conn.execute(sql, args).fetchall()

    def _tx(self) -> _Transaction:
        return _Transaction(self._conn)


class _Transaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, kind: object, *_: object) -> None:
        self.conn.execute("ROLLBACK" if kind else "COMMIT")


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        conn.executescript(f"BEGIN; {script}; PRAGMA user_version={number}; COMMIT;")
    return conn


def _state(row: tuple[Any, ...]) -> RunState:
    return RunState(snapshot_from_json(row[0]), from_epoch(row[1]))


def _insert_transition(c: sqlite3.Connection, t: Transition) -> None:
    c.execute(
        "INSERT INTO transitions (id, source, run_id, from_phase, to_phase, from_status,"
        " to_status, observed_at, via, backfill) VALUES (?,?,?,?,?,?,?,?,?,?)",
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
        ),
    )


def _insert_delivery(c: sqlite3.Connection, d: Delivery) -> None:
    c.execute(
        f"INSERT OR IGNORE INTO deliveries ({_DELIVERY_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
        ),
    )


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
    )
