"""The PostgreSQL schema, in numbered migrations applied in order; the table schema_version
holds how many are applied. Append only: never edit a migration that has shipped.

Migration 1 is the SQLite schema as of its migration 6 (relay/store/migrations.py), so the
mappers are shared: times are epoch seconds (double precision), flags 0/1 integers. What
PostgreSQL adds: `seq` on transitions (SQLite's rowid order among equal times)."""

from __future__ import annotations

MIGRATIONS: list[str] = [
    """
    CREATE TABLE runs (
        source TEXT NOT NULL, run_id TEXT NOT NULL, task TEXT NOT NULL, status TEXT NOT NULL,
        phase TEXT NOT NULL, terminal INTEGER NOT NULL, updated_at DOUBLE PRECISION NOT NULL,
        first_seen_at DOUBLE PRECISION NOT NULL, snapshot TEXT NOT NULL,
        phase_since DOUBLE PRECISION,
        PRIMARY KEY (source, run_id)
    );
    CREATE INDEX runs_active ON runs (source, terminal);
    CREATE INDEX runs_updated ON runs (updated_at);
    CREATE TABLE sources (name TEXT PRIMARY KEY, watching_since DOUBLE PRECISION NOT NULL);
    CREATE TABLE transitions (
        id TEXT PRIMARY KEY, seq BIGSERIAL NOT NULL, source TEXT NOT NULL, run_id TEXT NOT NULL,
        from_phase TEXT, to_phase TEXT NOT NULL, from_status TEXT, to_status TEXT NOT NULL,
        observed_at DOUBLE PRECISION NOT NULL, via TEXT NOT NULL, backfill INTEGER NOT NULL,
        skipped TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX transitions_run ON transitions (source, run_id);
    CREATE INDEX transitions_observed ON transitions (observed_at, seq);
    CREATE TABLE deliveries (
        id TEXT PRIMARY KEY, transition_id TEXT, rule TEXT NOT NULL, channel TEXT NOT NULL,
        idempotency_key TEXT NOT NULL UNIQUE, message TEXT NOT NULL, payload TEXT NOT NULL,
        status TEXT NOT NULL, attempts INTEGER NOT NULL, next_attempt_at DOUBLE PRECISION NOT NULL,
        created_at DOUBLE PRECISION NOT NULL, rounds INTEGER NOT NULL DEFAULT 0, last_error TEXT,
        lease_until DOUBLE PRECISION, group_key TEXT, template_error TEXT, lease_owner TEXT
    );
    CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
    CREATE INDEX deliveries_group ON deliveries (group_key) WHERE group_key IS NOT NULL;
    CREATE INDEX deliveries_owner ON deliveries (lease_owner) WHERE lease_owner IS NOT NULL;
    CREATE INDEX deliveries_created ON deliveries (created_at, id);
    CREATE TABLE attempts (
        delivery_id TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE, n INTEGER NOT NULL,
        started_at DOUBLE PRECISION NOT NULL, latency_ms DOUBLE PRECISION NOT NULL,
        ok INTEGER NOT NULL, http_status INTEGER, reason TEXT, excerpt TEXT,
        PRIMARY KEY (delivery_id, n)
    );
    CREATE TABLE task_outcomes (
        source TEXT NOT NULL, task TEXT NOT NULL, phase TEXT NOT NULL, PRIMARY KEY (source, task)
    );
    CREATE TABLE silences (
        id TEXT PRIMARY KEY, matchers TEXT NOT NULL, starts_at DOUBLE PRECISION NOT NULL,
        ends_at DOUBLE PRECISION NOT NULL, comment TEXT NOT NULL, created_by TEXT NOT NULL
    );
    CREATE TABLE digest_items (
        id BIGSERIAL PRIMARY KEY, rule TEXT NOT NULL, channel TEXT NOT NULL,
        window_end DOUBLE PRECISION NOT NULL, item TEXT NOT NULL, sent INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX digest_items_due ON digest_items (sent, window_end);
    CREATE TABLE heartbeat (id INTEGER PRIMARY KEY CHECK (id = 1), at DOUBLE PRECISION NOT NULL);
    CREATE TABLE leases (
        name TEXT PRIMARY KEY, owner TEXT NOT NULL, until DOUBLE PRECISION NOT NULL,
        token BIGINT NOT NULL
    );
    CREATE TABLE rate_sends (channel TEXT NOT NULL, at DOUBLE PRECISION NOT NULL);
    CREATE INDEX rate_sends_channel ON rate_sends (channel, at);
    CREATE TABLE seen (
        source TEXT NOT NULL, key TEXT NOT NULL, at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (source, key)
    );
    CREATE INDEX seen_at ON seen (at);
    CREATE TABLE budgets (
        key TEXT PRIMARY KEY, lim INTEGER, remaining INTEGER, reset_at DOUBLE PRECISION
    )
    """,
    # 2: a run's page in the console reads the deliveries of each transition (Store.
    # transition_deliveries); prune's "a kept delivery refers to it" check uses it too
    "CREATE INDEX deliveries_transition ON deliveries (transition_id)",
    # 3: suppressed counts (issue 12), as SQLite's migration 8 but a row per addition: replicas
    # adding to one count insert side by side instead of waiting for each other's row lock,
    # and the delivery that takes them deletes exactly the rows committed before it looked
    """
    CREATE TABLE suppressed (
        id BIGSERIAL PRIMARY KEY, rule TEXT NOT NULL, channel TEXT NOT NULL, reason TEXT NOT NULL,
        count INTEGER NOT NULL, since DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX suppressed_rule ON suppressed (rule, channel)
    """,
]
