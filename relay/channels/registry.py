"""ChannelConfig -> a live Channel of the right kind."""

from __future__ import annotations

from relay.channels.base import Channel
from relay.channels.console import ConsoleChannel
from relay.channels.slack import SlackChannel
from relay.channels.webhook import WebhookChannel
from relay.config import ChannelConfig


def open_channel(config: ChannelConfig, timeout: float) -> Channel:
    if config.kind == "console":
        return ConsoleChannel(config.name)
    if config.kind == "slack":
        return SlackChannel(config, timeout)
    if config.kind == "webhook":
        return WebhookChannel(config, timeout)
    from relay.channels.apprise_channel import AppriseChannel

    return AppriseChannel(config)
