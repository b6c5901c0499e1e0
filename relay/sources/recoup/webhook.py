"""Pushes to a Recoup source: the relay's own run shape (Recoup sends no webhooks of its own),
signed with Standard Webhooks (the SourceKind default)."""

from __future__ import annotations

from relay.config import SourceConfig
from relay.models import Snapshot
from relay.sources.recoup.parse import parse_webhook_body


def parse_webhook(body: object, config: SourceConfig) -> list[Snapshot]:
    return parse_webhook_body(body, source=config.name, run_url=config.run_url)
