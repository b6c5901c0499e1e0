-- Every statement the PostgreSQL store runs on the relay's tables, by name (the same form as
-- relay/store/sqlite/queries.sql, and mostly the same statements). Parameters are $1, $2...,
-- in the order of the columns they fill (relay/store/sqlite/mappers.py builds them so), else as
-- the comment lists them. The tables are in migrations.py. Times are epoch seconds.

-- lock_runs --
-- (sources, run ids), sorted by the caller and taken in that order: two records of one run, on
-- two replicas, one after the other; held until the transaction ends (a row lock cannot lock a
-- run not yet stored). Advisory locks are per database: the schema is in the key, so relays on
-- other schemas never wait for ours
SELECT count(pg_advisory_xact_lock(hashtextextended(current_schema() || '/run/' || s || '/' || r, 0)))
FROM unnest($1::text[], $2::text[]) AS t(s, r);

-- run_states --
-- (sources, run ids, tasks), one entry per snapshot of a batch: in their order, the run as
-- stored (NULLs if new) and its task's last finished phase, in one round trip
SELECT r.snapshot, r.first_seen_at, r.phase_since,
    (SELECT phase FROM task_outcomes AS o WHERE o.source = t.source AND o.task = t.task)
FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS t(source, run_id, task, n)
LEFT JOIN runs AS r ON r.source = t.source AND r.run_id = t.run_id
ORDER BY t.n;

-- watch_source --
-- (source, now): the first contact fixes watching_since; the answer is the stored one
WITH added AS (
    INSERT INTO sources (name, watching_since) VALUES ($1, $2)
    ON CONFLICT (name) DO NOTHING RETURNING watching_since
)
SELECT watching_since FROM added
UNION ALL SELECT watching_since FROM sources WHERE name = $1;

-- watching_since --
SELECT watching_since FROM sources WHERE name = $1;

-- save_run --
INSERT INTO runs (
    source, run_id, task, status, phase, terminal, updated_at, first_seen_at, snapshot, phase_since
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (source, run_id) DO UPDATE SET
    task = excluded.task, status = excluded.status, phase = excluded.phase,
    terminal = excluded.terminal, updated_at = excluded.updated_at,
    first_seen_at = excluded.first_seen_at, snapshot = excluded.snapshot,
    phase_since = excluded.phase_since;

-- save_task_outcome --
INSERT INTO task_outcomes (source, task, phase) VALUES ($1, $2, $3)
ON CONFLICT (source, task) DO UPDATE SET phase = excluded.phase;

-- insert_transition --
-- ignored when there already (enqueue writes a transition only once)
INSERT INTO transitions (
    id, source, run_id, from_phase, to_phase, from_status, to_status, observed_at, via, backfill,
    skipped
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (id) DO NOTHING;

-- insert_delivery --
-- no row returned when a delivery with its idempotency key (or id) exists already
INSERT INTO deliveries (
    id, transition_id, rule, channel, idempotency_key, message, payload, status, attempts,
    next_attempt_at, created_at, rounds, last_error, group_key, template_error, lease_until,
    lease_owner
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
ON CONFLICT DO NOTHING RETURNING id;

-- insert_digest_item --
INSERT INTO digest_items (rule, channel, window_end, item) VALUES ($1, $2, $3, $4);

-- notify_due --
-- (channel): delivered at commit, once per transaction however often it is sent
SELECT pg_notify($1, '');

-- known_runs --
SELECT snapshot, first_seen_at, phase_since FROM runs WHERE source = $1 AND run_id = ANY($2::text[]);

-- active_runs --
SELECT snapshot, first_seen_at, phase_since FROM runs WHERE source = $1 AND terminal = 0;

-- hand_back_interrupted --
-- (now, lease, reason, excerpt): sending deliveries whose lease ran out (their process died
-- mid-send) get an attempt started when the lease began, and are pending again, so that the
-- claim takes them. SKIP LOCKED: a replica doing the same right now has them
WITH expired AS (
    SELECT id, attempts, lease_until FROM deliveries
    WHERE status = 'sending' AND lease_until <= $1
    FOR UPDATE SKIP LOCKED
), cut AS (
    INSERT INTO attempts (delivery_id, n, started_at, latency_ms, ok, reason, excerpt)
    SELECT id, attempts + 1, lease_until - $2, 0, 0, $3, $4 FROM expired
    ON CONFLICT (delivery_id, n) DO UPDATE SET
        started_at = excluded.started_at, latency_ms = 0, ok = 0, http_status = NULL,
        reason = excluded.reason, excerpt = excluded.excerpt
)
UPDATE deliveries AS d SET status = 'pending', attempts = d.attempts + 1, lease_until = NULL,
    lease_owner = NULL
FROM expired WHERE d.id = expired.id;

-- claim --
-- (now, limit, lease until, owner): due ones no other replica is claiming (SKIP LOCKED), and
-- the pending members of their groups: a group is one send
WITH picked AS (
    SELECT id, group_key FROM deliveries
    WHERE status = 'pending' AND next_attempt_at <= $1
    ORDER BY next_attempt_at LIMIT $2
    FOR UPDATE SKIP LOCKED
), members AS (
    SELECT id FROM deliveries
    WHERE status = 'pending'
        AND group_key IN (SELECT group_key FROM picked WHERE group_key IS NOT NULL)
    FOR UPDATE SKIP LOCKED
)
UPDATE deliveries SET status = 'sending', lease_until = $3, lease_owner = $4
WHERE id IN (SELECT id FROM picked UNION SELECT id FROM members)
RETURNING id, transition_id, rule, channel, idempotency_key, message, payload, status, attempts,
    next_attempt_at, created_at, rounds, last_error, group_key, template_error;

-- complete --
-- (status, attempts made, 1 if the round failed, next attempt at or NULL to keep it, last
-- error, id)
UPDATE deliveries SET
    status = $1, attempts = attempts + $2, rounds = rounds + $3,
    next_attempt_at = COALESCE($4, next_attempt_at), last_error = $5,
    lease_until = NULL, lease_owner = NULL
WHERE id = $6;

-- insert_attempt --
INSERT INTO attempts (delivery_id, n, started_at, latency_ms, ok, http_status, reason, excerpt)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (delivery_id, n) DO UPDATE SET
    started_at = excluded.started_at, latency_ms = excluded.latency_ms, ok = excluded.ok,
    http_status = excluded.http_status, reason = excluded.reason, excerpt = excluded.excerpt;

-- defer --
-- (next attempt at, group key, ids)
UPDATE deliveries SET
    status = 'pending', lease_until = NULL, lease_owner = NULL, next_attempt_at = $1,
    group_key = $2
WHERE id = ANY($3::text[]) AND status = 'sending';

-- release --
-- (attempts made, id)
UPDATE deliveries SET status = 'pending', lease_until = NULL, lease_owner = NULL,
    attempts = attempts + $1
WHERE id = $2 AND status = 'sending';

-- replay --
-- (now, id)
UPDATE deliveries SET status = 'pending', rounds = 0, next_attempt_at = $1, lease_until = NULL,
    lease_owner = NULL
WHERE id = $2 AND status IN ('dead', 'sent');

-- next_due --
SELECT LEAST(
    (SELECT MIN(next_attempt_at) FROM deliveries WHERE status = 'pending'),
    (SELECT MIN(lease_until) FROM deliveries WHERE status = 'sending')
);

-- heartbeat --
INSERT INTO heartbeat (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = excluded.at;

-- delivery --
SELECT id, transition_id, rule, channel, idempotency_key, message, payload, status, attempts,
    next_attempt_at, created_at, rounds, last_error, group_key, template_error
FROM deliveries WHERE id = $1;

-- deliveries --
SELECT id, transition_id, rule, channel, idempotency_key, message, payload, status, attempts,
    next_attempt_at, created_at, rounds, last_error, group_key, template_error
FROM deliveries ORDER BY created_at DESC, id LIMIT $1;

-- deliveries_with_status --
SELECT id, transition_id, rule, channel, idempotency_key, message, payload, status, attempts,
    next_attempt_at, created_at, rounds, last_error, group_key, template_error
FROM deliveries WHERE status = $1 ORDER BY created_at DESC, id LIMIT $2;

-- attempts --
SELECT delivery_id, n, started_at, latency_ms, ok, http_status, reason, excerpt
FROM attempts WHERE delivery_id = $1 ORDER BY n;

-- runs --
SELECT snapshot, first_seen_at, phase_since FROM runs ORDER BY updated_at DESC LIMIT $1;

-- runs_of_source --
SELECT snapshot, first_seen_at, phase_since FROM runs
WHERE source = $1 ORDER BY updated_at DESC LIMIT $2;

-- transitions --
SELECT id, source, run_id, from_phase, to_phase, from_status, to_status, observed_at, via,
    backfill, skipped
FROM transitions ORDER BY observed_at DESC, seq DESC LIMIT $1;

-- insert_silence --
INSERT INTO silences (id, matchers, starts_at, ends_at, comment, created_by)
VALUES ($1, $2, $3, $4, $5, $6);

-- silences --
SELECT id, matchers, starts_at, ends_at, comment, created_by FROM silences ORDER BY starts_at, id;

-- silences_active --
SELECT id, matchers, starts_at, ends_at, comment, created_by FROM silences
WHERE ends_at > $1 ORDER BY starts_at, id;

-- expire_silence --
-- (now, id)
UPDATE silences SET ends_at = $1 WHERE id = $2 AND ends_at > $1;

-- due_digests --
SELECT DISTINCT rule, channel, window_end FROM digest_items
WHERE sent = 0 AND window_end <= $1 ORDER BY window_end, rule, channel;

-- digest_window --
-- (rule, channel, window end): locked, so that a replica taking the same window waits, then
-- finds the items sent (rows that no longer match are left out once the lock is had)
SELECT id, item FROM digest_items
WHERE sent = 0 AND rule = $1 AND channel = $2 AND window_end = $3 ORDER BY id FOR UPDATE;

-- existing_keys --
-- (idempotency keys): those a delivery holds already
SELECT idempotency_key FROM deliveries WHERE idempotency_key = ANY($1::text[]);

-- digest_items_sent --
UPDATE digest_items SET sent = 1 WHERE id = ANY($1::bigint[]);

-- expire_claims --
-- (owner, now): its leases end now; the next claim takes them (with an `interrupted` attempt)
UPDATE deliveries SET lease_until = $2 WHERE status = 'sending' AND lease_owner = $1;

-- hold --
-- (name, owner, now, until): taken when free or run out, renewed by its owner; the fencing
-- token grows when the owner changes. No row: another owner holds it
INSERT INTO leases AS l (name, owner, until, token) VALUES ($1, $2, $4, 1)
ON CONFLICT (name) DO UPDATE SET
    owner = excluded.owner, until = excluded.until,
    token = l.token + CASE WHEN l.owner = excluded.owner THEN 0 ELSE 1 END
WHERE l.owner = excluded.owner OR l.until <= $3
RETURNING token;

-- let_go --
-- (name, owner): run out at once; the row stays, so the token keeps growing
UPDATE leases SET until = '-infinity' WHERE name = $1 AND owner = $2;

-- leases --
SELECT name, owner, until FROM leases WHERE until > $1 ORDER BY name;

-- lock_channel --
-- (channel): N replicas admitting sends on one channel count one after the other
SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || '/channel/' || $1, 0));

-- forget_sends --
-- (channel, window start): sends out of the window count no more
DELETE FROM rate_sends WHERE channel = $1 AND at <= $2;

-- sends --
SELECT at FROM rate_sends WHERE channel = $1 ORDER BY at;

-- count_send --
INSERT INTO rate_sends (channel, at) VALUES ($1, $2);

-- first_sight --
INSERT INTO seen (source, key, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1;

-- budget --
SELECT lim, remaining, reset_at FROM budgets WHERE key = $1;

-- save_budget --
INSERT INTO budgets (key, lim, remaining, reset_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (key) DO UPDATE SET
    lim = excluded.lim, remaining = excluded.remaining, reset_at = excluded.reset_at;

-- backlog --
SELECT channel,
    COUNT(*) FILTER (WHERE status = 'pending'),
    COUNT(*) FILTER (WHERE status = 'sending'),
    COUNT(*) FILTER (WHERE status = 'dead'),
    MIN(created_at) FILTER (WHERE status = 'pending')
FROM deliveries WHERE status IN ('pending', 'sending', 'dead')
GROUP BY channel ORDER BY channel;

-- run_transitions --
SELECT id, source, run_id, from_phase, to_phase, from_status, to_status, observed_at, via,
    backfill, skipped
FROM transitions WHERE source = $1 AND run_id = $2 ORDER BY observed_at, seq;

-- transition_deliveries --
SELECT id, transition_id, rule, channel, idempotency_key, message, payload, status, attempts,
    next_attempt_at, created_at, rounds, last_error, group_key, template_error
FROM deliveries WHERE transition_id = $1 ORDER BY created_at, id;

-- activity_transitions --
SELECT FLOOR((observed_at - $1) / $2)::INTEGER, COUNT(*)::INTEGER FROM transitions
WHERE observed_at >= $1 GROUP BY 1;

-- activity_deliveries --
SELECT FLOOR((created_at - $1) / $2)::INTEGER, status, COUNT(*)::INTEGER FROM deliveries
WHERE created_at >= $1 GROUP BY 1, 2;

-- transitions_since --
-- (since, limit): transitions observed from `since` on, oldest first, each with its run's stored
-- snapshot (a backtest); transitions of runs pruned since are left out
SELECT t.id, t.source, t.run_id, t.from_phase, t.to_phase, t.from_status, t.to_status,
    t.observed_at, t.via, t.backfill, t.skipped, r.snapshot
FROM transitions t JOIN runs r ON r.source = t.source AND r.run_id = t.run_id
WHERE t.observed_at >= $1 ORDER BY t.observed_at, t.seq LIMIT $2;

-- take_suppressed --
-- the counts of these (rule, channel) pairs, taken by the deliveries that will tell them;
-- locked in id order, so two replicas taking the same rows never wait for each other crosswise
DELETE FROM suppressed WHERE id IN (
    SELECT id FROM suppressed
    WHERE (rule, channel) IN (SELECT * FROM unnest($1::text[], $2::text[]))
    ORDER BY id FOR UPDATE
)
RETURNING rule, channel, reason, count, since;

-- counted_pairs --
SELECT DISTINCT rule, channel FROM suppressed;

-- add_suppressed --
INSERT INTO suppressed (rule, channel, reason, count, since)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::float8[]);

-- suppressed_counts --
SELECT rule, channel, reason, SUM(count), MIN(since) FROM suppressed GROUP BY rule, channel, reason;

-- held_groups --
-- deliveries waiting in a group (group window, quiet hours, rate limit): deliveries_group
SELECT rule, channel, group_key, COUNT(*), MIN(created_at) FROM deliveries
WHERE group_key IS NOT NULL AND status = 'pending'
GROUP BY rule, channel, group_key;
