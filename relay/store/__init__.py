"""Storage: the only code that knows SQL. `open_store(url)` picks the backend."""

from __future__ import annotations

from relay.errors import StoreError
from relay.store.base import Decision, Outcome, Store


async def open_store(url: str) -> Store:
    """`sqlite:///path/to/file.db` (the embedded default), `memory://` (tests, demos),
    `postgresql://user@host:5432/db?schema=NAME&pool=N` (several replicas on one database)."""
    if url.startswith("memory:"):
        from relay.store.memory import MemoryStore

        return MemoryStore()
    if url.startswith("sqlite:///"):
        from relay.store.sqlite import SqliteStore

        return await SqliteStore.open(url.removeprefix("sqlite:///"))
    if url.startswith(("postgresql://", "postgres://")):
        from relay.store.postgres import PostgresStore

        return await PostgresStore.open(url)
    scheme = url.split(":", 1)[0]
    raise StoreError(f"unsupported database URL scheme: {scheme!r} (use sqlite:///FILE or postgresql://...)")


__all__ = ["Decision", "Outcome", "Store", "open_store"]
