"""A send that has ended gives its slot to the next one while its outcome is being written:
a slow commit holds back no delivery, and every outcome is still written before its task ends."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from relay.channels.base import Response
from relay.clock import SystemClock
from relay.config import DeliveryPolicy
from relay.delivery.worker import DeliveryWorker
from relay.models import Attempt, Delivery, DeliveryStatus
from relay.store.base import Outcome
from relay.store.memory import MemoryStore
from tests.unit.test_worker_retries import enqueue


class SlowCommits(MemoryStore):
    """Outcomes are written only once `committing` is set (a disk slow to flush)."""

    def __init__(self) -> None:
        super().__init__()
        self.committing = asyncio.Event()

    async def complete(self, delivery_id: str, attempts: list[Attempt], outcome: Outcome) -> None:
        await self.committing.wait()
        await super().complete(delivery_id, attempts, outcome)


@dataclass
class Counting:
    name: str = "c"
    sent: list[str] = field(default_factory=list)
    sending: int = 0
    most: int = 0  # sends under way at once, at most

    async def send(self, delivery: Delivery) -> Response:
        self.sending += 1
        self.most = max(self.most, self.sending)
        await asyncio.sleep(0.001)
        self.sending -= 1
        self.sent.append(delivery.id)
        return Response(ok=True, http_status=200)

    async def close(self) -> None:
        return None


async def test_the_next_send_does_not_wait_for_the_last_outcome_to_be_written() -> None:
    store = SlowCommits()
    ids = [await enqueue(store, f"r{n}", n) for n in range(3)]
    channel = Counting()
    policy = DeliveryPolicy(concurrency=1)
    worker = DeliveryWorker(store, {"c": channel}, policy, SystemClock(), asyncio.Event())
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        async with asyncio.timeout(5):
            while len(channel.sent) < len(ids):
                await asyncio.sleep(0.005)
        assert channel.most == 1  # the slot was free, never two sends at once
        assert [(await store.delivery(i)).status for i in ids] == [DeliveryStatus.SENDING] * 3  # type: ignore[union-attr]
        store.committing.set()
        async with asyncio.timeout(5):
            while worker.sending():
                await asyncio.sleep(0.005)
        assert [(await store.delivery(i)).status for i in ids] == [DeliveryStatus.SENT] * 3  # type: ignore[union-attr]
    finally:
        store.committing.set()  # or the shutdown would wait for these outcomes forever
        stop.set()
        await task
