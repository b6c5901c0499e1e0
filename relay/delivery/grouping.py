"""A group of deliveries (one rule, one channel, one group window) as one message. Pure."""

from __future__ import annotations

from dataclasses import replace

from relay.models import Delivery, Message

MAX_LINES = 50  # lines listed in one grouped message; the rest are counted


def merge(members: list[Delivery]) -> Delivery:
    """One delivery carrying every member's facts; sent once, its outcome applies to all."""
    first = members[0]
    if len(members) == 1:
        return first
    lines = [f"• {m.message.title}" + (f" ({m.message.link})" if m.message.link else "") for m in members]
    if len(lines) > MAX_LINES:
        lines = [*lines[:MAX_LINES], f"… and {len(lines) - MAX_LINES} more"]
    severities = {m.message.severity for m in members}
    severity = "failure" if "failure" in severities else first.message.severity
    message = Message(f"{first.rule}: {len(members)} notifications", "\n".join(lines), severity)
    payload = {
        "type": "run.transition.group",
        "version": "1",
        "rule": first.rule,
        "count": len(members),
        "items": [m.payload for m in members],
    }
    return replace(first, message=message, payload=payload)
