"""PostgreSQL for the tests: the server CI starts on 127.0.0.1:5432 (.ci/run), one schema per
test, dropped afterwards. Never skipped: a test that needs it fails if it does not answer."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

SERVER = os.environ.get("RELAY_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@asynccontextmanager
async def pg_schema(prefix: str = "t") -> AsyncIterator[str]:
    """A database URL on a schema of its own (created by the store), dropped CASCADE after."""
    schema = f"{prefix}_{secrets.token_hex(6)}"
    try:
        yield f"{SERVER}?schema={schema}"
    finally:
        conn = await asyncpg.connect(SERVER)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()
