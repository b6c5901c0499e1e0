"""On stop, a send that has ended is recorded whole, never handed back to be sent again."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from relay.clock import SystemClock
from relay.config import DeliveryPolicy
from relay.delivery.worker import DeliveryWorker
from relay.ids import new_id
from relay.models import Attempt, Delivery, DeliveryStatus, Message, RunState
from relay.store.base import Context, Decision, Outcome
from relay.store.memory import MemoryStore
from relay.transitions import diff
from tests.builders import snap
from tests.unit.test_worker_retries import Flaky


class SlowToRecord(MemoryStore):
    """A store whose writes of outcomes wait until `disk` is set (a slow disk)."""

    def __init__(self) -> None:
        super().__init__()
        self.disk = asyncio.Event()

    async def complete(self, delivery_id: str, attempts: list[Attempt], outcome: Outcome) -> None:
        await self.disk.wait()
        await super().complete(delivery_id, attempts, outcome)


async def enqueue_group(store: MemoryStore, size: int) -> None:
    now = SystemClock().now() - timedelta(seconds=1)

    def decide(previous: RunState | None, context: Context) -> Decision:
        t = diff(previous, snap("FAILED"), now=now, watching_since=context.watching_since, ids=new_id)
        assert t is not None
        member = Delivery("", t.id, "r", "c", "", Message("t", "b"), {}, DeliveryStatus.PENDING, 0, now, now)
        group = [replace(member, id=f"d{n}", idempotency_key=f"k{n}", group_key="g") for n in range(size)]
        return Decision(snap("FAILED"), t, group)

    await store.record(snap("FAILED"), decide, now)


async def test_a_group_sent_when_the_grace_ends_is_recorded_sent_for_every_member() -> None:
    store, channel = SlowToRecord(), Flaky(set())
    await enqueue_group(store, 2)
    policy, stop = DeliveryPolicy(shutdown_grace=0.05), asyncio.Event()
    worker = DeliveryWorker(store, {"c": channel}, policy, SystemClock(), asyncio.Event())
    running = asyncio.create_task(worker.run(stop))
    async with asyncio.timeout(5):
        while not channel.sent:
            await asyncio.sleep(0.005)
    stop.set()  # the receiver has the group; its outcome is still being written
    await asyncio.sleep(0.2)  # the grace is over
    store.disk.set()
    async with asyncio.timeout(5):
        await running
    assert len(channel.sent) == 1
    for d in await store.deliveries():
        assert d.status == DeliveryStatus.SENT, d
        assert [a.reason for a in await store.attempts(d.id)] == ["ok"]
