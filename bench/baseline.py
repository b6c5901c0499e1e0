"""The baseline: a bare Starlette app that parses the JSON and inserts one row into SQLite.

    BASELINE_MODE=tx|group|nodb BASELINE_DB=/tmp/b.db uvicorn bench.baseline:app --workers N

The physical limit for "Python + HTTP + durable write" on this machine, served exactly as the
relay is (uvicorn with httptools and uvloop, SQLite WAL + synchronous=FULL on a dedicated thread):
- tx: one transaction (one fsync) per request;
- group: group commit: requests queue, one transaction per batch (whatever arrived while the
  previous batch committed), each answered after its batch committed;
- nodb: parse and answer, no database at all.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench import nodelay

nodelay.patch()  # uvicorn --workers loses TCP_NODELAY (bench/nodelay.py)
MODE = os.environ.get("BASELINE_MODE", "tx")
DB = os.environ.get("BASELINE_DB", "baseline.db")
MAX_BATCH = 512


class Writer:
    def __init__(self, path: str) -> None:
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self.conn = self.executor.submit(self._connect, path).result()
        self.pending: list[tuple[tuple[str, str], asyncio.Future[None]]] = []
        self.flushing = False

    @staticmethod
    def _connect(path: str) -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, body TEXT NOT NULL)")
        return conn

    def _insert(self, rows: list[tuple[str, str]]) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.executemany("INSERT OR REPLACE INTO runs (run_id, body) VALUES (?, ?)", rows)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    async def one(self, row: tuple[str, str]) -> None:
        await asyncio.get_running_loop().run_in_executor(self.executor, self._insert, [row])

    async def grouped(self, row: tuple[str, str]) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.append((row, future))
        if not self.flushing:
            self.flushing = True
            asyncio.create_task(self._flush())
        await future

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self.pending:
                batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
                try:
                    await loop.run_in_executor(self.executor, self._insert, [r for r, _ in batch])
                except Exception as exc:
                    for _, f in batch:
                        f.set_exception(exc)
                else:
                    for _, f in batch:
                        f.set_result(None)
        finally:
            self.flushing = False

    def close(self) -> None:
        self.executor.submit(self.conn.close).result()
        self.executor.shutdown()


async def receive(request: Request) -> Response:
    body = await request.body()
    data = json.loads(body)
    writer: Writer | None = request.app.state.writer
    if writer is not None:
        row = (str(data["id"]), body.decode())
        await (writer.grouped(row) if MODE == "group" else writer.one(row))
    return JSONResponse({"accepted": 1}, status_code=202)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    app.state.writer = None if MODE == "nodb" else Writer(DB)
    try:
        yield
    finally:
        if app.state.writer is not None:
            app.state.writer.close()


app = Starlette(routes=[Route("/hooks/{source}", receive, methods=["POST"])], lifespan=lifespan)
