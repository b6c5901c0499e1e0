"""The SQLite engine: one connection (WAL), group commit, COMMIT off the event loop. It knows
no table: the store (store.py) hands it writes, functions of the connection.

Statements run on the event loop's thread and only COMMIT (the fsync) runs on a dedicated
thread, so the loop never waits for the disk. Statements on another thread would cost more
than they save: the two threads hand the GIL back and forth around every sqlite3 call, and
each hand-off can wait a whole switch interval (docs/benchmarks.md measured it). One
connection, used by one batch at a time (`_busy`): reads wait while a batch is written and
committed, so they never see a write that is not yet durable. synchronous=FULL: a 2xx means
the snapshot, its transition and its deliveries survive a power loss.

Group commit: writes queue up and run as one transaction per batch, the batch being whatever
queued while the previous one committed (at most MAX_BATCH), so one fsync covers many callers
and an idle store adds no wait. Each write runs inside its own SAVEPOINT: one that fails is
rolled back alone and only its caller sees the error. Every caller is answered after its batch
has committed.

A write may be `durable=False` (a claim): a power loss that undoes it must leave nothing
worse than a crash would. A batch of such writes alone commits with synchronous=NORMAL, its
WAL frames made durable by the next FULL commit; any durable write in the batch makes it FULL.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Self, TypeVar

from relay.errors import StoreError
from relay.store.migrations import MIGRATIONS
from relay.store.versions import check_version

T = TypeVar("T")
Write = Callable[[sqlite3.Connection], Any]
Row = tuple[Any, ...]
BUSY_TIMEOUT_MS = 30_000  # how long to wait for another process's write lock
MAX_BATCH = 128  # writes per transaction: bounds how long one batch holds the thread


class Engine:
    """One connection and its write queue; the store builds on `_write` and `_select`."""

    def __init__(self, conn: sqlite3.Connection, executor: ThreadPoolExecutor) -> None:
        self._conn, self._executor = conn, executor
        self._queue: list[tuple[Write, asyncio.Future[Any], bool]] = []  # (write, caller, durable)
        self._busy = asyncio.Lock()  # held from a batch's first statement until its COMMIT returned
        self._flusher: asyncio.Task[None] | None = None
        self.commits = 0  # transactions committed by the write queue (batches)

    @classmethod
    async def open(cls, path: str) -> Self:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        try:
            conn = await asyncio.get_running_loop().run_in_executor(executor, connect, path)
        except StoreError:
            executor.shutdown(wait=False)
            raise
        except sqlite3.Error as exc:
            executor.shutdown(wait=False)
            raise StoreError(f"cannot open the database {path}: {exc}") from exc
        return cls(conn, executor)

    async def close(self) -> None:
        if self._flusher is not None:
            await asyncio.shield(self._flusher)
        await self._run(self._conn.close)
        self._executor.shutdown(wait=True)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _select(self, sql: str, params: Row) -> list[Row]:
        # autocommit: one statement is its own transaction; reads take no write lock
        async with self._busy:
            return self._conn.execute(sql, params).fetchall()

    # -- group commit ---------------------------------------------------------------------

    async def _write(self, fn: Callable[[sqlite3.Connection], T], *, durable: bool = True) -> T:
        """Run `fn(conn)` in the next batch's transaction; its result once that committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.append((fn, future, durable))
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                try:
                    durable = any(d for _, _, d in batch)
                    async with self._busy:
                        results = await self._commit([fn for fn, _, _ in batch], durable)
                except asyncio.CancelledError:  # the loop is going away: so are the callers
                    for _, future, _ in batch + self._queue:
                        future.cancel()
                    raise
                except BaseException as exc:  # the transaction failed: every caller hears it
                    results = [(False, exc)] * len(batch)
                _answer([future for _, future, _ in batch], results)
        finally:
            self._flusher = None

    async def _commit(self, writes: list[Write], durable: bool = True) -> list[tuple[bool, Any]]:
        c = self._conn
        if not durable:
            c.execute("PRAGMA synchronous=NORMAL")
        await self._begin(c)
        try:
            results = _apply(c, writes)
            await self._run(c.execute, "COMMIT")
        except BaseException:
            if c.in_transaction:
                await self._run(c.execute, "ROLLBACK")
            raise
        finally:
            if not durable:
                c.execute("PRAGMA synchronous=FULL")
        self.commits += 1
        return results

    async def _begin(self, c: sqlite3.Connection) -> None:
        """Take the write lock; if another process holds it, wait for it off the loop."""
        c.execute("PRAGMA busy_timeout=0")
        try:
            c.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if c.in_transaction or "locked" not in str(exc):
                raise
            c.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            await self._run(c.execute, "BEGIN IMMEDIATE")
        finally:
            c.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


def _apply(c: sqlite3.Connection, writes: list[Write]) -> list[tuple[bool, Any]]:
    """Each write in its own SAVEPOINT: one that fails is rolled back alone."""
    results: list[tuple[bool, Any]] = []
    for fn in writes:
        c.execute("SAVEPOINT write")
        try:
            results.append((True, fn(c)))
        except Exception as exc:
            if not c.in_transaction:  # SQLite rolled the whole batch back (I/O, full)
                raise
            c.execute("ROLLBACK TO write")
            results.append((False, exc))
        c.execute("RELEASE write")
    return results


def _answer(futures: list[asyncio.Future[Any]], results: list[tuple[bool, Any]]) -> None:
    for future, (ok, value) in zip(futures, results, strict=True):
        if future.done():  # the caller was cancelled; the write happened all the same
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def connect(path: str) -> sqlite3.Connection:
    """A connection in WAL mode with every migration applied."""
    timeout = BUSY_TIMEOUT_MS / 1000
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=timeout)
    try:
        _switch_to_wal(conn, timeout)
        conn.execute("PRAGMA synchronous=FULL")
        # foreign keys off while migrating: a table rebuild drops and renames tables others refer to
        _migrate(conn)
        conn.execute("PRAGMA foreign_keys=ON")
    except (sqlite3.Error, StoreError):
        conn.close()
        raise
    return conn


def _switch_to_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """Processes opening a new file together can be told "database is locked" while another
    one switches its journal mode, a wait SQLite's busy timeout does not always cover."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _migrate(conn: sqlite3.Connection) -> None:
    """Apply what is missing, in one transaction that holds the write lock from the moment the
    version is read: processes starting together on a new file (uvicorn --workers) migrate
    once, the others wait and find it done."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        check_version(version, len(MIGRATIONS))
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={number}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _statements(script: str) -> list[str]:
    found, pending = [], ""
    for part in script.split(";"):
        pending += part + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n\t;"):
                found.append(pending)
            pending = ""
    if pending.strip(" \n\t;"):
        found.append(pending)
    return found
