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
from relay.messages import truncate
from relay.models import Delivery, Message
from relay.rules.config import ChannelConfig

ICONS = {"success": ":white_check_mark:", "failure": ":x:", "info": ":information_source:"}


SECTION_LIMIT = 3000  # characters Slack accepts in one section's text


def slack_payload(message: Message) -> dict[str, Any]:
    icon = ICONS.get(message.severity, "")
    header = f"{icon} *{_escape(message.title)}*".strip()
    body = "\n".join(_line(line) for line in message.body.splitlines())
    text = truncate(f"{header}\n{body}", SECTION_LIMIT)
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    if message.fields:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{_escape(k)}*\n{_value(v)}"} for k, v in message.fields[:10]
                ],
            }
        )
    if message.rows:
        table = "\n".join(_row(row) for row in message.rows[1:])
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": truncate(table, SECTION_LIMIT)}})
    if message.link:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{message.link}|Open the run>"}]}
        )
    return {"text": truncate(f"{message.title}\n{message.body}", SECTION_LIMIT), "blocks": blocks}


def _line(line: str) -> str:
    """Links clickable, errors in a code block, the rest escaped."""
    if line.startswith("Video: "):
        return f"*Video:* <{line[7:]}|{_escape(line[7:])}>"
    if line.startswith("Error: "):
        return f"```{_escape(line[7:])}```"
    return _escape(line)


def _row(row: tuple[str, ...]) -> str:
    """A digest row as one bullet line: Slack has no tables."""
    task, *rest = row
    return f"• *{_escape(task)}* " + " · ".join(_value(cell) for cell in rest if cell)


def _value(value: str) -> str:
    return f"<{value}|{_escape(value)}>" if value.startswith("https://") else _escape(value)


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
