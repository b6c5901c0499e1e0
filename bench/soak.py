"""Soak: the relay under steady load with a short retention, its SQLite file sampled as it runs.

    .venv/bin/python -m bench.soak                      # 3 minutes, 100 updates/s (the default)
    .venv/bin/python -m bench.soak --minutes 30 --rate 200
    .venv/bin/python -m bench.soak --database postgresql://postgres@127.0.0.1:5432/test [--vacuum 30]

`relay serve` (one process, SQLite) takes `rate` run updates a second, each a new finished run
that notifies a recording sink: per update one run row, one transition, one delivery and one
attempt. rules.yaml keeps every kind of row `--retention` (default 1m, the least it allows) and
RELAY_PRUNE_EVERY runs the pruning job every 10 s. Every `--every` seconds the soak reads the
file's size, the WAL's, PRAGMA page_count and freelist_count, and the rows per table (a second,
read-only connection; WAL lets it read while the relay writes).

What it shows: once the first retention window has passed, pruning deletes as many rows as
ingest adds, freed pages go to the freelist and are reused, and page_count stops growing. The
last line compares the file at the end with the file when warm-up ended. On PostgreSQL
(`--database`) the size is that of the relay's tables with their indexes and TOAST, and
"dead" counts the deleted rows autovacuum has not yet made reusable.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg

from bench.procs import PY, Processes, free_port
from bench.stack import start_sink
from relay.durations import parse_duration

TABLES = ("runs", "transitions", "deliveries", "attempts")


@dataclass
class Sample:
    t: float
    sent: int
    received: int
    db_bytes: int
    wal_bytes: int
    pages: int
    free: int
    rows: dict[str, int]


def rules(path: Path, sink: str, retention: str) -> None:
    path.write_text(
        "sources:\n  bench: {kind: recoup, base_url: 'http://127.0.0.1:9/api'}\n"
        f"channels:\n  out: {{kind: webhook, url: '{sink}/soak'}}\n"
        "rules:\n  - {name: done, match: {phase: succeeded}, notify: [out]}\n"
        f"retention: {{sent: {retention}, dead: {retention}, transitions: {retention},"
        f" finished_runs: {retention}, seen: {retention}}}\n"
    )


def update(n: int) -> bytes:
    return json.dumps(
        {
            "id": f"soak-{n}",
            "taskIdentifier": "create-content",
            "status": "COMPLETED",
            "updatedAt": "2026-11-25T09:02:00Z",
            "finishedAt": "2026-11-25T09:02:00Z",
            "output": {"videoSourceUrl": "https://v3.fal.media/files/soak/final.mp4", "captionText": "soak"},
        }
    ).encode()


async def load(url: str, rate: float, seconds: float, counter: list[int]) -> None:
    """Open loop: update n is due at start + n/rate, whatever happened before."""
    start = time.monotonic()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32)) as session:
        pending: set[asyncio.Task[None]] = set()

        async def post(n: int) -> None:
            async with session.post(url, data=update(n), headers={"content-type": "application/json"}) as r:
                if r.status == 202:
                    counter[0] += 1

        n = 0
        while (now := time.monotonic() - start) < seconds:
            while n < now * rate:
                task = asyncio.create_task(post(n))
                pending.add(task)
                task.add_done_callback(pending.discard)
                n += 1
            await asyncio.sleep(0.005)
        await asyncio.gather(*pending)


Probe = Callable[[float, int, int], Awaitable[Sample]]


def sqlite_probe(db: Path) -> Probe:
    async def probe(t: float, sent: int, received: int) -> Sample:
        return await asyncio.to_thread(measure_sqlite, db, t, sent, received)

    return probe


def measure_sqlite(db: Path, t: float, sent: int, received: int) -> Sample:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        rows = {table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in TABLES}
    finally:
        conn.close()
    wal = db.with_name(db.name + "-wal")
    return Sample(
        t, sent, received, db.stat().st_size, wal.stat().st_size if wal.exists() else 0, pages, free, rows
    )


def pg_probe(server: str, schema: str) -> Probe:
    """The schema's tables with their indexes and TOAST (pg_total_relation_size), in 8 KiB
    pages, and their dead tuples (what autovacuum has not yet made reusable)."""

    async def probe(t: float, sent: int, received: int) -> Sample:
        conn = await asyncpg.connect(server)
        try:
            size = await conn.fetchval(
                "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'",
                schema,
            )
            dead = await conn.fetchval(
                "SELECT COALESCE(SUM(n_dead_tup), 0) FROM pg_stat_user_tables WHERE schemaname = $1", schema
            )
            rows = {
                table: await conn.fetchval(f'SELECT COUNT(*) FROM "{schema}".{table}') for table in TABLES
            }
        finally:
            await conn.close()
        return Sample(t, sent, received, int(size), 0, int(size) // 8192, int(dead), rows)

    return probe


async def sample_while(
    probe: Probe, sink: str, every: float, seconds: float, counter: list[int]
) -> list[Sample]:
    samples: list[Sample] = []
    start = time.monotonic()
    async with aiohttp.ClientSession() as session:
        while (t := time.monotonic() - start) < seconds + 0.5:
            async with session.get(f"{sink}/_count") as r:
                received = (await r.json())["received"]
            samples.append(await probe(t, counter[0], received))
            print(line(samples[-1]), flush=True)
            await asyncio.sleep(max(0.0, every - (time.monotonic() - start - t)))
    return samples


COLUMNS = "     runs  transitions  deliveries  attempts"
SQLITE_HEADER = "   t s    sent  received   db MiB  wal MiB   pages  freelist" + COLUMNS
PG_HEADER = "   t s    sent  received   db MiB  wal MiB   pages      dead" + COLUMNS


def line(s: Sample) -> str:
    r = s.rows
    return (
        f"{s.t:6.0f} {s.sent:7d} {s.received:9d} {s.db_bytes / 2**20:8.2f} {s.wal_bytes / 2**20:8.2f}"
        f" {s.pages:7d} {s.free:9d} {r['runs']:8d} {r['transitions']:12d} {r['deliveries']:11d}"
        f" {r['attempts']:9d}"
    )


async def soak(args: argparse.Namespace, workdir: Path) -> list[Sample]:
    if args.database is None:
        db = workdir / "relay.db"
        return await soak_on(args, workdir, f"sqlite:///{db}", sqlite_probe(db), SQLITE_HEADER)
    schema = f"soak_{secrets.token_hex(4)}"
    stop = asyncio.Event()
    vacuums = (
        asyncio.create_task(vacuum_every(args.database, schema, args.vacuum, stop)) if args.vacuum else None
    )
    try:
        url = f"{args.database}?schema={schema}"
        return await soak_on(args, workdir, url, pg_probe(args.database, schema), PG_HEADER)
    finally:
        stop.set()
        if vacuums is not None:
            await vacuums
        conn = await asyncpg.connect(args.database)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


async def vacuum_every(server: str, schema: str, every: float, stop: asyncio.Event) -> None:
    """What autovacuum does on a default PostgreSQL (the CI server here runs with it off):
    a plain VACUUM of the relay's tables, which takes no lock that blocks the relay."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), every)
    while not stop.is_set():
        conn = await asyncpg.connect(server)
        try:
            tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = $1", schema)
            for table in tables:
                await conn.execute(f'VACUUM "{schema}"."{table[0]}"')
        finally:
            await conn.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


async def soak_on(
    args: argparse.Namespace, workdir: Path, url: str, probe: Probe, header: str
) -> list[Sample]:
    config = workdir / "rules.yaml"
    seconds = args.minutes * 60
    with Processes(workdir) as procs:
        sink = start_sink(procs)
        rules(config, sink.url, args.retention)
        port = free_port()
        env = {
            "RELAY_LOG_LEVEL": "WARNING",
            "RELAY_CONFIG": str(config),
            "RELAY_DATABASE_URL": url,
            "RELAY_PRUNE_EVERY": args.prune_every,
        }
        argv = [PY, "-m", "relay.cli", "serve", "--port", str(port)]
        procs.start("relay", argv, env=env, port=port, health="/healthz", timeout=30)
        print(header, flush=True)
        counter = [0]
        loader = load(f"http://127.0.0.1:{port}/hooks/bench", args.rate, seconds, counter)
        _, samples = await asyncio.gather(loader, sample_while(probe, sink.url, args.every, seconds, counter))
    return samples


def verdict(samples: list[Sample], warmup: float) -> str:
    warm = next((s for s in samples if s.t >= warmup), samples[0])
    end = samples[-1]
    grown = (end.pages - warm.pages) / warm.pages * 100 if warm.pages else 0.0
    return (
        f"after warm-up ({warm.t:.0f} s) to the end ({end.t:.0f} s): {end.sent - warm.sent} more updates,"
        f" pages {warm.pages} -> {end.pages} ({grown:+.1f}%), file {warm.db_bytes / 2**20:.2f} ->"
        f" {end.db_bytes / 2**20:.2f} MiB, deliveries kept"
        f" {warm.rows['deliveries']} -> {end.rows['deliveries']}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--rate", type=float, default=100.0, help="run updates per second")
    parser.add_argument("--retention", default="1m", help="every kind of row (rules.yaml retention)")
    parser.add_argument("--prune-every", default="10s", help="RELAY_PRUNE_EVERY")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument(
        "--database",
        metavar="POSTGRESQL_URL",
        help="soak on PostgreSQL (a schema of its own, dropped after) instead of a SQLite file",
    )
    parser.add_argument(
        "--vacuum",
        type=float,
        metavar="SECONDS",
        help="PostgreSQL: VACUUM the relay's tables this often, for a server with autovacuum off",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="relay-soak-") as tmp:
        samples = asyncio.run(soak(args, Path(tmp)))
    # warm-up: one retention window and one prune interval, plus a sample's worth of slack
    warmup = parse_duration(args.retention) + parse_duration(args.prune_every) + args.every
    print(verdict(samples, warmup))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
