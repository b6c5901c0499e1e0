"""Fixtures shared by the acceptance tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.pg import pg_schema


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The relay's database, on each backend: a SQLite file, or a PostgreSQL schema of its own
    (dropped afterwards). A test that takes it runs on both."""
    if request.param == "postgres":
        async with pg_schema("a") as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path / 'relay.db'}"
