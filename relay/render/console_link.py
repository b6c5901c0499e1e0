"""A planned delivery with the console link of its run (RELAY_PUBLIC_URL): in its Message,
which every channel shows, and in its webhook payload as `message.console_url`. Pure.

Added after planning, so that without a public URL nothing changes: not a byte of a message
or a payload.
"""

from __future__ import annotations

from dataclasses import replace

from relay.links import RunLinks
from relay.models import Delivery, Snapshot

LABEL = "Replay or silence in the relay console"


def with_console_link(delivery: Delivery, url: str) -> Delivery:
    payload = dict(delivery.payload)
    if isinstance(message := payload.get("message"), dict):
        payload["message"] = {**message, "console_url": url}
    return replace(delivery, message=replace(delivery.message, console=url), payload=payload)


def linked(deliveries: list[Delivery], links: RunLinks | None, run: Snapshot) -> list[Delivery]:
    """The deliveries with the console link of their run, when the relay has a public URL."""
    if links is None or not deliveries:
        return deliveries
    url = links.for_run(run.source, run.run_id)
    return [with_console_link(d, url) for d in deliveries]
