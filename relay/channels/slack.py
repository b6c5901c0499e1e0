"""Slack incoming webhooks, natively: Block Kit with a plain-text fallback.

Native rather than through apprise because apprise's Slack plugin always posts to
hooks.slack.com (so it cannot be pointed at a Slack-compatible endpoint such as Mattermost's
or a test sink) and sleeps between sends to throttle itself.
"""

from __future__ import annotations

import json
from typing import Any

from relay.channels.base import Response
from relay.channels.http import new_client, post
from relay.models import Delivery, Message
from relay.rules.config import ChannelConfig

ICONS = {"success": ":white_check_mark:", "failure": ":x:", "info": ":information_source:"}


def slack_payload(message: Message) -> dict[str, Any]:
    icon = ICONS.get(message.severity, "")
    header = f"{icon} *{_escape(message.title)}*".strip()
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{header}\n{_escape(message.body)}"}}
    ]
    if message.fields:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{_escape(k)}*\n{_escape(v)}"}
                    for k, v in message.fields[:10]
                ],
            }
        )
    if message.link:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{message.link}|Open the run>"}]}
        )
    return {"text": f"{message.title}\n{message.body}", "blocks": blocks}


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


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
