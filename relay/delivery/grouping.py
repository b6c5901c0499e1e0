"""A group of deliveries (one rule, one channel, one group window) merged into one. Pure."""

from __future__ import annotations

from dataclasses import replace

from relay.models import Delivery
from relay.render.group import group_message
from relay.render.payload import group_payload


def merge(members: list[Delivery]) -> Delivery:
    """One delivery carrying every member's facts; sent once, its outcome applies to all."""
    if len(members) == 1:
        return members[0]
    return replace(members[0], message=group_message(members), payload=group_payload(members))
