"""The flow on one screen: a snapshot in -> diff -> match -> plan -> enqueue, one transaction.

Polling and webhooks both call `Pipeline.ingest`; nothing downstream knows which one did.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Protocol, TypeVar

from relay import observability as obs
from relay.clock import Clock
from relay.coalesce import Coalescer
from relay.config import RuleSet
from relay.dispatch import plan
from relay.ids import IdFactory, new_id
from relay.links import RunLinks
from relay.models import Delivery, DeliveryStatus, RunState, Snapshot
from relay.render.console_link import linked
from relay.rules.index import RuleIndex, index_for
from relay.silences import Silence
from relay.sources.health import HealthBoard
from relay.store import Decision, Store
from relay.store.base import Claim, Context
from relay.transitions import diff, refresh

log = logging.getLogger("relay.pipeline")


class Leased(Protocol):
    """A reservation: how the deliveries written with it are claimed."""

    @property
    def claim(self) -> Claim: ...


R = TypeVar("R", bound=Leased)


class Handoff(Protocol[R]):
    """The delivery worker as the pipeline sees it (relay/delivery/worker.py): a reservation
    says how to claim fresh deliveries as they are written, and goes back with them to `hand`."""

    def reserve(self) -> R | None: ...

    def hand(self, deliveries: list[Delivery], reservation: R) -> None: ...


@dataclass
class Pipeline:
    store: Store
    ruleset: RuleSet
    clock: Clock
    # set whenever deliveries were enqueued, so idle workers wake at once
    wakeup: asyncio.Event
    # the silences in force, refreshed from the store (see Relay); read inside decide
    silences: list[Silence] = field(default_factory=list)
    # this process's delivery worker: fresh deliveries are written claimed and handed to it
    handoff: Handoff[Any] | None = None
    template_errors: obs.TemplateErrors = field(default_factory=obs.TemplateErrors)
    ids: IdFactory = new_id  # of transitions and deliveries: diff and plan draw none themselves
    # the relay's board of source health: when each source last brought a snapshot
    health: HealthBoard = field(default_factory=HealthBoard)
    # RELAY_PUBLIC_URL set: each delivery links its run's page in the console
    links: RunLinks | None = None

    async def ingest(self, snapshot: Snapshot) -> Decision:
        (decision,) = await self.ingest_many([snapshot])
        return decision

    def __post_init__(self) -> None:
        self._batches = Coalescer(self._record, parallel=self.store.writers)

    async def ingest_many(self, snapshots: Sequence[Snapshot]) -> list[Decision]:
        """A batch (a webhook body, a poll page) in one transaction, in its order: one
        decision per snapshot, all written or none. Batches that arrive together are written
        together (relay/coalesce.py)."""
        return await self._batches(snapshots)

    async def _record(self, snapshots: list[Snapshot]) -> list[Decision]:
        now = self.clock.now()
        ruleset = self.ruleset  # one for the whole batch, whatever a reload does meanwhile
        decide = partial(self._decide, ruleset, index_for(ruleset), self.silences, now)
        reservation = self.handoff.reserve() if self.handoff else None
        claimed: list[Delivery] = []
        try:
            claim = reservation.claim if reservation else None
            decisions = await self.store.record_many(snapshots, decide, now, claim)
            claimed = [d for x in decisions for d in x.deliveries if d.status == DeliveryStatus.SENDING]
        finally:
            if self.handoff and reservation is not None:
                self.handoff.hand(claimed, reservation)
        if len(claimed) < sum(len(x.deliveries) for x in decisions):  # the rest waits in the store
            self.wakeup.set()
        for snapshot, decision in zip(snapshots, decisions, strict=True):
            self.health.snapshot_seen(snapshot.source, now)
            self._report(snapshot, decision)
        return decisions

    def _decide(
        self,
        ruleset: RuleSet,
        rules: RuleIndex,
        silences: list[Silence],
        now: datetime,
        snapshot: Snapshot,
        previous: RunState | None,
        context: Context,
    ) -> Decision:
        transition = diff(
            previous,
            snapshot,
            now=now,
            watching_since=context.watching_since,
            ids=self.ids,
            task_last=context.task_last,
        )
        if transition is None:
            return Decision(store=refresh(previous, snapshot))
        matched = rules.matching(transition, snapshot)
        planned = plan(
            transition, snapshot, matched, ruleset.channels, now=now, ids=self.ids, silences=silences
        )
        deliveries = linked(planned.deliveries, self.links, snapshot)
        return Decision(snapshot, transition, deliveries, planned.digest_items)

    def _report(self, snapshot: Snapshot, decision: Decision) -> None:
        t = decision.transition
        outcome = "transition" if t else ("refreshed" if decision.store else "unchanged")
        obs.SNAPSHOTS.labels(snapshot.source, snapshot.via.value, outcome).inc()
        if t is None:
            return
        self.template_errors.report(decision.deliveries)
        obs.TRANSITIONS.labels(t.source, t.to_phase.value).inc()
        log.info(
            "transition_observed source=%s run=%s task=%s %s->%s via=%s deliveries=%d%s",
            t.source,
            t.run_id,
            snapshot.task,
            t.from_status or "unknown",
            t.to_status,
            t.via.value,
            len(decision.deliveries),
            " (backfill)" if t.backfill else "",
        )
