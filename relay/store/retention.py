"""What `Store.prune` lets go, in the terms every backend shares (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta

from relay.models import Delivery, DeliveryStatus, Retention

# a channel's rate limit looks back one period at most; periods are minutes, an hour is ample
RATE_SENDS_KEPT = 3600.0
BACKLOG_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.DEAD)
# the tables `prune` answers for, in the order it empties them (deliveries before the
# transitions they refer to)
TABLES = ("deliveries", "attempts", "transitions", "runs", "seen", "rate_sends", "digest_items")


def prunable(d: Delivery, retention: Retention, now: datetime) -> bool:
    """Sent or silenced and older than `retention.sent`, or dead and older than `.dead`; a
    delivery's age counts from when it was written. Pending and sending ones never go."""
    if d.status in (DeliveryStatus.SENT, DeliveryStatus.SILENCED):
        return d.created_at < now - timedelta(seconds=retention.sent)
    if d.status == DeliveryStatus.DEAD:
        return d.created_at < now - timedelta(seconds=retention.dead)
    return False


def cutoffs(retention: Retention, now: datetime) -> dict[str, float]:
    """Epoch seconds before which each kind of row may go (the SQL backends' parameters)."""
    t = now.timestamp()
    return {
        "sent": t - retention.sent,
        "dead": t - retention.dead,
        "transitions": t - retention.transitions,
        "finished_runs": t - retention.finished_runs,
        "seen": t - retention.seen,
        "rate_sends": t - RATE_SENDS_KEPT,
    }
