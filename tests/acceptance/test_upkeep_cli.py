"""`relay prune` and `relay backup` as an operator runs them: real processes, real files."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from pathlib import Path

import httpx2 as httpx

from relay.ids import new_id
from relay.models import Delivery, DeliveryStatus, Message, RunState
from relay.store import Decision, Outcome, open_store
from relay.store.base import Context, Decide
from relay.transitions import diff
from tests.acceptance.harness import relay_cli, relay_cli_async, relay_process
from tests.builders import T0, snap

RULES = """\
sources: {recoup: {kind: recoup}}
channels: {ops: {kind: console}}
rules:
  - {name: all, match: {}, notify: [ops]}
retention: {sent: 1d, transitions: 1d, finished_runs: 1d}
"""
NO_CREDENTIALS = {"RECOUP_API_KEY": "", "RECOUP_WEBHOOK_SECRET": ""}


async def seed(url: str, runs: int) -> None:
    """`runs` finished runs recorded at T0 (long ago), each with one sent delivery, and one
    run still executing."""
    store = await open_store(url)
    try:
        for n in range(runs):
            await store.record(snap("COMPLETED", run_id=f"old-{n}"), notify(n), T0)
            await store.claim(T0, 10, lease=30)
            await store.complete(f"d{n}", [], Outcome(DeliveryStatus.SENT))
        running = snap("EXECUTING", run_id="running")
        await store.record(running, lambda previous, context: Decision(running), T0)
    finally:
        await store.close()


async def stored(url: str) -> tuple[int, int, int]:
    """(deliveries, transitions, runs) in the store."""
    store = await open_store(url)
    try:
        counts = (
            await store.deliveries(limit=1000),
            await store.transitions(1000),
            await store.runs(limit=1000),
        )
        return len(counts[0]), len(counts[1]), len(counts[2])
    finally:
        await store.close()


def notify(n: int) -> Decide:
    s = snap("COMPLETED", run_id=f"old-{n}")

    def decide(previous: RunState | None, context: Context) -> Decision:
        t = diff(previous, s, now=T0, watching_since=T0, ids=new_id)
        assert t is not None
        message = Message("t", "b")
        d = Delivery(f"d{n}", t.id, "all", "ops", f"k{n}", message, {}, DeliveryStatus.PENDING, 0, T0, T0)
        return Decision(s, t, [d])

    return decide


def rows(database: Path, table: str) -> int:
    with sqlite3.connect(database) as conn:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def table_of(stdout: str) -> dict[str, int]:
    return {line.split()[0]: int(line.split()[1]) for line in stdout.splitlines()}


async def test_prune_dry_run_counts_and_prune_deletes(tmp_path: Path, database_url: str) -> None:
    config = tmp_path / "rules.yaml"
    config.write_text(RULES)
    await seed(database_url, 3)
    args = ("--config", str(config), "--database", database_url)

    dry = await relay_cli_async("prune", "--dry-run", *args)
    assert dry.returncode == 0, dry.stderr
    expected = {
        "deliveries": 3,
        "attempts": 0,
        "transitions": 3,
        "runs": 3,
        "seen": 0,
        "rate_sends": 0,
        "digest_items": 0,
    }
    assert table_of(dry.stdout) == expected
    assert "9 rows would be deleted (dry run: nothing was)" in dry.stderr
    assert await stored(database_url) == (3, 3, 4)

    done = await relay_cli_async("prune", *args)
    assert done.returncode == 0, done.stderr
    assert table_of(done.stdout) == expected
    assert await stored(database_url) == (0, 0, 1)  # the unfinished run stays
    again = await relay_cli_async("prune", *args)
    assert table_of(again.stdout) == dict.fromkeys(expected, 0)


def test_prune_with_a_broken_retention_changes_nothing(tmp_path: Path) -> None:
    config, database = tmp_path / "rules.yaml", tmp_path / "relay.db"
    config.write_text(RULES.replace("sent: 1d", "sent: soon"))
    asyncio.run(seed(f"sqlite:///{database}", 1))
    result = relay_cli("prune", "--config", str(config), "--database", f"sqlite:///{database}")
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {config}:5: retention: sent: expected a duration")
    assert rows(database, "deliveries") == 1


async def test_backup_while_serving_is_a_whole_database(tmp_path: Path) -> None:
    config, database, copy = tmp_path / "rules.yaml", tmp_path / "relay.db", tmp_path / "backup.db"
    config.write_text(RULES)
    with relay_process(config, database, NO_CREDENTIALS) as relay:
        async with httpx.AsyncClient(timeout=10) as client:
            stop = asyncio.Event()

            async def ingest() -> int:
                n = 0
                while not stop.is_set():
                    update = {
                        "id": f"run_{n}",
                        "taskIdentifier": "t",
                        "status": "COMPLETED",
                        "updatedAt": (T0 + timedelta(seconds=n)).isoformat(),
                    }
                    answer = await client.post(f"{relay.url}/hooks/recoup", json=update)
                    assert answer.status_code == 202, answer.text
                    n += 1
                return n

            writer = asyncio.create_task(ingest())
            await asyncio.sleep(0.3)  # writes under way while the copy is taken
            result = await relay_cli_async("backup", str(copy), "--database", f"sqlite:///{database}")
            await asyncio.sleep(0.1)
            stop.set()
            written = await writer
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"backed up {database} to {copy}: ")
        assert "schema version" in result.stdout

    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        runs = conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        # each run committed with its transition and delivery: the copy is one moment of them
        assert conn.execute("SELECT COUNT(*) FROM transitions").fetchone()[0] == runs
        assert conn.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0] == runs
    assert 0 < runs <= written
    assert not copy.with_name(f".{copy.name}.partial").exists()


def test_backup_refuses_an_existing_file_and_a_database_that_is_not_sqlite(tmp_path: Path) -> None:
    database, copy = tmp_path / "relay.db", tmp_path / "backup.db"
    asyncio.run(seed(f"sqlite:///{database}", 1))
    copy.write_text("precious")
    exists = relay_cli("backup", str(copy), "--database", f"sqlite:///{database}")
    assert exists.returncode == 1
    assert exists.stderr == f"error: {copy} exists already: remove it or name another file\n"
    assert copy.read_text() == "precious"

    missing = relay_cli("backup", str(tmp_path / "b2.db"), "--database", f"sqlite:///{tmp_path / 'none.db'}")
    assert missing.returncode == 1 and "no database at" in missing.stderr
    assert not (tmp_path / "none.db").exists()  # not created by looking

    pg = relay_cli("backup", str(tmp_path / "b3.db"), "--database", "postgresql://relay:s3cret@db/relay")
    assert pg.returncode == 1
    assert "For PostgreSQL use pg_dump" in pg.stderr and "--schema=SCHEMA" in pg.stderr
    assert "s3cret" not in pg.stderr
