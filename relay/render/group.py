"""A group of deliveries (one rule, one channel, one group window) as one Message. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from relay.models import Delivery, Message
from relay.render.default import NOTE
from relay.render.escape import one_line

MAX_ROWS = 50  # members listed in one grouped message; the rest are counted ("… and N more")


def group_message(members: Sequence[Delivery]) -> Message:
    """A table of the members' titles, each linking its run; the failure colour if any failed;
    the redaction note if any member's run had values masked."""
    first, shown = members[0], members[:MAX_ROWS]
    severities = {m.message.severity for m in members}
    severity = "failure" if "failure" in severities else first.message.severity
    return Message(
        f"{first.rule}: {len(members)} notifications",
        NOTE if any(m.payload.get("redacted") for m in members) else "",
        severity,
        rows=(("Notification",), *((one_line(m.message.title),) for m in shown)),
        row_links=tuple(m.message.link for m in shown),
        more=len(members) - len(shown),
    )
