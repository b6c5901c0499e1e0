"""Trigger.dev (`kind: triggerdev`): runs polled through the management API (poll.py,
client.py), failures pushed by alert webhooks (webhook.py). docs/platforms.md 2 and 4.2."""

from __future__ import annotations

import logging

from relay.errors import ConfigError
from relay.lifecycle import TRIGGER_STATUSES
from relay.sources.base import PollerParts, SourceKind
from relay.sources.triggerdev.client import TriggerClient
from relay.sources.triggerdev.options import TriggerOptions, check_options
from relay.sources.triggerdev.poll import TriggerPoller
from relay.sources.triggerdev.webhook import authenticate, parse_webhook, push_key

log = logging.getLogger("relay.sources.triggerdev")
SECRET_KEYS = ("tr_dev_", "tr_prod_", "tr_stg_", "tr_preview_")


def make_poller(parts: PollerParts) -> TriggerPoller:
    """Raises ConfigError for invalid options."""
    config = parts.config
    try:
        options = TriggerOptions.of(config)
    except ValueError as exc:
        raise ConfigError(f"source {config.name!r}: {exc}") from None
    if not config.api_key.startswith(SECRET_KEYS):
        log.warning(
            "source_key_suspect source=%s reason=expected a secret key (tr_dev_, tr_prod_, tr_stg_,"
            " tr_preview_); personal access and public keys cannot retrieve runs by id",
            config.name,
        )
    budget = parts.state.budget(config.base_url.rstrip("/"), config.api_key)
    client = TriggerClient.for_source(config, parts.http, parts.clock, budget)
    return TriggerPoller(
        config, client, parts.store, parts.ingest, parts.clock, options=options, health=parts.state.health
    )


KIND = SourceKind(
    "triggerdev",
    parse_webhook,
    statuses=frozenset(TRIGGER_STATUSES),
    authenticate=authenticate,
    make_poller=make_poller,
    check_options=check_options,
    secret_is_key=False,  # Trigger.dev's alerts use it as a plain HMAC secret
    push_key=push_key,
)
