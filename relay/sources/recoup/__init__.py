"""Recoup (`kind: recoup`): polled (poll.py), pushed in the relay's own shape (webhook.py)."""

from __future__ import annotations

import httpx2

from relay.clock import Clock
from relay.lifecycle import TRIGGER_STATUSES
from relay.rules.config import SourceConfig
from relay.sources.base import Ingest, SourceKind
from relay.sources.recoup import schedules
from relay.sources.recoup.client import RecoupClient
from relay.sources.recoup.poll import RecoupPoller
from relay.sources.recoup.webhook import parse_webhook
from relay.sources.state import SourceState
from relay.store.base import Store


def open_poller(
    config: SourceConfig,
    http: httpx2.AsyncClient,
    store: Store,
    ingest: Ingest,
    clock: Clock,
    state: SourceState | None = None,
) -> RecoupPoller:
    health = state.health if state else None
    return RecoupPoller(config, RecoupClient.for_source(config, http), store, ingest, clock, health=health)


KIND = SourceKind(
    "recoup",
    parse_webhook,
    open_poller=open_poller,
    statuses=frozenset(TRIGGER_STATUSES) | schedules.STATUSES,
)
