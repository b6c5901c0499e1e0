"""Outbound webhook: the versioned JSON payload (docs/webhook-payload.schema.json), signed the
Standard Webhooks way (relay.signing), once per configured secret; `webhook-id` is the delivery
id, the same on every retry, so receivers can de-duplicate.

A payload read back from the store is sent as the text it was stored as (the same encoding:
relay.store.codec.payload_from_json); the secrets' HMAC keys are set up once, each message
signed on a copy (a third of a one-shot digest's cost, which sets the key up every time)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from relay.channels.base import Response
from relay.channels.http import new_client, post
from relay.config import ChannelConfig
from relay.jsonout import compact
from relay.models import JSON, Delivery, StoredJSON
from relay.signing import key


class WebhookChannel:
    def __init__(self, config: ChannelConfig, timeout: float) -> None:
        self.name = config.name
        self._config = config
        self._client = new_client(timeout)
        self._headers = {"content-type": "application/json", **dict(config.headers)}
        self._macs = [hmac.new(key(s), digestmod=hashlib.sha256) for s in config.secrets]

    async def send(self, delivery: Delivery) -> Response:
        body = _body(delivery.payload)
        timestamp = int(time.time())
        headers = self._headers | {"webhook-id": delivery.id, "webhook-timestamp": str(timestamp)}
        if self._macs:  # one signature per secret: receivers may hold any one of them
            headers["webhook-signature"] = self._sign(f"{delivery.id}.{timestamp}.".encode() + body)
        return await post(self._client, self._config.url, body, headers)

    def _sign(self, content: bytes) -> str:
        """relay.signing.sign_all, with the keys set up already."""
        signatures = []
        for mac in self._macs:
            one = mac.copy()
            one.update(content)
            signatures.append("v1," + base64.b64encode(one.digest()).decode())
        return " ".join(signatures)

    async def close(self) -> None:
        await self._client.aclose()


def _body(payload: JSON) -> bytes:
    if isinstance(payload, StoredJSON) and payload.text is not None:
        return payload.text.encode()
    return compact(payload).encode()
