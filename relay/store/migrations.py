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
    # 2: main-line phases a transition skipped, comma-separated
    "ALTER TABLE transitions ADD COLUMN skipped TEXT NOT NULL DEFAULT ''",
    # 3: noise control and digests. The outbox may hold deliveries no single transition
    # caused (digests): rebuilt with a nullable transition_id, and a group key.
    """
    CREATE TABLE deliveries_v3 (
        id TEXT PRIMARY KEY, transition_id TEXT, rule TEXT NOT NULL, channel TEXT NOT NULL,
        idempotency_key TEXT NOT NULL UNIQUE, message TEXT NOT NULL, payload TEXT NOT NULL,
        status TEXT NOT NULL, attempts INTEGER NOT NULL, next_attempt_at REAL NOT NULL,
        created_at REAL NOT NULL, rounds INTEGER NOT NULL DEFAULT 0, last_error TEXT,
        lease_until REAL, group_key TEXT
    );
    INSERT INTO deliveries_v3 SELECT id, transition_id, rule, channel, idempotency_key, message,
        payload, status, attempts, next_attempt_at, created_at, rounds, last_error, lease_until, NULL
        FROM deliveries;
    DROP TABLE deliveries;
    ALTER TABLE deliveries_v3 RENAME TO deliveries;
    CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
    CREATE INDEX deliveries_group ON deliveries (group_key) WHERE group_key IS NOT NULL;
    ALTER TABLE runs ADD COLUMN phase_since REAL;
    CREATE TABLE task_outcomes (
        source TEXT NOT NULL, task TEXT NOT NULL, phase TEXT NOT NULL, PRIMARY KEY (source, task)
    );
    CREATE TABLE silences (
        id TEXT PRIMARY KEY, matchers TEXT NOT NULL, starts_at REAL NOT NULL, ends_at REAL NOT NULL,
        comment TEXT NOT NULL, created_by TEXT NOT NULL
    );
    CREATE TABLE digest_items (
        id INTEGER PRIMARY KEY AUTOINCREMENT, rule TEXT NOT NULL, channel TEXT NOT NULL,
        window_end REAL NOT NULL, item TEXT NOT NULL, sent INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX digest_items_due ON digest_items (sent, window_end)
    """,
    # 4: one row /readyz rewrites to prove the store takes writes (Store.heartbeat)
    "CREATE TABLE heartbeat (id INTEGER PRIMARY KEY CHECK (id = 1), at REAL NOT NULL)",
    # 5: why a delivery carries the default message instead of its rule's template
    "ALTER TABLE deliveries ADD COLUMN template_error TEXT",
    # 6: several processes, one truth (issue 11): who holds a claim, leader leases with a
    # fencing token, channel rate limits counted across processes, a push's replay memory, and
    # the platform API rate budgets
    """
    ALTER TABLE deliveries ADD COLUMN lease_owner TEXT;
    CREATE INDEX deliveries_owner ON deliveries (lease_owner) WHERE lease_owner IS NOT NULL;
    CREATE TABLE leases (
        name TEXT PRIMARY KEY, owner TEXT NOT NULL, until REAL NOT NULL, token INTEGER NOT NULL
    );
    CREATE TABLE rate_sends (channel TEXT NOT NULL, at REAL NOT NULL);
    CREATE INDEX rate_sends_channel ON rate_sends (channel, at);
    CREATE TABLE seen (
        source TEXT NOT NULL, key TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (source, key)
    );
    CREATE INDEX seen_at ON seen (at);
    CREATE TABLE budgets (
        key TEXT PRIMARY KEY, lim INTEGER, remaining INTEGER, reset_at REAL
    )
    """,
    # 7: running for years (Store.prune): what pruning looks up by age, and which transitions
    # a delivery still refers to, by index rather than by scanning the tables
    """
    CREATE INDEX deliveries_done ON deliveries (status, created_at);
    CREATE INDEX deliveries_transition ON deliveries (transition_id);
    CREATE INDEX runs_finished ON runs (terminal, IFNULL(phase_since, first_seen_at));
    CREATE INDEX rate_sends_at ON rate_sends (at)
    """,
    # 8: suppressed counts (issue 12): messages of a rule and channel that never went out
    # (silenced, once_per), until the next one that goes out takes them
    """
    CREATE TABLE suppressed (
        rule TEXT NOT NULL, channel TEXT NOT NULL, reason TEXT NOT NULL, count INTEGER NOT NULL,
        since REAL NOT NULL, PRIMARY KEY (rule, channel, reason)
    )
    """,
]
