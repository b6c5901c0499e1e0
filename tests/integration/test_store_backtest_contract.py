"""Store contract, the backtest's part: `transitions_since` gives the transitions observed from a
time on, oldest first, at most `limit`, each with its run's stored (latest) snapshot. Through the
Store API only, so every backend (memory, SQLite, PostgreSQL) runs it."""

from __future__ import annotations

from datetime import timedelta

from relay.store import Store
from tests.builders import T0
from tests.integration.test_store_console_contract import record


async def test_transitions_since_a_time_oldest_first_with_the_runs_latest_snapshot(store: Store) -> None:
    await record(store, "QUEUED", "run_a", 0)
    second = await record(store, "EXECUTING", "run_b", 10)
    third = await record(store, "EXECUTING", "run_a", 20)
    fourth = await record(store, "COMPLETED", "run_a", 30)

    found = await store.transitions_since(T0 + timedelta(seconds=10), 100)

    assert [t.id for t, _ in found] == [second, third, fourth]
    assert [(run.run_id, run.status) for _, run in found] == [
        ("run_b", "EXECUTING"),
        ("run_a", "COMPLETED"),  # the run as stored now, not as it was then
        ("run_a", "COMPLETED"),
    ]


async def test_transitions_since_stops_at_the_limit_keeping_the_oldest(store: Store) -> None:
    first = await record(store, "QUEUED", "run_a", 0)
    second = await record(store, "QUEUED", "run_b", 1)
    await record(store, "QUEUED", "run_c", 2)

    found = await store.transitions_since(T0, 2)

    assert [t.id for t, _ in found] == [first, second]
    assert await store.transitions_since(T0 + timedelta(hours=1), 10) == []
