"""Fresh deliveries are written claimed and handed to this process's worker: sent at once,
once, never taken by another worker on the same store, and given back on shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from relay.channels.base import Response
from relay.clock import SystemClock
from relay.config import RuleSet, load_ruleset
from relay.delivery.worker import DeliveryWorker
from relay.models import Delivery, DeliveryStatus, Via
from relay.pipeline import Pipeline
from relay.store import Store
from tests.builders import snap

RULES = """
sources: {recoup: {kind: recoup}}
channels: {hook: {kind: webhook, url: "http://127.0.0.1:9/hook"}}
rules: [{name: done, match: {phase: succeeded}, notify: [hook]}]
delivery: {concurrency: CONCURRENCY}
"""


@dataclass
class Recorder:
    name: str = "hook"
    sent: list[str] = field(default_factory=list)

    async def send(self, delivery: Delivery) -> Response:
        self.sent.append(delivery.idempotency_key)
        return Response(ok=True, http_status=200)

    async def close(self) -> None:
        return None


def rules(tmp_path: Path, concurrency: int = 4) -> RuleSet:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES.replace("CONCURRENCY", str(concurrency)))
    return load_ruleset(path)


def worker(store: Store, ruleset: RuleSet, channel: Recorder, wakeup: asyncio.Event) -> DeliveryWorker:
    return DeliveryWorker(store, {"hook": channel}, ruleset.delivery, SystemClock(), wakeup)


async def ingest(pipeline: Pipeline, run_id: str) -> None:
    now = SystemClock().now()
    s = snap("COMPLETED", run_id=run_id, via=Via.WEBHOOK)
    await pipeline.ingest(replace(s, updated_at=now, finished_at=now))


async def until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


async def statuses(store: Store) -> list[DeliveryStatus]:
    return sorted((d.status for d in await store.deliveries(limit=1000)), key=lambda s: s.value)


async def test_a_fresh_delivery_is_written_claimed_and_only_its_worker_sends_it(
    store: Store, tmp_path: Path
) -> None:
    ruleset = rules(tmp_path)
    ours, theirs = Recorder(), Recorder()
    wakeup = asyncio.Event()
    pipeline = Pipeline(store, ruleset, SystemClock(), wakeup)
    mine = worker(store, ruleset, ours, wakeup)
    pipeline.handoff = mine
    other = worker(store, ruleset, theirs, asyncio.Event())  # another process on the same store
    stop = asyncio.Event()
    await ingest(pipeline, "run_a")
    assert await statuses(store) == [DeliveryStatus.SENDING]  # claimed as it was written
    tasks = [asyncio.create_task(other.run(stop))]
    await asyncio.sleep(0.1)  # the other worker claims what is due: not this one
    tasks.append(asyncio.create_task(mine.run(stop)))
    await until(lambda: len(ours.sent) == 1)
    await ingest(pipeline, "run_b")  # while both run
    await until(lambda: len(ours.sent) == 2)
    stop.set()
    await asyncio.gather(*tasks)
    assert theirs.sent == [] and len(set(ours.sent)) == 2
    assert await statuses(store) == [DeliveryStatus.SENT, DeliveryStatus.SENT]


async def test_a_busy_worker_leaves_fresh_deliveries_in_the_store(store: Store, tmp_path: Path) -> None:
    ruleset = rules(tmp_path, concurrency=1)  # room for 4 hand-offs (HOLD_FACTOR)
    channel, wakeup = Recorder(), asyncio.Event()
    pipeline = Pipeline(store, ruleset, SystemClock(), wakeup)
    pipeline.handoff = w = worker(store, ruleset, channel, wakeup)
    for n in range(10):
        await ingest(pipeline, f"run_{n}")
    found = await statuses(store)
    assert found.count(DeliveryStatus.SENDING) == 4 and found.count(DeliveryStatus.PENDING) == 6
    assert wakeup.is_set()  # the worker is told the store has work for it
    stop = asyncio.Event()
    task = asyncio.create_task(w.run(stop))
    await until(lambda: len(channel.sent) == 10)
    stop.set()
    await task
    assert len(set(channel.sent)) == 10
    assert await statuses(store) == [DeliveryStatus.SENT] * 10


async def test_shutdown_gives_back_what_was_handed_but_not_sent(store: Store, tmp_path: Path) -> None:
    ruleset = rules(tmp_path)
    channel, wakeup = Recorder(), asyncio.Event()
    pipeline = Pipeline(store, ruleset, SystemClock(), wakeup)
    pipeline.handoff = w = worker(store, ruleset, channel, wakeup)
    await ingest(pipeline, "run_a")
    stop = asyncio.Event()
    stop.set()  # stopping before it ever started sending
    await w.run(stop)
    assert channel.sent == []
    assert await statuses(store) == [DeliveryStatus.PENDING]  # due at once, not held for a lease
    assert w.reserve() is None  # a stopped worker takes no more hand-offs
    await ingest(pipeline, "run_b")
    assert await statuses(store) == [DeliveryStatus.PENDING] * 2
    again, stop2 = worker(store, ruleset, channel, asyncio.Event()), asyncio.Event()
    task = asyncio.create_task(again.run(stop2))
    await until(lambda: len(channel.sent) == 2)
    stop2.set()
    await task


@dataclass
class Gated(Recorder):
    """Sends wait until the gate opens; notes how many overlapped."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)
    active: int = 0
    most: int = 0

    async def send(self, delivery: Delivery) -> Response:
        self.active += 1
        self.most = max(self.most, self.active)
        await self.gate.wait()
        self.active -= 1
        return await super().send(delivery)


async def test_a_backlog_is_claimed_ahead_but_sent_within_the_concurrency(
    store: Store, tmp_path: Path
) -> None:
    ruleset = rules(tmp_path, concurrency=2)
    wakeup = asyncio.Event()
    pipeline = Pipeline(store, ruleset, SystemClock(), wakeup)  # no worker: all wait in the store
    for n in range(40):
        await ingest(pipeline, f"run_{n}")
    channel, stop = Gated(), asyncio.Event()
    w = worker(store, ruleset, channel, wakeup)
    task = asyncio.create_task(w.run(stop))
    await until(lambda: channel.active == 2)
    # one claim took what the worker may hold (4x its concurrency), not one per free slot
    assert (await statuses(store)).count(DeliveryStatus.SENDING) == 8
    channel.gate.set()
    await until(lambda: len(channel.sent) == 40)
    stop.set()
    await task
    assert channel.most == 2 and len(set(channel.sent)) == 40
    assert await statuses(store) == [DeliveryStatus.SENT] * 40
