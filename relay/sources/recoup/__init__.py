"""Recoup (`kind: recoup`): polled (poll.py), pushed in the relay's own shape (webhook.py)."""

from __future__ import annotations

from relay.lifecycle import TRIGGER_STATUSES
from relay.sources.base import PollerParts, SourceKind
from relay.sources.recoup import schedules
from relay.sources.recoup.client import RecoupClient
from relay.sources.recoup.poll import RecoupPoller
from relay.sources.recoup.webhook import parse_webhook


def make_poller(parts: PollerParts) -> RecoupPoller:
    client = RecoupClient.for_source(parts.config, parts.http)
    return RecoupPoller(
        parts.config, client, parts.store, parts.ingest, parts.clock, health=parts.state.health
    )


KIND = SourceKind(
    "recoup",
    parse_webhook,
    make_poller=make_poller,
    statuses=frozenset(TRIGGER_STATUSES) | schedules.STATUSES,
)
