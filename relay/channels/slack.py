"""Slack incoming webhooks, natively (the payload is relay.render.slack's).

Native rather than through apprise because apprise's Slack plugin always posts to
hooks.slack.com (so it cannot be pointed at a Slack-compatible endpoint such as Mattermost's
or a test sink) and sleeps between sends to throttle itself.
"""

from __future__ import annotations

import json

from relay.channels.base import Response
from relay.channels.http import new_client, post
from relay.config import ChannelConfig
from relay.models import Delivery
from relay.render.slack import slack_payload


class SlackChannel:
    def __init__(self, config: ChannelConfig, timeout: float) -> None:
        self.name = config.name
        self._url = config.url
        self._client = new_client(timeout)

    async def send(self, delivery: Delivery) -> Response:
        body = json.dumps(slack_payload(delivery.message)).encode()
        return await post(self._client, self._url, body, {"content-type": "application/json"})

    async def close(self) -> None:
        await self._client.aclose()
