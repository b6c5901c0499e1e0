"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from relay.store import Store, open_store
from tests.integration.pg import pg_schema


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """Every store backend, for tests of the contract they all keep (PostgreSQL: a schema of
    its own, dropped afterwards)."""
    if request.param == "postgres":
        async with pg_schema() as url:
            s = await open_store(url)
            yield s
            await s.close()
        return
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'relay.db'}"
    s = await open_store(url)
    yield s
    await s.close()
