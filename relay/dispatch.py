"""Plan: a transition and the rules it matched -> deliveries and digest items. Pure: `now` and
the ids of new deliveries are passed in.

The idempotency key names the run, the phase it reached, the rule and the channel: the same
transition can never enqueue the same notification twice, even if it is observed twice. Noise
control is decided here too, all of it through keys and times the store already enforces:

- `once_per` replaces the run in the key by a key of the rule's choosing and a period
  bucket: the store's unique key lets one through per bucket (fixed windows, e.g. per hour);
- `group_window` gives deliveries of one rule and channel within a window one group key and
  the window's end as due time: the worker sends the group as one message;
- a silence turns a delivery into a recorded `silenced` one;
- a `digest` rule files a digest item instead of a delivery.

Everything a rule sends is built from the run as its redaction policy masks it
(relay/redaction.py): messages, payloads, digest items and once-per keys alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from relay.config import ChannelConfig, Rule
from relay.digests import DigestItem, digest_key
from relay.ids import IdFactory
from relay.models import Delivery, DeliveryStatus, Message, RunState, Snapshot, Transition
from relay.redaction import Redaction, redact_run
from relay.render.default import NOTE, duration_text
from relay.render.digest import digest_message, item_for
from relay.render.payload import build_payload, digest_payload
from relay.render.templates import render, render_text
from relay.silences import Silence, muted_by

QUIET_GROUP = "quiet:"  # the group key's prefix of deliveries held for quiet hours


@dataclass(frozen=True)
class Plan:
    deliveries: list[Delivery] = field(default_factory=list)
    digest_items: list[DigestItem] = field(default_factory=list)


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
    ids: IdFactory,
    silences: Sequence[Silence] = (),
) -> Plan:
    result = Plan()
    redacted: dict[Redaction, tuple[Snapshot, bool]] = {}  # rules mostly share the file's policy
    for rule in rules:
        if rule.stuck_after is not None or not wants(rule, transition):
            continue  # a stuck-run rule fires from the scheduler, never on a transition
        if (found := redacted.get(rule.redaction)) is None:
            found = redacted[rule.redaction] = redact_run(run, rule.redaction)
        shown, masked = found
        rendered: dict[str, tuple[Message, str | None]] = {}  # per channel kind, often shared
        for name in rule.notify:
            channel = channels[name]
            if not channel.enabled:
                continue
            if rule.digest is not None:
                item = item_for(rule.name, name, rule.digest, transition, shown, redacted=masked)
                result.digest_items.append(item)
                continue
            if channel.kind not in rendered:
                rendered[channel.kind] = _render(rule, transition, shown, channel.kind, masked)
            delivery = _delivery(transition, shown, rule, name, rendered[channel.kind], now, masked, ids())
            delivery = hold_for_quiet_hours(delivery, rule, channel, transition, run, now)
            if silences and (silence := muted_by(silences, _facts(run, rule, name), now)):
                delivery = replace(
                    delivery, status=DeliveryStatus.SILENCED, last_error=f"silenced by {silence.id}"
                )
            result.deliveries.append(delivery)
    return result


def _render(
    rule: Rule, transition: Transition, run: Snapshot, kind: str, redacted: bool
) -> tuple[Message, str | None]:
    message, error = render(rule.template, transition, run, kind)
    return (replace(message, body=f"{message.body}\n{NOTE}") if redacted else message), error


def _delivery(
    transition: Transition,
    run: Snapshot,
    rule: Rule,
    channel: str,
    rendered: tuple[Message, str | None],
    now: datetime,
    redacted: bool,
    delivery_id: str,
) -> Delivery:
    key = f"{run.source}:{run.run_id}:{transition.to_phase.value}:{rule.name}:{channel}"
    if rule.once_per is not None:
        bucket = math.floor(now.timestamp() / rule.once_per.period)
        chosen = render_text(rule.once_per.key, transition, run) or run.run_id
        key = f"once:{rule.name}:{channel}:{chosen}:{bucket}"
    due, group = now, None
    if rule.group_window:
        window = math.floor(now.timestamp() / rule.group_window) + 1
        due = datetime.fromtimestamp(window * rule.group_window, UTC)
        group = f"window:{rule.name}:{channel}:{window}"
    message, template_error = rendered
    payload = build_payload(transition, run, message, rule=rule.name, key=key)
    payload["redacted"] = redacted
    return Delivery(
        id=delivery_id,
        transition_id=transition.id,
        rule=rule.name,
        channel=channel,
        idempotency_key=key,
        message=message,
        payload=payload,
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=due,
        created_at=now,
        group_key=group,
        template_error=template_error,
    )


def hold_for_quiet_hours(
    delivery: Delivery,
    rule: Rule,
    channel: ChannelConfig,
    transition: Transition,
    run: Snapshot,
    now: datetime,
) -> Delivery:
    """During the quiet hours of the rule (or else of its channel), a delivery waits for their
    end, grouped with the others held for the same rule, channel and night: one message then.
    An `urgent` match goes out all the same. The unmasked run decides urgency, as it does
    matching."""
    quiet = rule.quiet_hours or channel.quiet_hours
    end = quiet.release(now) if quiet else None
    if end is None or (rule.urgent is not None and rule.urgent.matches(transition, run)):
        return delivery
    group = f"{QUIET_GROUP}{rule.name}:{channel.name}:{end.timestamp():.0f}"
    return replace(delivery, next_attempt_at=end, group_key=group)


def _facts(run: Snapshot, rule: Rule, channel: str) -> dict[str, str]:
    return {
        "source": run.source,
        "task": run.task,
        "status": run.status,
        "phase": run.phase.value,
        "rule": rule.name,
        "channel": channel,
    }


def plan_stuck(
    state: RunState, rule: Rule, channels: Mapping[str, ChannelConfig], *, now: datetime, ids: IdFactory
) -> tuple[Transition, list[Delivery]] | None:
    """A run in a matched phase for longer than the rule's stuck_after: a transition the relay
    observes itself (same phase, status unchanged), notified once per run and rule."""
    run, since = state.snapshot, state.phase_since or state.first_seen_at
    if rule.stuck_after is None or run.terminal or (now - since).total_seconds() < rule.stuck_after:
        return None
    transition = Transition(
        id=f"stuck:{run.source}:{run.run_id}:{rule.name}",
        source=run.source,
        run_id=run.run_id,
        from_phase=run.phase,
        to_phase=run.phase,
        from_status=run.status,
        to_status=run.status,
        observed_at=now,
        via=run.via,
    )
    if not rule.matcher.matches(transition, run):
        return None
    stuck_for = duration_text((now - since).total_seconds() * 1000)
    run, redacted = redact_run(run, rule.redaction)
    deliveries = []
    for name in rule.notify:
        if not channels[name].enabled:
            continue
        message, error = _render(rule, transition, run, channels[name].kind, redacted)
        if rule.template is None:
            message = replace(
                message,
                title=f"{run.task} stuck in {run.status} for {stuck_for} ({run.source})",
                severity="failure",
            )
        delivery = _delivery(transition, run, rule, name, (message, error), now, redacted, ids())
        delivery = hold_for_quiet_hours(delivery, rule, channels[name], transition, state.snapshot, now)
        deliveries.append(
            replace(delivery, idempotency_key=f"{run.source}:{run.run_id}:stuck:{rule.name}:{name}")
        )
    return transition, deliveries


def digest_delivery(
    rule: Rule, channel: str, end: datetime, items: list[DigestItem], *, now: datetime, ids: IdFactory
) -> Delivery | None:
    """The one delivery of a digest window (None for an empty window unless send_empty)."""
    spec = rule.digest
    if spec is None or (not items and not spec.send_empty):
        return None
    message = digest_message(rule.name, spec, end, items)
    key = digest_key(rule.name, channel, end)
    payload = digest_payload(rule.name, spec, end, items, message, key=key)
    return Delivery(
        id=ids(),
        transition_id=None,
        rule=rule.name,
        channel=channel,
        idempotency_key=key,
        message=message,
        payload=payload,
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
