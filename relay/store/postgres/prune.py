"""What `prune` deletes, table by table, in an order that deletes what refers to a row before
the row: (table, the Retention fields that give its cutoffs, the DELETE, its cutoffs as $1...).

A delivery's age is that of its last activity, GREATEST(created_at, next_attempt_at): a
replayed dead letter or a retried send counts from when it was last due, not from its birth."""

from __future__ import annotations

_GONE = """
    (d.status IN ('sent', 'silenced') AND GREATEST(d.created_at, d.next_attempt_at) <= $1)
    OR (d.status = 'dead' AND GREATEST(d.created_at, d.next_attempt_at) <= $2)
"""

PRUNE: list[tuple[str, tuple[str, ...], str]] = [
    (
        "attempts",
        ("sent", "dead"),
        # the deliveries locked first: a replay meanwhile waits, then finds its delivery gone,
        # rather than keeping a delivery whose attempts were deleted
        f"DELETE FROM attempts WHERE delivery_id IN (SELECT d.id FROM deliveries d WHERE {_GONE} FOR UPDATE)",
    ),
    ("deliveries", ("sent", "dead"), f"DELETE FROM deliveries d WHERE {_GONE}"),
    (
        "transitions",
        ("transitions",),
        "DELETE FROM transitions t WHERE t.observed_at <= $1"
        " AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.transition_id = t.id)",
    ),
    (
        "runs",
        ("finished_runs",),
        "DELETE FROM runs WHERE terminal = 1 AND COALESCE(phase_since, first_seen_at) <= $1",
    ),
    ("seen", ("seen",), "DELETE FROM seen WHERE at <= $1"),
    # `admit` forgets a channel's old sends as it counts its next one; a channel that went
    # quiet keeps them until here (RATE_SENDS_KEPT: an hour, the longest rate period)
    ("rate_sends", ("rate_sends",), "DELETE FROM rate_sends WHERE at <= $1"),
    ("digest_items", ("seen",), "DELETE FROM digest_items WHERE sent = 1 AND window_end <= $1"),
]
