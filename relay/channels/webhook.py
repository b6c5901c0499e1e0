"""Outbound webhook: the versioned JSON payload (docs/webhook-payload.schema.json), signed the
Standard Webhooks way (relay.signing), once per configured secret; `webhook-id` is the delivery
id, the same on every retry, so receivers can de-duplicate."""

from __future__ import annotations

import json
import time

from relay.channels.base import Response
from relay.channels.http import new_client, post
from relay.config import ChannelConfig
from relay.models import Delivery
from relay.signing import sign_all


class WebhookChannel:
    def __init__(self, config: ChannelConfig, timeout: float) -> None:
        self.name = config.name
        self._config = config
        self._client = new_client(timeout)

    async def send(self, delivery: Delivery) -> Response:
        body = json.dumps(delivery.payload, separators=(",", ":")).encode()
        headers = {"content-type": "application/json", **dict(self._config.headers)}
        timestamp = int(time.time())
        headers |= {"webhook-id": delivery.id, "webhook-timestamp": str(timestamp)}
        if self._config.secrets:  # one signature per secret: receivers may hold any one of them
            headers["webhook-signature"] = sign_all(self._config.secrets, delivery.id, timestamp, body)
        return await post(self._client, self._config.url, body, headers)

    async def close(self) -> None:
        await self._client.aclose()
