"""A group of deliveries (one rule, one channel, one group window) merged into one. Pure.

The merged delivery says how many messages it folds and why (its group key's kind: a group
window, quiet hours, a rate limit), with the counts its members carry of messages that never
went out at all (silenced, once per): relay/render/suppressed.py.
"""

from __future__ import annotations

from dataclasses import replace

from relay.models import Delivery
from relay.render.group import group_message
from relay.render.payload import group_payload
from relay.render.suppressed import Count, combine, note
from relay.store.suppression import SUPPRESSED, held_reason


def merge(members: list[Delivery]) -> Delivery:
    """One delivery carrying every member's facts; sent once, its outcome applies to all."""
    counts = [c for m in members for c in m.payload.get(SUPPRESSED) or ()]
    first = members[0]
    if len(members) > 1:
        folded = {"reason": held_reason(first.group_key or ""), "count": len(members) - 1}
        counts.append(folded | {"since": min(m.created_at for m in members).isoformat()})
        first = replace(first, message=group_message(members), payload=group_payload(members))
    if not counts:
        return first
    return with_counts(first, combine(counts))


def with_counts(delivery: Delivery, counts: list[Count]) -> Delivery:
    """The delivery's message and payload saying what was held back or folded before it."""
    line = note(counts, delivery.created_at)
    body = f"{delivery.message.body}\n{line}" if delivery.message.body else line
    return replace(
        delivery,
        message=replace(delivery.message, body=body),
        payload=delivery.payload | {SUPPRESSED: counts},
    )
