"""A relay never runs on a database migrated by a newer relay: it refuses, and says why."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import asyncpg
import pytest

from relay.errors import StoreError
from relay.store import open_store
from relay.store.migrations import MIGRATIONS as SQLITE_MIGRATIONS
from relay.store.postgres.migrations import MIGRATIONS as PG_MIGRATIONS
from tests.integration.pg import SERVER, pg_schema


async def test_sqlite_refuses_a_newer_schema_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    await (await open_store(f"sqlite:///{path}")).close()
    newer = len(SQLITE_MIGRATIONS) + 3
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA user_version={newer}")
    with pytest.raises(StoreError) as refused:
        await open_store(f"sqlite:///{path}")
    assert str(refused.value).startswith(
        f"database schema version {newer} is newer than this relay knows ({len(SQLITE_MIGRATIONS)}): "
        "upgrade the relay, or restore the backup"
    )
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == newer


async def test_postgres_refuses_a_newer_schema_and_changes_nothing() -> None:
    async with pg_schema() as url:
        await (await open_store(url)).close()
        schema = url.rsplit("schema=", 1)[1]
        newer = len(PG_MIGRATIONS) + 2
        conn = await asyncpg.connect(SERVER)
        try:
            await conn.execute(f'UPDATE "{schema}".schema_version SET version = $1', newer)
            with pytest.raises(StoreError) as refused:
                await open_store(url)
            assert str(refused.value).startswith(
                f"database schema version {newer} is newer than this relay knows ({len(PG_MIGRATIONS)}): "
                "upgrade the relay, or restore the backup"
            )
            assert await conn.fetchval(f'SELECT version FROM "{schema}".schema_version') == newer
        finally:
            await conn.close()


async def test_postgres_migrates_a_new_schema_once_and_reopens_it() -> None:
    async with pg_schema() as url:
        first = await open_store(url)
        await first.close()
        again = await open_store(url)  # nothing left to apply
        await again.close()
        schema = url.rsplit("schema=", 1)[1]
        conn = await asyncpg.connect(SERVER)
        try:
            assert await conn.fetchval(f'SELECT version FROM "{schema}".schema_version') == len(PG_MIGRATIONS)
        finally:
            await conn.close()
