"""PostgreSQL drivers, measured on the relay's write path: asyncpg against psycopg 3 (with
psycopg_pool), each running the statements of one `record()` (relay/store/postgres/queries.sql:
the run's advisory lock, its state and its task's last phase, the run's new state, its
transition, one delivery and the wake-up NOTIFY) in one transaction, committed with
synchronous_commit on, one statement each. Also the store itself (`relay`: PostgresStore.record,
whose writes go as one statement), and asyncpg with 8 records per transaction (what a group
commit on top of PostgreSQL could gain at most).

    python -m bench.pg_drivers [--url postgresql://postgres@127.0.0.1:5432/test] [--count 2000]

Needs the bench extra (psycopg[binary,pool]). Works in a schema of its own, dropped at the end.
Prints a markdown table: records/s, median [min-max] of --reps runs, per concurrency.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import psycopg
import psycopg_pool

from relay.lifecycle import trigger_phase
from relay.models import Delivery, DeliveryStatus, Message, RunState, Snapshot, Transition, Via
from relay.store.base import Context, Decision
from relay.store.codec import epoch
from relay.store.postgres import PostgresStore
from relay.store.postgres.queries import SQL
from relay.store.sqlite.mappers import delivery_row, run_row, transition_row

POOL = 10
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
Op = Callable[[int], Awaitable[None]]


def snapshot(n: int) -> Snapshot:
    return Snapshot(
        "recoup", f"run_{n}", "create-content", "COMPLETED", trigger_phase("COMPLETED"), NOW, Via.WEBHOOK
    )


def transition(n: int) -> Transition:
    s = snapshot(n)
    return Transition(f"t{n}", s.source, s.run_id, None, s.phase, None, s.status, NOW, Via.WEBHOOK)


def delivery(n: int) -> Delivery:
    message = Message("create-content completed", "Run run_x: unknown -> COMPLETED", "success")
    return Delivery(
        f"d{n}", f"t{n}", "video-ready", "slack", f"k{n}", message, {"v": 1, "run": {"id": f"run_{n}"}},
        DeliveryStatus.PENDING, 0, NOW, NOW,
    )  # fmt: skip


def statements(n: int) -> list[tuple[str, tuple[Any, ...]]]:
    """One record's statements and their parameters, as PostgresStore.record runs them (the
    source's watching_since known already, as it is after a process's first record)."""
    s, t = snapshot(n), epoch(NOW)
    return [
        (SQL["lock_run"], (s.source, s.run_id)),
        (SQL["run_state"], (s.source, s.run_id, s.task)),
        (SQL["save_run"], run_row(s, t, t)),
        (SQL["insert_transition"], transition_row(transition(n))),
        (SQL["insert_delivery"], delivery_row(delivery(n))),
        (SQL["notify_due"], ("relay_due_bench",)),
    ]


def psycopg_sql(sql: str) -> str:
    """$1 -> %(p1)s: psycopg's placeholders, by name so that one may be used twice."""
    return re.sub(r"\$(\d+)", r"%(p\1)s", sql.replace("%", "%%"))


async def asyncpg_op(url: str, schema: str, per_tx: int) -> tuple[Op, Callable[[], Awaitable[None]]]:
    pool = await asyncpg.create_pool(
        url, min_size=POOL, max_size=POOL, server_settings={"search_path": schema}
    )

    async def op(n: int) -> None:
        async with pool.acquire() as c, c.transaction():
            for k in range(per_tx):
                for sql, params in statements(n * per_tx + k + (10**8 if per_tx > 1 else 0)):
                    await c.fetch(sql, *params)

    return op, pool.close


async def psycopg_op(url: str, schema: str) -> tuple[Op, Callable[[], Awaitable[None]]]:
    pool = psycopg_pool.AsyncConnectionPool(
        url, min_size=POOL, max_size=POOL, open=False, kwargs={"options": f"-c search_path={schema}"}
    )
    await pool.open(wait=True)
    converted = {sql: psycopg_sql(sql) for sql, _ in statements(0)}

    async def op(n: int) -> None:
        async with pool.connection() as c, c.transaction():
            for sql, params in statements(n):
                await c.execute(converted[sql], {f"p{i}": v for i, v in enumerate(params, 1)})

    return op, pool.close


async def store_op(url: str) -> tuple[Op, Callable[[], Awaitable[None]]]:
    store = await PostgresStore.open(f"{url}&pool={POOL}")

    async def op(n: int) -> None:
        s = snapshot(n)

        def decide(previous: RunState | None, context: Context) -> Decision:
            return Decision(s, transition(n), [delivery(n)])

        await store.record(s, decide, NOW)

    return op, store.close


async def measure(op: Op, first: int, count: int, concurrency: int) -> tuple[float, float]:
    """(records/s, client CPU microseconds per record): the second is what the driver costs
    the relay's process, free of the server's fsync and of the other work on the machine."""
    numbers = iter(range(first, first + count))

    async def worker() -> None:
        for n in numbers:
            await op(n)

    t0, cpu0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return count / (time.perf_counter() - t0), (time.process_time() - cpu0) * 1e6 / count


KINDS = ("asyncpg", "psycopg", "relay", "asyncpg-8-per-tx")


async def run(
    url: str, count: int, reps: int, concurrencies: list[int]
) -> dict[tuple[str, int], list[tuple[float, float]]]:
    schema = f"bench_pg_{secrets.token_hex(4)}"
    target = f"{url}{'&' if '?' in url else '?'}schema={schema}"
    await (await PostgresStore.open(target)).close()  # the schema, migrated
    results: dict[tuple[str, int], list[tuple[float, float]]] = {}
    base = 0
    try:
        for rep in range(reps):
            for kind in KINDS[rep % len(KINDS) :] + KINDS[: rep % len(KINDS)]:  # rotate who goes first
                op, close = await _open(kind, url, schema, target)
                try:
                    await measure(op, base, 50, 4)  # warm up: connections, prepared statements
                    base += 50 * (8 if kind.endswith("per-tx") else 1)
                    for c in concurrencies:
                        n = count // 8 if kind.endswith("per-tx") else count
                        per_s, cpu_us = await measure(op, base, n, c)
                        base += count
                        k = 8 if kind.endswith("per-tx") else 1
                        results.setdefault((kind, c), []).append((per_s * k, cpu_us / k))
                finally:
                    await close()
    finally:
        conn = await asyncpg.connect(url)
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()
    return results


async def _open(kind: str, url: str, schema: str, target: str) -> tuple[Op, Callable[[], Awaitable[None]]]:
    if kind == "asyncpg":
        return await asyncpg_op(url, schema, 1)
    if kind == "asyncpg-8-per-tx":
        return await asyncpg_op(url, schema, 8)
    if kind == "psycopg":
        return await psycopg_op(url, schema)
    return await store_op(target)


def table(results: dict[tuple[str, int], list[tuple[float, float]]], concurrencies: list[int]) -> str:
    """records/s median [min-max] (client CPU us per record, median) per concurrency."""
    head = "| driver | " + " | ".join(f"{c} at once: records/s (CPU us/record)" for c in concurrencies)
    lines = [head + " |", "| --- |" + " --- |" * len(concurrencies)]
    for kind in KINDS:
        cells = []
        for c in concurrencies:
            rates, cpu = zip(*results[(kind, c)], strict=True)
            rate = f"{statistics.median(rates):,.0f} [{min(rates):,.0f}-{max(rates):,.0f}]"
            cells.append(f"{rate} ({statistics.median(cpu):,.0f})")
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--count", type=int, default=2000, help="records per measurement")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--concurrency", default="1,16")
    args = parser.parse_args()
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    results = asyncio.run(run(args.url, args.count, args.reps, concurrencies))
    print(f"psycopg {psycopg.__version__}, asyncpg {asyncpg.__version__}, pool of {POOL}")
    print(table(results, concurrencies))


if __name__ == "__main__":
    main()
