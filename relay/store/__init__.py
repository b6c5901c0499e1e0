"""Storage: the only code that knows SQL. `open_store(url)` picks the backend."""

from __future__ import annotations

from relay.errors import StoreError
from relay.store.base import Decision, Outcome, Store


async def open_store(url: str) -> Store:
    """`sqlite:///path/to/file.db` (the embedded default), `memory://` (tests, demos)."""
    if url.startswith("memory:"):
        from relay.store.memory import MemoryStore

        return MemoryStore()
    if url.startswith("sqlite:///"):
        from relay.store.sqlite import SqliteStore

        return await SqliteStore.open(url.removeprefix("sqlite:///"))
    raise StoreError(f"unsupported database URL scheme: {url.split(':', 1)[0]!r} (use sqlite:///FILE)")


__all__ = ["Decision", "Outcome", "Store", "open_store"]
