"""The SQLite backend (relay/store/sqlite/store.py)."""

from relay.store.sqlite.store import SqliteStore, _connect

__all__ = ["SqliteStore", "_connect"]
