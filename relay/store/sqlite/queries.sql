-- Every statement the SQLite store runs on the relay's tables, by name. queries.py loads
-- this file once; store.py names the statements (SQL["claim"]). Each is a "-- name --" line,
-- comment lines saying why, then the statement. Parameters are positional (?): in the order
-- of the columns they fill (mappers.py builds them so), else as the comment lists them. Named
-- ones (:id) would cost each record ~8 us more, sqlite3 looking every name up in a dict.
-- The tables are in relay/store/migrations.py; the engine's own statements (BEGIN, COMMIT,
-- SAVEPOINT, PRAGMA) in engine.py. Times are epoch seconds (REAL).

-- run_state --
-- a run as the store knows it, read in the transaction that records its next snapshot
SELECT snapshot, first_seen_at, phase_since FROM runs WHERE source = ? AND run_id = ?;

-- task_last_phase --
-- the phase of the task's last finished run (rules on `recovered`)
SELECT phase FROM task_outcomes WHERE source = ? AND task = ?;

-- watch_source --
-- (source, now): the first contact with a source fixes its watching_since; later ones do not
INSERT OR IGNORE INTO sources (name, watching_since) VALUES (?, ?);

-- watching_since --
SELECT watching_since FROM sources WHERE name = ?;

-- save_run --
INSERT OR REPLACE INTO runs (
    source, run_id, task, status, phase, terminal, updated_at, first_seen_at, snapshot, phase_since
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- save_task_outcome --
INSERT OR REPLACE INTO task_outcomes (source, task, phase) VALUES (?, ?, ?);

-- transition_exists --
SELECT 1 FROM transitions WHERE id = ?;

-- insert_transition --
INSERT INTO transitions (
    id, source, run_id, from_phase, to_phase, from_status, to_status, observed_at, via, backfill,
    skipped
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- insert_delivery --
-- ignored (no row changed) when a delivery with its idempotency key exists already
INSERT OR IGNORE INTO deliveries (
    id, transition_id, rule, channel, idempotency_key, message, payload, status, attempts,
    next_attempt_at, created_at, rounds, last_error, group_key, template_error, lease_until,
    lease_owner
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- insert_digest_item --
INSERT INTO digest_items (rule, channel, window_end, item) VALUES (?, ?, ?, ?);

-- existing_keys --
-- (idempotency keys as a JSON array): those a delivery holds already
SELECT idempotency_key FROM deliveries WHERE idempotency_key IN (SELECT value FROM json_each(?));

-- known_runs --
-- (source, run ids as a JSON array): one statement however many ids a poll page holds
SELECT snapshot, first_seen_at, phase_since FROM runs
WHERE source = ? AND run_id IN (SELECT value FROM json_each(?));

-- active_runs --
SELECT snapshot, first_seen_at, phase_since FROM runs WHERE source = ? AND terminal = 0;

-- record_interrupted --
-- (lease, reason, excerpt, now): a sending delivery whose lease ran out, its process died
-- mid-send. On record (started when its lease began), then pending again
-- (hand_back_interrupted), so that the claim takes it
INSERT OR REPLACE INTO attempts (delivery_id, n, started_at, latency_ms, ok, reason, excerpt)
SELECT id, attempts + 1, lease_until - ?, 0, 0, ?, ? FROM deliveries
WHERE status = 'sending' AND lease_until <= ?;

-- hand_back_interrupted --
UPDATE deliveries SET status = 'pending', attempts = attempts + 1, lease_until = NULL,
    lease_owner = NULL
WHERE status = 'sending' AND lease_until <= ?;

-- claim --
-- (now, limit, lease_until, owner): a group is one send, claiming one member claims the others
-- with it. `+status`: the members are found by their group key (deliveries_group), not among
-- every pending delivery by status, which made each claim scan the whole backlog (8 ms per 64
-- claimed out of 10,000 pending, against 1 ms)
WITH picked AS (
    SELECT id, group_key FROM deliveries
    WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?
)
UPDATE deliveries SET status = 'sending', lease_until = ?, lease_owner = ?
WHERE id IN (SELECT id FROM picked)
    OR (+status = 'pending' AND group_key IN (SELECT group_key FROM picked WHERE group_key IS NOT NULL))
RETURNING id, transition_id, rule, channel, idempotency_key, message, payload, status, attempts,
    next_attempt_at, created_at, rounds, last_error, group_key, template_error;

-- complete --
-- (status, attempts made, 1 if the round failed, next attempt at or NULL to keep it, last
-- error, id)
UPDATE deliveries SET
    status = ?, attempts = attempts + ?, rounds = rounds + ?,
    next_attempt_at = COALESCE(?, next_attempt_at), last_error = ?,
    lease_until = NULL, lease_owner = NULL
WHERE id = ?;

-- insert_attempt --
INSERT OR REPLACE INTO attempts (
    delivery_id, n, started_at, latency_ms, ok, http_status, reason, excerpt
) VALUES (?, ?, ?, ?, ?, ?, ?, ?);

-- defer --
-- (next attempt at, group key, id)
UPDATE deliveries SET
    status = 'pending', lease_until = NULL, lease_owner = NULL, next_attempt_at = ?, group_key = ?
WHERE id = ? AND status = 'sending';

-- release --
-- (attempts made, id)
UPDATE deliveries SET status = 'pending', lease_until = NULL, lease_owner = NULL,
    attempts = attempts + ?
WHERE id = ? AND status = 'sending';

-- replay --
-- (now, id)
UPDATE deliveries SET status = 'pending', rounds = 0, next_attempt_at = ?, lease_until = NULL,
    lease_owner = NULL
WHERE id = ? AND status IN ('dead', 'sent');

-- next_due --
-- the earliest of: a pending delivery due, a lease running out
SELECT MIN(t) FROM (
    SELECT MIN(next_attempt_at) AS t FROM deliveries WHERE status = 'pending'
    UNION ALL
    SELECT MIN(lease_until) FROM deliveries WHERE status = 'sending'
);

-- heartbeat --
INSERT OR REPLACE INTO heartbeat (id, at) VALUES (1, ?);

-- Running for years (upkeep.py): Store.prune deletes in batches of at most `limit` rows, each
-- its own write, so ingest waits for one batch at a time, never for the whole prune. A
-- delivery's age counts from created_at; what a kept delivery refers to stays.

-- prunable_delivery_ids --
-- (status, cut, limit): the oldest deliveries of a finished status written before `cut`
SELECT id FROM deliveries WHERE status = ? AND created_at < ? ORDER BY created_at LIMIT ?;

-- count_prunable_deliveries --
-- (status, cut)
SELECT COUNT(*) FROM deliveries WHERE status = ? AND created_at < ?;

-- count_prunable_attempts --
-- (status, cut)
SELECT COUNT(*) FROM attempts WHERE delivery_id IN (
    SELECT id FROM deliveries WHERE status = ? AND created_at < ?
);

-- delete_attempts_of --
-- (delivery ids as a JSON array)
DELETE FROM attempts WHERE delivery_id IN (SELECT value FROM json_each(?));

-- delete_deliveries --
-- (delivery ids as a JSON array)
DELETE FROM deliveries WHERE id IN (SELECT value FROM json_each(?));

-- orphan_transitions --
-- (transitions cut, sent cut, dead cut, limit): observed before the cut, and no delivery refers to
-- them that prune keeps (so a dry run counts what a prune would leave unreferenced)
SELECT t.rowid FROM transitions t WHERE t.observed_at < ?1 AND NOT EXISTS (
    SELECT 1 FROM deliveries d WHERE d.transition_id = t.id AND NOT (
        (d.status IN ('sent', 'silenced') AND d.created_at < ?2)
        OR (d.status = 'dead' AND d.created_at < ?3)
    )
) ORDER BY t.observed_at LIMIT ?4;

-- count_orphan_transitions --
-- (transitions cut, sent cut, dead cut): as orphan_transitions
SELECT COUNT(*) FROM transitions t WHERE t.observed_at < ?1 AND NOT EXISTS (
    SELECT 1 FROM deliveries d WHERE d.transition_id = t.id AND NOT (
        (d.status IN ('sent', 'silenced') AND d.created_at < ?2)
        OR (d.status = 'dead' AND d.created_at < ?3)
    )
);

-- delete_transitions --
-- (rowids as a JSON array)
DELETE FROM transitions WHERE rowid IN (SELECT value FROM json_each(?));

-- finished_runs --
-- (cut, limit): runs in a terminal phase since before the cut (rows older than migration 3
-- have no phase_since: their first sighting counts)
SELECT rowid FROM runs WHERE terminal = 1 AND IFNULL(phase_since, first_seen_at) < ?
ORDER BY IFNULL(phase_since, first_seen_at) LIMIT ?;

-- count_finished_runs --
SELECT COUNT(*) FROM runs WHERE terminal = 1 AND IFNULL(phase_since, first_seen_at) < ?;

-- delete_runs --
-- (rowids as a JSON array)
DELETE FROM runs WHERE rowid IN (SELECT value FROM json_each(?));

-- old_seen --
-- (cut, limit)
DELETE FROM seen WHERE rowid IN (SELECT rowid FROM seen WHERE at < ? ORDER BY at LIMIT ?);

-- count_old_seen --
SELECT COUNT(*) FROM seen WHERE at < ?;

-- old_rate_sends --
-- (cut, limit)
DELETE FROM rate_sends WHERE rowid IN (
    SELECT rowid FROM rate_sends WHERE at < ? ORDER BY at LIMIT ?
);

-- count_old_rate_sends --
SELECT COUNT(*) FROM rate_sends WHERE at < ?;

-- old_digest_items --
-- (cut, limit): items of windows sent, whose window ended before the cut
DELETE FROM digest_items WHERE id IN (
    SELECT id FROM digest_items WHERE sent = 1 AND window_end < ? ORDER BY window_end LIMIT ?
);

-- count_old_digest_items --
SELECT COUNT(*) FROM digest_items WHERE sent = 1 AND window_end < ?;

-- backlog --
-- per channel and status: how many, and the oldest written (the backlog gauges)
SELECT channel, status, COUNT(*), MIN(created_at) FROM deliveries
WHERE status IN ('pending', 'sending', 'dead') GROUP BY channel, status ORDER BY channel;

-- delivery --
SELECT id, transition_id, rule, channel, idempotency_key, message, payload, status, attempts,
    next_attempt_at, created_at, rounds, last_error, group_key, template_error
FROM deliveries WHERE id = ?;

-- deliveries --
SELECT id, transition_id, rule, channel, idempotency_key, message, payload, status, attempts,
    next_attempt_at, created_at, rounds, last_error, group_key, template_error
FROM deliveries ORDER BY created_at DESC, id LIMIT ?;

-- deliveries_with_status --
SELECT id, transition_id, rule, channel, idempotency_key, message, payload, status, attempts,
    next_attempt_at, created_at, rounds, last_error, group_key, template_error
FROM deliveries WHERE status = ? ORDER BY created_at DESC, id LIMIT ?;

-- attempts --
SELECT delivery_id, n, started_at, latency_ms, ok, http_status, reason, excerpt
FROM attempts WHERE delivery_id = ? ORDER BY n;

-- runs --
SELECT snapshot, first_seen_at, phase_since FROM runs ORDER BY updated_at DESC LIMIT ?;

-- runs_of_source --
SELECT snapshot, first_seen_at, phase_since FROM runs
WHERE source = ? ORDER BY updated_at DESC LIMIT ?;

-- transitions --
SELECT id, source, run_id, from_phase, to_phase, from_status, to_status, observed_at, via,
    backfill, skipped
FROM transitions ORDER BY observed_at DESC, rowid DESC LIMIT ?;

-- insert_silence --
INSERT INTO silences (id, matchers, starts_at, ends_at, comment, created_by)
VALUES (?, ?, ?, ?, ?, ?);

-- silences --
SELECT id, matchers, starts_at, ends_at, comment, created_by FROM silences ORDER BY starts_at, id;

-- silences_active --
SELECT id, matchers, starts_at, ends_at, comment, created_by FROM silences
WHERE ends_at > ? ORDER BY starts_at, id;

-- expire_silence --
-- (now, id, now)
UPDATE silences SET ends_at = ? WHERE id = ? AND ends_at > ?;

-- due_digests --
-- (rule, channel, window end) of the windows that ended with items not yet sent
SELECT DISTINCT rule, channel, window_end FROM digest_items
WHERE sent = 0 AND window_end <= ? ORDER BY window_end, rule, channel;

-- digest_window --
-- (rule, channel, window end)
SELECT id, item FROM digest_items
WHERE sent = 0 AND rule = ? AND channel = ? AND window_end = ? ORDER BY id;

-- digest_item_sent --
UPDATE digest_items SET sent = 1 WHERE id = ?;

-- expire_claims --
-- (now, owner): a restarted process's own claims, their leases ended now (the next claim takes
-- them back, each with an `interrupted` attempt)
UPDATE deliveries SET lease_until = ? WHERE status = 'sending' AND lease_owner = ?;

-- hold --
-- (name, owner, until, now): take the lease if free or run out, renew it if ours; the token
-- grows only when the lease changes hands. No row returned: another owner holds it
INSERT INTO leases (name, owner, until, token) VALUES (?1, ?2, ?3, 1)
ON CONFLICT (name) DO UPDATE SET
    token = CASE WHEN leases.owner = excluded.owner THEN leases.token ELSE leases.token + 1 END,
    owner = excluded.owner, until = excluded.until
WHERE leases.owner = excluded.owner OR leases.until <= ?4
RETURNING token;

-- let_go --
-- (name, owner): run out at once, the token kept so the next holder's is greater
UPDATE leases SET until = 0 WHERE name = ? AND owner = ?;

-- leases --
-- (now)
SELECT name, owner, until FROM leases WHERE until > ? ORDER BY name;

-- rate_sends_in_window --
-- (channel, since)
SELECT at FROM rate_sends WHERE channel = ? AND at > ? ORDER BY at;

-- rate_forget --
-- (channel, since)
DELETE FROM rate_sends WHERE channel = ? AND at <= ?;

-- rate_send --
INSERT INTO rate_sends (channel, at) VALUES (?, ?);

-- first_sight --
-- (source, key, now): a row changed means the first time
INSERT OR IGNORE INTO seen (source, key, at) VALUES (?, ?, ?);

-- budget --
SELECT lim, remaining, reset_at FROM budgets WHERE key = ?;

-- save_budget --
INSERT OR REPLACE INTO budgets (key, lim, remaining, reset_at) VALUES (?, ?, ?, ?);

-- run_transitions --
SELECT id, source, run_id, from_phase, to_phase, from_status, to_status, observed_at, via,
    backfill, skipped
FROM transitions WHERE source = ? AND run_id = ? ORDER BY observed_at, rowid;

-- transition_deliveries --
SELECT id, transition_id, rule, channel, idempotency_key, message, payload, status, attempts,
    next_attempt_at, created_at, rounds, last_error, group_key, template_error
FROM deliveries WHERE transition_id = ? ORDER BY created_at, id;

-- activity_transitions --
SELECT CAST((observed_at - ?) / ? AS INTEGER), COUNT(*) FROM transitions
WHERE observed_at >= ? GROUP BY 1;

-- activity_deliveries --
SELECT CAST((created_at - ?) / ? AS INTEGER), status, COUNT(*) FROM deliveries
WHERE created_at >= ? GROUP BY 1, 2;

-- transitions_since --
-- (since, limit): transitions observed from `since` on, oldest first, each with its run's stored
-- snapshot (a backtest); transitions of runs pruned since are left out
SELECT t.id, t.source, t.run_id, t.from_phase, t.to_phase, t.from_status, t.to_status,
    t.observed_at, t.via, t.backfill, t.skipped, r.snapshot
FROM transitions t JOIN runs r ON r.source = t.source AND r.run_id = t.run_id
WHERE t.observed_at >= ? ORDER BY t.observed_at, t.rowid LIMIT ?;

-- take_suppressed --
-- the counts of a rule and channel, taken by the delivery that will tell them
DELETE FROM suppressed WHERE rule = ? AND channel = ? RETURNING reason, count, since;

-- add_suppressed --
INSERT INTO suppressed (rule, channel, reason, count, since) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (rule, channel, reason)
DO UPDATE SET count = count + excluded.count, since = MIN(since, excluded.since);

-- suppressed_counts --
SELECT rule, channel, reason, count, since FROM suppressed;

-- held_groups --
-- deliveries waiting in a group (group window, quiet hours, rate limit): deliveries_group
SELECT rule, channel, group_key, COUNT(*), MIN(created_at) FROM deliveries
WHERE group_key IS NOT NULL AND status = 'pending'
GROUP BY rule, channel, group_key;
