"""Schema migrations, applied in order; PRAGMA user_version counts the applied ones.
Append only: never edit a migration that has shipped."""

MIGRATIONS: list[str] = [
    """
    CREATE TABLE runs (
        source TEXT NOT NULL, run_id TEXT NOT NULL, task TEXT NOT NULL, status TEXT NOT NULL,
        phase TEXT NOT NULL, terminal INTEGER NOT NULL, updated_at REAL NOT NULL,
        first_seen_at REAL NOT NULL, snapshot TEXT NOT NULL,
        PRIMARY KEY (source, run_id)
    );
    CREATE INDEX runs_active ON runs (source, terminal);
    CREATE TABLE sources (name TEXT PRIMARY KEY, watching_since REAL NOT NULL);
    CREATE TABLE transitions (
        id TEXT PRIMARY KEY, source TEXT NOT NULL, run_id TEXT NOT NULL, from_phase TEXT,
        to_phase TEXT NOT NULL, from_status TEXT, to_status TEXT NOT NULL,
        observed_at REAL NOT NULL, via TEXT NOT NULL, backfill INTEGER NOT NULL
    );
    CREATE INDEX transitions_run ON transitions (source, run_id);
    CREATE INDEX transitions_observed ON transitions (observed_at);
    CREATE TABLE deliveries (
        id TEXT PRIMARY KEY, transition_id TEXT NOT NULL REFERENCES transitions (id),
        rule TEXT NOT NULL, channel TEXT NOT NULL, idempotency_key TEXT NOT NULL UNIQUE,
        message TEXT NOT NULL, payload TEXT NOT NULL, status TEXT NOT NULL,
        attempts INTEGER NOT NULL, next_attempt_at REAL NOT NULL, created_at REAL NOT NULL,
        rounds INTEGER NOT NULL DEFAULT 0, last_error TEXT, lease_until REAL
    );
    CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
    CREATE TABLE attempts (
        delivery_id TEXT NOT NULL REFERENCES deliveries (id), n INTEGER NOT NULL,
        started_at REAL NOT NULL, latency_ms REAL NOT NULL, ok INTEGER NOT NULL,
        http_status INTEGER, reason TEXT, excerpt TEXT,
        PRIMARY KEY (delivery_id, n)
    )
    """,
]
