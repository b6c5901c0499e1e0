"""Nouns <-> rows for the SQLite store. `x_row(noun)` gives the parameters of the statement
that writes it (queries.sql), in the order of its columns; `x_from_row(row)` reads a row of a
statement that selects it back, in that statement's column order. JSON and epoch seconds:
codec.py."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from relay.digests import DigestItem
from relay.models import Attempt, Delivery, DeliveryStatus, Phase, RunState, Snapshot, Transition, Via
from relay.silences import Silence
from relay.store.base import Claim, Outcome
from relay.store.codec import (
    digest_item_to_json,
    dumps,
    epoch,
    from_epoch,
    message_from_json,
    message_to_json,
    payload_from_json,
    snapshot_from_json,
    snapshot_to_json,
)
from relay.store.sqlite.engine import Row

Params = tuple[Any, ...]  # a statement's parameters, in its order


def run_row(s: Snapshot, first_seen_at: float, phase_since: float) -> Params:
    return (
        s.source,
        s.run_id,
        s.task,
        s.status,
        s.phase.value,
        int(s.terminal),
        epoch(s.updated_at),
        first_seen_at,
        snapshot_to_json(s),
        phase_since,
    )


def run_state_from_row(row: Row) -> RunState:
    """(snapshot, first_seen_at, phase_since); rows from before phase_since have none."""
    return RunState(snapshot_from_json(row[0]), from_epoch(row[1]), from_epoch(row[2] or row[1]))


def transition_row(t: Transition) -> Params:
    return (
        t.id,
        t.source,
        t.run_id,
        t.from_phase.value if t.from_phase else None,
        t.to_phase.value,
        t.from_status,
        t.to_status,
        epoch(t.observed_at),
        t.via.value,
        int(t.backfill),
        ",".join(p.value for p in t.skipped),
    )


def transition_from_row(r: Row) -> Transition:
    return Transition(
        id=r[0],
        source=r[1],
        run_id=r[2],
        from_phase=Phase(r[3]) if r[3] else None,
        to_phase=Phase(r[4]),
        from_status=r[5],
        to_status=r[6],
        observed_at=from_epoch(r[7]),
        via=Via(r[8]),
        backfill=bool(r[9]),
        skipped=tuple(Phase(p) for p in r[10].split(",") if p),
    )


def delivery_row(d: Delivery, lease_until: float | None = None, owner: str | None = None) -> Params:
    return (
        d.id,
        d.transition_id,
        d.rule,
        d.channel,
        d.idempotency_key,
        message_to_json(d.message),
        dumps(d.payload),
        d.status.value,
        d.attempts,
        epoch(d.next_attempt_at),
        epoch(d.created_at),
        d.rounds,
        d.last_error,
        d.group_key,
        d.template_error,
        lease_until,
        owner if lease_until is not None else None,
    )


def written_row(d: Delivery, now: datetime, claim: Claim | None) -> Params:
    """A fresh delivery's row: with its claim's lease and owner if it was claimed as written."""
    if claim is None or d.status != DeliveryStatus.SENDING:
        return delivery_row(d)
    return delivery_row(d, epoch(now) + claim.lease, claim.owner)


def delivery_from_row(r: Row) -> Delivery:
    return Delivery(
        id=r[0],
        transition_id=r[1],
        rule=r[2],
        channel=r[3],
        idempotency_key=r[4],
        message=message_from_json(r[5]),
        payload=payload_from_json(r[6]),
        status=DeliveryStatus(r[7]),
        attempts=r[8],
        next_attempt_at=from_epoch(r[9]),
        created_at=from_epoch(r[10]),
        rounds=r[11],
        last_error=r[12],
        group_key=r[13],
        template_error=r[14],
    )


def completion_row(delivery_id: str, attempts: int, outcome: Outcome) -> Params:
    """A claimed delivery's round: how many attempts it made, a failed round or not."""
    return (
        outcome.status.value,
        attempts,
        int(outcome.status != DeliveryStatus.SENT),
        epoch(outcome.next_attempt_at) if outcome.next_attempt_at else None,
        outcome.error,
        delivery_id,
    )


def attempt_row(a: Attempt) -> Params:
    return (
        a.delivery_id,
        a.n,
        epoch(a.started_at),
        a.latency_ms,
        int(a.ok),
        a.http_status,
        a.reason,
        a.excerpt,
    )


def attempt_from_row(r: Row) -> Attempt:
    return Attempt(r[0], r[1], from_epoch(r[2]), r[3], bool(r[4]), r[5], r[6], r[7])


def silence_row(s: Silence) -> Params:
    return (
        s.id,
        dumps(dict(s.matchers)),
        epoch(s.starts_at),
        epoch(s.ends_at),
        s.comment,
        s.created_by,
    )


def silence_from_row(r: Row) -> Silence:
    matchers = tuple(sorted(json.loads(r[1]).items()))
    return Silence(r[0], matchers, from_epoch(r[2]), from_epoch(r[3]), r[4], r[5])


def digest_item_row(i: DigestItem) -> Params:
    return (i.rule, i.channel, epoch(i.window_end), digest_item_to_json(i))
