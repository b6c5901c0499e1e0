"""The storage seam. Every backend passes tests/integration/test_store_contract.py."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from relay.digests import DigestItem
from relay.models import (
    Attempt,
    Backlog,
    Delivery,
    DeliveryStatus,
    Phase,
    Retention,
    RunState,
    Snapshot,
    Transition,
)
from relay.silences import Silence
from relay.store.suppression import SuppressedCount


@dataclass(frozen=True)
class Decision:
    """What one snapshot does to the store, decided inside the store's transaction."""

    store: Snapshot | None = None  # the run's new stored state, if it changes
    transition: Transition | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    digest_items: list[DigestItem] = field(default_factory=list)


@dataclass(frozen=True)
class Context:
    """What the store knows beyond the run itself, read in the same transaction."""

    watching_since: datetime  # when the relay first met the run's source
    task_last: Phase | None = None  # the phase of the task's last finished run


# (previous state or None, context) -> Decision
Decide = Callable[[RunState | None, Context], Decision]
# (snapshot, its run's previous state or None, context) -> Decision: `Decide` for a batch
DecideEach = Callable[[Snapshot, RunState | None, Context], Decision]
# the digest items of one window -> the delivery that sends them (None: nothing to send)
BuildDigest = Callable[[list[DigestItem]], Delivery | None]


@dataclass(frozen=True)
class Claim:
    """Fresh deliveries written already claimed, for the writing process to send without
    claiming them again: for `lease` seconds, under `owner`, at most `room` of them (what its
    worker may still hold); the rest wait in the store for the next `claim`."""

    lease: float
    owner: str = ""
    room: int = sys.maxsize

    def less(self, written: list[Delivery]) -> Claim:
        """The room left once `written` are (those claimed use some up)."""
        return replace(self, room=self.room - sum(d.status == DeliveryStatus.SENDING for d in written))


def claimable_at_once(d: Delivery, now: datetime) -> bool:
    """A delivery a write may claim as it writes it: due, and not waiting for its group."""
    return d.group_key is None and d.next_attempt_at <= now and d.status == DeliveryStatus.PENDING


def claimed_as_written(deliveries: list[Delivery], now: datetime, claim: Claim | None) -> list[Delivery]:
    """The deliveries as a write claims them: those due and in no group become `sending`
    (as `claim` would make them), in order, while the claim has room."""
    room, out = (claim.room if claim else 0), []
    for d in deliveries:
        if room > 0 and claimable_at_once(d, now):
            d, room = replace(d, status=DeliveryStatus.SENDING), room - 1
        out.append(d)
    return out


def as_written(decisions: list[Decision], written: dict[str, Delivery]) -> list[Decision]:
    """Each decision with only its deliveries that were written (by id), as written."""
    return [
        replace(x, deliveries=[written[d.id] for d in x.deliveries if d.id in written]) for x in decisions
    ]


class RecordsOne:
    """`record` as a batch of one: a store writes `record_many` only."""

    async def record_many(
        self,
        snapshots: Sequence[Snapshot],
        decide: DecideEach,
        now: datetime,
        claim: Claim | None = None,
    ) -> list[Decision]:
        raise NotImplementedError

    async def record(
        self,
        snapshot: Snapshot,
        decide: Decide,
        now: datetime,
        claim: Claim | None = None,
    ) -> Decision:
        (decision,) = await self.record_many([snapshot], lambda _, p, c: decide(p, c), now, claim)
        return decision


@dataclass(frozen=True)
class Outcome:
    """How a claimed delivery ends this round: sent, pending again at a time, or dead."""

    status: DeliveryStatus
    next_attempt_at: datetime | None = None
    error: str | None = None


class Store(Protocol):
    @property
    def writers(self) -> int:
        """How many `record_many` transactions are worth running at once: SQLite has one
        writer, a PostgreSQL pool commits several side by side."""

    async def record(
        self,
        snapshot: Snapshot,
        decide: Decide,
        now: datetime,
        claim: Claim | None = None,
    ) -> Decision:
        """In one transaction: read the run's state, decide, write state, transition and
        deliveries. Deliveries whose idempotency key exists already are not written again and
        are left out of the decision returned. With `claim`, the written deliveries are
        claimed as they are written (`claimed_as_written`)."""

    async def record_many(
        self,
        snapshots: Sequence[Snapshot],
        decide: DecideEach,
        now: datetime,
        claim: Claim | None = None,
    ) -> list[Decision]:
        """`record` for a batch (a webhook body, a poll page): one transaction, one decision
        per snapshot in their order. A run listed twice is decided the second time against
        the state its first snapshot left. All of it is written or, if anything fails, none."""

    async def known_runs(self, source: str, run_ids: list[str]) -> dict[str, RunState]: ...

    async def watching_since(self, source: str, now: datetime) -> datetime:
        """When the relay first met this source (set to `now` the first time it is asked)."""

    async def active_runs(self, source: str) -> list[RunState]:
        """Runs of a source whose last known phase is not terminal."""

    async def claim(self, now: datetime, limit: int, lease: float, owner: str = "") -> list[Delivery]:
        """Due pending deliveries, and sending ones whose lease ran out (a process died while
        sending them: each first gets an attempt with reason `interrupted`, started when its
        lease began), plus every pending member of a group one of them belongs to."""

    async def complete(self, delivery_id: str, attempts: list[Attempt], outcome: Outcome) -> None: ...

    async def defer(self, delivery_ids: list[str], until: datetime, group_key: str) -> None:
        """Claimed deliveries back to pending, due `until`, sent then as one group (a channel
        over its rate limit)."""

    async def release(self, delivery_ids: list[str], attempts: Sequence[Attempt] = ()) -> None:
        """Give claimed deliveries back (clean shutdown): pending, due at once, with the
        attempts made this round (one cut off is `interrupted`) recorded; no failed round."""

    async def replay(self, delivery_id: str, now: datetime) -> bool:
        """A dead (or sent) delivery becomes pending again, due now. False if unknown."""

    async def next_due(self) -> datetime | None: ...

    async def heartbeat(self, now: datetime) -> None:
        """Rewrite one row, committed like any write: proves the store takes writes now
        (/readyz). Raises when it cannot (a read-only file, a full disk); waits while another
        process holds the write lock, so the caller bounds the wait."""

    async def delivery(self, delivery_id: str) -> Delivery | None: ...

    async def deliveries(self, status: DeliveryStatus | None = None, limit: int = 100) -> list[Delivery]: ...

    async def attempts(self, delivery_id: str) -> list[Attempt]: ...

    async def runs(self, source: str | None = None, limit: int = 100) -> list[RunState]: ...

    async def transitions(self, limit: int = 100) -> list[Transition]: ...

    async def enqueue(self, transition: Transition, deliveries: list[Delivery]) -> int:
        """A transition the relay itself observed (a run stuck too long): written with its
        deliveries unless already there (same ids and keys). Returns deliveries written."""

    # -- the console (issue 12): a run's timeline ---------------------------------------------

    async def run_transitions(self, source: str, run_id: str) -> list[Transition]:
        """Every transition of one run still stored, oldest first (among equal times, in the
        order recorded)."""

    async def transition_deliveries(self, transition_id: str) -> list[Delivery]:
        """The deliveries one transition caused, oldest first (by created_at, then id)."""

    async def activity(self, since: datetime, bucket: float) -> list[tuple[int, str, int]]:
        """What happened from `since` on, in buckets of `bucket` seconds (0 is the first):
        (bucket, "transitions", count) for transitions observed, (bucket, STATUS, count) for
        deliveries created, by their status now. Only non-zero counts, in no set order."""

    async def transitions_since(self, since: datetime, limit: int) -> list[tuple[Transition, Snapshot]]:
        """At most `limit` transitions observed from `since` on, oldest first (among equal
        times, in the order recorded), each with its run's stored snapshot (its latest, not the
        one of that moment); transitions of runs no longer stored are left out (a backtest)."""

    # -- suppressed counts (issue 12): relay/store/suppression.py ------------------------------

    async def suppressed_counts(self) -> list[SuppressedCount]:
        """Per rule, channel and reason: the messages that never went out (silenced, once_per)
        since the last one that went out took their count, and (`held`) those waiting to go
        out as one grouped message (group window, quiet hours, rate limit)."""

    # -- silences -------------------------------------------------------------------------

    async def add_silence(self, silence: Silence) -> None: ...

    async def silences(self, now: datetime | None = None) -> list[Silence]:
        """All silences, or with `now` only those not yet ended."""

    async def expire_silence(self, silence_id: str, now: datetime) -> bool:
        """End a silence now. False if unknown or already ended."""

    # -- digests --------------------------------------------------------------------------

    async def due_digests(self, now: datetime) -> list[tuple[str, str, datetime]]:
        """(rule, channel, window end) of windows that ended with items not yet sent."""

    async def take_digest(
        self, rule: str, channel: str, window_end: datetime, build: BuildDigest
    ) -> Delivery | None:
        """In one transaction: the window's unsent items -> `build` -> its delivery written
        (unless its key exists) and the items marked sent."""

    async def sent_keys(self, keys: Sequence[str]) -> set[str]:
        """Those of `keys` that a delivery holds (the scheduler finds the last digest window
        sent, by any process, from them)."""

    # -- several processes, one truth (issue 11) -------------------------------------------
    # `owner` names the process that claims or leads: RELAY_REPLICA_ID, by default
    # "<hostname>:<port>" (and "/w<i>" for `--workers`), so it is the same after a restart.
    # A claim made by `record(..., Claim(lease, owner))` or `claim(..., owner=...)` carries
    # its owner until it completes, is deferred or released.

    async def expire_claims(self, owner: str, now: datetime) -> int:
        """A restarted process takes back its own claims at once: the leases of deliveries
        still `sending` under `owner` end `now` (the next `claim` takes them, each with an
        `interrupted` attempt, as for any lease that ran out). Returns how many."""

    async def hold(self, name: str, owner: str, now: datetime, ttl: float) -> int | None:
        """Take or renew the leader lease `name` ("poll:<source>", "job:digests", ...) for
        `owner` until now+ttl, in one atomic statement. Returns its fencing token, which grows
        each time the lease changes hands, while `owner` holds it; None while another owner's
        lease has not run out."""

    async def let_go(self, name: str, owner: str) -> None:
        """Give up a lease `owner` holds (a clean stop), so another takes it at once."""

    async def leases(self, now: datetime) -> dict[str, tuple[str, datetime]]:
        """name -> (owner, until) of every lease not yet run out (/admin/sources)."""

    async def admit(self, channel: str, now: datetime, count: int, period: float) -> datetime | None:
        """A channel's rate limit (at most `count` sends per `period` seconds), counted across
        every process: None means send now (counted as a send at `now`); otherwise the moment
        a slot frees. Atomic: N processes asking at once admit at most `count`."""

    async def first_sight(self, source: str, key: str, now: datetime) -> bool:
        """True the first time any process asks about a push's key (a Trigger.dev alert's id),
        False for a replay; remembered until `prune` lets it go (Retention.seen)."""

    async def budget(self, key: str) -> tuple[int | None, int | None, float | None]:
        """The last (limit, remaining, reset_at Unix seconds) saved for a platform API key's
        rate budget (key: a digest, never the API key itself); (None, None, None) if none."""

    async def save_budget(
        self, key: str, limit: int | None, remaining: int | None, reset_at: float | None
    ) -> None: ...

    async def on_due(self, wake: Callable[[], None]) -> None:
        """Call `wake` (from the event loop) whenever a delivery became due in the store:
        PostgreSQL wakes every replica with LISTEN/NOTIFY; SQLite and memory wake for writes of
        this process only (other processes on one SQLite file find them by the worker's timer)."""

    # -- running for years ---------------------------------------------------------------

    async def prune(self, retention: Retention, now: datetime, dry_run: bool = False) -> dict[str, int]:
        """Delete what `retention` lets go, oldest first: table -> rows deleted (or, with
        `dry_run`, rows that would be). Never a pending or sending delivery, nor a run that has
        not finished, nor a transition a kept delivery refers to."""

    async def backlog(self) -> list[Backlog]:
        """Per channel with any delivery pending, sending or dead: the counts, and the oldest
        pending (the backlog gauges)."""

    async def close(self) -> None: ...
