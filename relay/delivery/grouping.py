"""A group of deliveries (one rule, one channel, one group window) as one message. Pure."""

from __future__ import annotations

from dataclasses import replace

from relay.models import Delivery, Message
from relay.render.escape import one_line

MAX_ROWS = 50  # members listed in one grouped message; the rest are counted ("… and N more")


def merge(members: list[Delivery]) -> Delivery:
    """One delivery carrying every member's facts; sent once, its outcome applies to all."""
    first = members[0]
    if len(members) == 1:
        return first
    shown = members[:MAX_ROWS]
    severities = {m.message.severity for m in members}
    severity = "failure" if "failure" in severities else first.message.severity
    message = Message(
        f"{first.rule}: {len(members)} notifications",
        "",
        severity,
        rows=(("Notification",), *((one_line(m.message.title),) for m in shown)),
        row_links=tuple(m.message.link for m in shown),
        more=len(members) - len(shown),
    )
    payload = {
        "type": "run.transition.group",
        "version": "1",
        "rule": first.rule,
        "count": len(members),
        "items": [m.payload for m in members],
    }
    return replace(first, message=message, payload=payload)
