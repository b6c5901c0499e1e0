"""The PostgreSQL engine: a pool of asyncpg connections on one schema, the migrations, and the
LISTEN connection that hears wake-ups. It knows no table but schema_version.

No group commit of our own: with a pool, concurrent transactions commit on their own
connections and PostgreSQL already flushes concurrent commits together (one fsync for many);
batching records into one transaction would add a wait and a shared failure for the ~15% of
CPU it was measured to save (docs/benchmarks.md, "PostgreSQL driver: why asyncpg").
synchronous_commit stays on: a 2xx means the commit is on disk."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

from relay.errors import StoreError
from relay.store.postgres.migrations import MIGRATIONS
from relay.store.postgres.url import Target
from relay.store.versions import check_version

log = logging.getLogger(__name__)
Connection = asyncpg.Connection
# pg_advisory_xact_lock(1, hash of the schema): migrating it. queries.sql takes one-key locks
# (a run, a channel), a key space apart from this two-key one
LOCK_MIGRATE = 1
RECONNECT_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)  # the listener's waits between tries, then 5 s
LISTEN_WAIT = 10.0  # how long on_due waits for the listener's first connection
PING_EVERY, PING_TIMEOUT = 15.0, 5.0  # the listener's check that its connection still answers


def due_channel(schema: str) -> str:
    """NOTIFY is per database: relays on other schemas of it are not woken by ours."""
    return "relay_due" if schema == "public" else f"relay_due_{schema}"


async def open_pool(target: Target) -> asyncpg.Pool[asyncpg.Record]:
    """The schema created if missing and migrated, then a pool whose every connection has it
    as its search_path."""
    try:
        conn = await asyncpg.connect(target.dsn)
    except (OSError, asyncpg.PostgresError) as exc:
        raise StoreError(f"cannot connect to PostgreSQL: {exc}") from exc
    try:
        await migrate(conn, target.schema)
    finally:
        await conn.close()
    settings = {"search_path": target.schema, "synchronous_commit": "on"}
    pool = await asyncpg.create_pool(target.dsn, min_size=1, max_size=target.pool, server_settings=settings)
    assert pool is not None
    return pool


async def migrate(conn: Connection, schema: str) -> None:
    """Apply what is missing, in one transaction under an advisory lock: replicas starting
    together migrate once, the others wait and find it done. Refuses a newer schema."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", LOCK_MIGRATE, schema)
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')  # a checked identifier
        await conn.execute(f'SET LOCAL search_path TO "{schema}"')
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version"
            " (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)"
        )
        version = await conn.fetchval("SELECT version FROM schema_version") or 0
        check_version(version, len(MIGRATIONS))
        for script in MIGRATIONS[version:]:
            await conn.execute(script)
        await conn.execute(
            "INSERT INTO schema_version (id, version) VALUES (1, $1)"
            " ON CONFLICT (id) DO UPDATE SET version = excluded.version",
            len(MIGRATIONS),
        )


class Listener:
    """One connection of its own that LISTENs for wake-ups and calls every `wake` on each. If
    it drops (PostgreSQL restarted, a network cut), it reconnects, and wakes everyone once:
    a NOTIFY sent meanwhile was lost, so the workers look for themselves."""

    def __init__(self, dsn: str, channel: str) -> None:
        self._dsn, self._channel = dsn, channel
        self._wakes: list[Callable[[], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self.connects = 0  # how many times it (re)connected: tests watch the reconnect

    async def add(self, wake: Callable[[], None]) -> None:
        """Returns once LISTEN is in force (a NOTIFY committed after this wakes `wake`), or
        after LISTEN_WAIT if PostgreSQL does not answer: the listener keeps trying, and until
        it is back the workers find due deliveries by their timer."""
        self._wakes.append(wake)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        try:
            await asyncio.wait_for(self._ready.wait(), LISTEN_WAIT)
        except TimeoutError:
            log.warning("wake-up listener not connected yet; the workers poll until it is")

    def _wake(self, *_: Any) -> None:
        for wake in list(self._wakes):
            wake()

    async def _run(self) -> None:
        tries = 0
        while True:
            try:
                conn = await asyncpg.connect(self._dsn)
            except (OSError, asyncpg.PostgresError) as exc:
                delay = RECONNECT_DELAYS[min(tries, len(RECONNECT_DELAYS) - 1)]
                log.warning("wake-up listener cannot connect (%s); again in %.1fs", exc, delay)
                tries += 1
                await asyncio.sleep(delay)
                continue
            tries = 0
            await self._listen(conn)

    async def _listen(self, conn: Connection) -> None:
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _: lost.set())
        try:
            await conn.add_listener(self._channel, self._wake)
            self.connects += 1
            if self._ready.is_set():
                self._wake()  # back after a cut: what was notified meanwhile is unheard
            self._ready.set()
            await _until_lost(conn, lost)
            log.warning("wake-up listener lost its connection; reconnecting")
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("wake-up listener failed (%s); reconnecting", exc)
        finally:
            if not conn.is_closed():
                conn.terminate()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


async def _until_lost(conn: Connection, lost: asyncio.Event) -> None:
    """Until the connection ends, or stops answering: a cut that sends no FIN (a network
    partition) is found by a ping every PING_EVERY seconds."""
    while not lost.is_set():
        try:
            await asyncio.wait_for(lost.wait(), PING_EVERY)
        except TimeoutError:
            try:
                await asyncio.wait_for(conn.fetchval("SELECT 1"), PING_TIMEOUT)
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                return
