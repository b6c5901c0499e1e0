"""Plan: a transition and the rules it matched -> deliveries. Pure.

The idempotency key names the run, the phase it reached, the rule and the channel: the same
transition can never enqueue the same notification twice, even if it is observed twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime

from relay.models import Delivery, DeliveryStatus, Snapshot, Transition
from relay.payload import build_payload
from relay.rules.config import ChannelConfig, Rule
from relay.rules.templates import render


def wants(rule: Rule, transition: Transition) -> bool:
    """Does the rule notify for this transition, given how it treats runs first seen finished?"""
    if not transition.first_seen:
        return True
    if rule.first_seen == "never":
        return False
    return rule.first_seen == "always" or not transition.backfill


def plan(
    transition: Transition,
    run: Snapshot,
    rules: Iterable[Rule],
    channels: Mapping[str, ChannelConfig],
    *,
    now: datetime,
) -> list[Delivery]:
    deliveries: list[Delivery] = []
    for rule in rules:
        if not wants(rule, transition):
            continue
        message = render(rule.template, transition, run)
        for name in rule.notify:
            if not channels[name].enabled:
                continue
            key = f"{run.source}:{run.run_id}:{transition.to_phase.value}:{rule.name}:{name}"
            deliveries.append(
                Delivery(
                    id=uuid.uuid4().hex,
                    transition_id=transition.id,
                    rule=rule.name,
                    channel=name,
                    idempotency_key=key,
                    message=message,
                    payload=build_payload(transition, run, message, rule=rule.name, key=key),
                    status=DeliveryStatus.PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    return deliveries
