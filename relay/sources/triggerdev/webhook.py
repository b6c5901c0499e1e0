"""Pushes to a Trigger.dev source: alert webhooks (`alert.run.failed`, payload v1 and v2)
signed with hex(HMAC-SHA256(webhook_secret, raw body)) in `x-trigger-signature-hmacsha256`,
or the relay's own run shape (a run object or {"runs": [...]}) with a Standard Webhooks
signature. An alert's `push_key` names it, so that a replay of one already taken is answered
as such (relay.web.webhooks)."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from dataclasses import replace

from relay import jsonin
from relay.config import SourceConfig
from relay.errors import BadJson
from relay.models import Snapshot
from relay.signing import SignatureError
from relay.sources.base import standard_webhooks
from relay.sources.parsing import short, text
from relay.sources.recoup.parse import parse_webhook_body
from relay.sources.triggerdev.options import run_url_template
from relay.sources.triggerdev.parse import is_alert, parse_alert, trim_error

log = logging.getLogger("relay.sources.triggerdev")

SIGNATURE_HEADER = "x-trigger-signature-hmacsha256"


def _hex_hmac(secret: str, body: bytes) -> bytes:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()


def authenticate(config: SourceConfig, headers: Mapping[str, str], body: bytes) -> None:
    """A Trigger.dev signature (x-trigger-signature-hmacsha256, alert payloads only), or else
    a Standard Webhooks signature (any accepted shape). Raises SignatureError.

    A Trigger.dev signature has no timestamp, so it is accepted only over alert payloads, whose
    ids are remembered against replays; run objects must come with Standard Webhooks, whose
    timestamp bounds a replay. When the Trigger.dev header is present, it alone decides."""
    signature = _header(headers, SIGNATURE_HEADER)
    if signature is None:
        standard_webhooks(config, headers, body)
        return
    if not config.webhook_secrets:
        raise SignatureError("the source has no webhook_secret")
    got = signature.strip().lower().encode("utf-8", "replace")
    if not any(hmac.compare_digest(_hex_hmac(s, body), got) for s in config.webhook_secrets):
        raise SignatureError(f"{SIGNATURE_HEADER} does not match the body")
    try:
        alert = is_alert(jsonin.loads(body))
    except BadJson:
        return  # signed but not JSON the relay takes: the parser answers 400
    if not alert:
        raise SignatureError(
            f"{SIGNATURE_HEADER} is accepted on Trigger.dev alert payloads only;"
            " sign run objects with Standard Webhooks"
        )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    return next((v for k, v in headers.items() if k.lower() == name), None)


def parse_webhook(body: object, config: SourceConfig) -> list[Snapshot]:
    """An alert, or the relay's run shape (a run object or {"runs": [...]}). Alerts about
    deployments or error groups are accepted and ignored (no snapshot)."""
    template = run_url_template(config)
    if not isinstance(body, dict) or not is_alert(body):
        snapshots = parse_webhook_body(body, source=config.name, run_url=template)
        return [replace(s, error=trim_error(s.error)) for s in snapshots]
    snapshot = parse_alert(body, source=config.name, run_url=template)
    if snapshot is None:
        log.info("alert_ignored source=%s type=%s", config.name, short(body.get("type")))
        return []
    return [snapshot]


def push_key(body: object, snapshots: list[Snapshot]) -> str | None:
    """An alert's id (a v1 alert has none: its run's). Trigger.dev retries a delivery whose
    answer it did not get; a replay is answered 202 with `accepted: 0`, as a 409 would make
    it retry twice more."""
    if not isinstance(body, dict) or not is_alert(body) or not snapshots:
        return None
    alert_id = body.get("id")
    return f"alert:{alert_id}" if text(alert_id) else f"run:{snapshots[0].run_id}"
