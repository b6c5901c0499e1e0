"""The pruning job of the scheduler: rules.yaml's retention, once per `prune_every`."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from relay.clock import FakeClock
from relay.config import load_ruleset
from relay.models import Delivery as D
from relay.models import DeliveryStatus, Message, RunState
from relay.scheduler import Scheduler
from relay.store import Decision, Outcome
from relay.store.base import Context
from relay.store.memory import MemoryStore
from relay.transitions import diff
from tests.builders import T0, snap

RULES = "channels: {c: {kind: console}}\nretention: {sent: 1h, finished_runs: 2h, transitions: 2h}\n"


async def test_the_job_prunes_with_the_files_retention_once_per_interval(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    store, clock = MemoryStore(), FakeClock(T0)
    scheduler = Scheduler(store, load_ruleset(path), clock, asyncio.Event(), prune_every=600)
    s = snap("COMPLETED")

    def decide(previous: RunState | None, context: Context) -> Decision:
        t = diff(previous, s, now=T0, watching_since=context.watching_since, ids=lambda: "t1")
        assert t is not None
        message = Message("t", "b")
        return Decision(s, t, [D("d1", "t1", "r", "c", "k1", message, {}, DeliveryStatus.PENDING, 0, T0, T0)])

    await store.record(s, decide, T0)
    await store.claim(T0, 10, lease=30)
    await store.complete("d1", [], Outcome(DeliveryStatus.SENT))

    first = await scheduler.tick()
    assert first.pruned is not None and sum(first.pruned.values()) == 0  # nothing old yet
    clock.advance(timedelta(hours=1, minutes=1).total_seconds())
    assert (await scheduler.tick()).pruned == first.pruned | {"deliveries": 1}
    assert await store.delivery("d1") is None and len(await store.runs()) == 1
    clock.advance(300)  # less than prune_every since the last prune
    assert (await scheduler.tick()).pruned is None
    clock.advance(3600)
    assert (await scheduler.tick()).pruned == first.pruned | {"runs": 1, "transitions": 1}
