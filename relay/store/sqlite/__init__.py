"""The SQLite backend: engine.py (connection, group commit), store.py (the Store contract)."""

from relay.store.sqlite.engine import connect as _connect
from relay.store.sqlite.store import SqliteStore

__all__ = ["SqliteStore", "_connect"]
