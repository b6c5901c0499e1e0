"""Platform status names -> normalized Phase.

Trigger.dev serves two vocabularies (legacy without the `x-trigger-api-version` header, new
with it) and Recoup passes both through (list: legacy, by id: new). The mapping is their union,
and every legacy/new pair for the same internal state maps to the same phase, so a change of
name alone is never a transition (docs/platforms.md 2.4, 3.4, 4.2).
"""

from __future__ import annotations

from relay.models import Phase

TRIGGER_STATUSES: dict[str, Phase] = {
    "DELAYED": Phase.PENDING,
    "PENDING_VERSION": Phase.PENDING,
    "WAITING_FOR_DEPLOY": Phase.PENDING,
    "QUEUED": Phase.QUEUED,
    "DEQUEUED": Phase.RUNNING,
    "EXECUTING": Phase.RUNNING,
    # legacy name of RETRYING_AFTER_FAILURE; the new vocabulary calls the same state EXECUTING
    "REATTEMPTING": Phase.RUNNING,
    "FROZEN": Phase.WAITING,
    "WAITING": Phase.WAITING,
    "COMPLETED": Phase.SUCCEEDED,
    "FAILED": Phase.FAILED,
    # legacy; the new vocabulary reports it as FAILED
    "INTERRUPTED": Phase.FAILED,
    "CANCELED": Phase.CANCELED,
    "CRASHED": Phase.CRASHED,
    "SYSTEM_FAILURE": Phase.SYSTEM_ERROR,
    "EXPIRED": Phase.EXPIRED,
    "TIMED_OUT": Phase.TIMED_OUT,
}


def trigger_phase(status: str) -> Phase:
    """Unknown names are kept (the snapshot stores the raw status) and never crash a source."""
    return TRIGGER_STATUSES.get(status.upper(), Phase.UNKNOWN)
