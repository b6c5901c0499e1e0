"""The PostgreSQL backend, for several replicas on one database: url.py (the URL's schema= and
pool=), engine.py (pool, migrations, the LISTEN connection), store.py (the Store contract),
coordination.py (leases, rate limits, replay memory, budgets, wake-ups), upkeep.py (prune,
backlog), queries.sql (every statement by name)."""

from relay.store.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
