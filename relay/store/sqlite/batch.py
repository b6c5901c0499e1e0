"""`record_many` on SQLite: a batch of snapshots decided and written inside one write of the
group-commit engine, with a handful of statements for the whole batch instead of eight per
snapshot: one read of the runs it names (per source), one per task for its last outcome, then
multi-row writes of runs, transitions, deliveries and digest items.

Everything is decided before anything is written, against the stored rows overlaid with what
the batch itself decided so far (a run listed twice sees its first snapshot's state), so a
decision that raises leaves nothing behind. The engine holds the write lock (BEGIN IMMEDIATE)
from the first read to the commit: no other writer can slip in between the reads and the
writes, which is what lets the delivery keys be checked once up front.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from relay.models import Delivery, Phase, RunState, Snapshot
from relay.store.base import Claim, Context, DecideEach, Decision, as_written, claimed_as_written
from relay.store.codec import epoch, from_epoch
from relay.store.sqlite import suppression
from relay.store.sqlite.mappers import (
    Params,
    digest_item_row,
    run_row,
    run_state_from_row,
    transition_row,
    written_row,
)
from relay.store.sqlite.queries import SQL

RunKey = tuple[str, str]  # (source, run id)
Stored = tuple[RunState, float, float]  # a run's state, first_seen_at and phase_since as stored


@dataclass
class _Batch:
    """What the batch has read and decided so far: the store as its next snapshot sees it."""

    runs: dict[RunKey, Stored | None] = field(default_factory=dict)
    task_last: dict[tuple[str, str], Phase | None] = field(default_factory=dict)
    run_rows: list[Params] = field(default_factory=list)
    outcomes: dict[tuple[str, str], Phase] = field(default_factory=dict)


def record_many(
    c: sqlite3.Connection,
    snapshots: Sequence[Snapshot],
    decide: DecideEach,
    now: datetime,
    watching_since: Callable[[sqlite3.Connection, str, datetime], datetime],
    claim: Claim | None,
) -> list[Decision]:
    batch = _Batch(runs=_stored_runs(c, snapshots))
    decisions = [_decide(c, batch, s, decide, now, watching_since) for s in snapshots]
    return _write(c, batch, decisions, now, claim)


def _stored_runs(c: sqlite3.Connection, snapshots: Sequence[Snapshot]) -> dict[RunKey, Stored | None]:
    """The stored state of every run the batch names, in one statement per source."""
    ids: dict[str, list[str]] = {}
    for s in snapshots:
        ids.setdefault(s.source, []).append(s.run_id)
    found: dict[RunKey, Stored | None] = {(s.source, s.run_id): None for s in snapshots}
    for source, run_ids in ids.items():
        for row in c.execute(SQL["known_runs"], (source, json.dumps(run_ids))):
            state = run_state_from_row(row)
            found[(source, state.snapshot.run_id)] = (state, row[1], row[2] or row[1])
    return found


def _decide(
    c: sqlite3.Connection,
    batch: _Batch,
    snapshot: Snapshot,
    decide: DecideEach,
    now: datetime,
    watching_since: Callable[[sqlite3.Connection, str, datetime], datetime],
) -> Decision:
    key = (snapshot.source, snapshot.run_id)
    stored = batch.runs[key]
    context = Context(watching_since(c, snapshot.source, now), _task_last(c, batch, snapshot))
    decision = decide(snapshot, stored[0] if stored else None, context)
    if decision.store is not None:
        batch.runs[key] = _save(batch, decision.store, stored, now)
    return decision


def _task_last(c: sqlite3.Connection, batch: _Batch, snapshot: Snapshot) -> Phase | None:
    key = (snapshot.source, snapshot.task)
    if key not in batch.task_last:
        row = c.execute(SQL["task_last_phase"], key).fetchone()
        batch.task_last[key] = Phase(row[0]) if row else None
    return batch.task_last[key]


def _save(batch: _Batch, run: Snapshot, stored: Stored | None, now: datetime) -> Stored:
    """The run's next row, with since when it is in its phase (kept while the phase is); the
    stored times are carried as stored, never rounded through a datetime."""
    first_seen = stored[1] if stored else epoch(now)
    same_phase = stored is not None and stored[0].snapshot.phase == run.phase
    phase_since = stored[2] if stored and same_phase else epoch(now)
    batch.run_rows.append(run_row(run, first_seen, phase_since))
    key = (run.source, run.task)
    if run.terminal and batch.task_last.get(key) != run.phase:  # unchanged: no write
        batch.task_last[key] = batch.outcomes[key] = run.phase
    return RunState(run, from_epoch(first_seen), from_epoch(phase_since)), first_seen, phase_since


def _write(
    c: sqlite3.Connection,
    batch: _Batch,
    decisions: list[Decision],
    now: datetime,
    claim: Claim | None,
) -> list[Decision]:
    if batch.run_rows:
        c.executemany(SQL["save_run"], batch.run_rows)
    if batch.outcomes:
        rows = [(source, task, phase.value) for (source, task), phase in batch.outcomes.items()]
        c.executemany(SQL["save_task_outcome"], rows)
    transitions = [transition_row(d.transition) for d in decisions if d.transition]
    if transitions:
        c.executemany(SQL["insert_transition"], transitions)
    planned, carrying = suppression.take(c, [x for d in decisions for x in d.deliveries])
    written = _insert_deliveries(c, planned, now, claim)
    suppression.count(c, planned, list(written.values()), carrying, now)
    items = [digest_item_row(i) for d in decisions for i in d.digest_items]
    if items:
        c.executemany(SQL["insert_digest_item"], items)
    return as_written(decisions, written)


def _insert_deliveries(
    c: sqlite3.Connection, deliveries: list[Delivery], now: datetime, claim: Claim | None
) -> dict[str, Delivery]:
    """Those written by id (not those whose key exists already, nor a second one with the same
    key in the batch); with `claim`, claimed as written (`claimed_as_written`)."""
    if not deliveries:
        return {}
    keys = json.dumps([d.idempotency_key for d in deliveries])
    taken = {row[0] for row in c.execute(SQL["existing_keys"], (keys,))}
    fresh: dict[str, Delivery] = {}  # by key: the first of a batch's duplicates
    for d in deliveries:
        if d.idempotency_key not in taken:
            fresh.setdefault(d.idempotency_key, d)
    written = {d.id: d for d in claimed_as_written(list(fresh.values()), now, claim)}
    c.executemany(SQL["insert_delivery"], [written_row(d, now, claim) for d in written.values()])
    return written
