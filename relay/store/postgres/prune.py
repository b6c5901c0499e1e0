"""What `prune` deletes, table by table, in an order that deletes what refers to a row before
the row: (table, the cutoffs it takes as $1..., from relay/store/retention.py `cutoffs`, the
DELETE). A delivery's age counts from when it was written (retention.prunable)."""

from __future__ import annotations

_GONE = """
    (d.status IN ('sent', 'silenced') AND d.created_at < $1)
    OR (d.status = 'dead' AND d.created_at < $2)
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
        # after the deliveries: one that referred to it and went no longer keeps it
        "transitions",
        ("transitions",),
        "DELETE FROM transitions t WHERE t.observed_at < $1"
        " AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.transition_id = t.id)",
    ),
    (
        "runs",
        ("finished_runs",),
        "DELETE FROM runs WHERE terminal = 1 AND COALESCE(phase_since, first_seen_at) < $1",
    ),
    ("seen", ("seen",), "DELETE FROM seen WHERE at < $1"),
    ("rate_sends", ("rate_sends",), "DELETE FROM rate_sends WHERE at < $1"),
    ("digest_items", ("seen",), "DELETE FROM digest_items WHERE sent = 1 AND window_end < $1"),
]
