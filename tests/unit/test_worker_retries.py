"""A delivery waiting between quick tries gives its slot to fresh deliveries."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import timedelta

from relay.channels.base import Response
from relay.clock import SystemClock
from relay.config import DeliveryPolicy
from relay.delivery.worker import DeliveryWorker
from relay.ids import new_id
from relay.models import Delivery, DeliveryStatus, Message, RunState
from relay.store.base import Context, Decision
from relay.store.memory import MemoryStore
from relay.transitions import diff
from tests.builders import snap


@dataclass
class Flaky:
    """Answers 500 to the deliveries in `failing`, 200 to the others (recording when)."""

    failing: set[str]
    name: str = "c"
    sent: list[str] = field(default_factory=list)

    async def send(self, delivery: Delivery) -> Response:
        if delivery.id in self.failing:
            return Response(ok=False, http_status=500)
        self.sent.append(delivery.id)
        return Response(ok=True, http_status=200)

    async def close(self) -> None:
        return None


async def enqueue(store: MemoryStore, run_id: str, offset: float) -> str:
    now = SystemClock().now() - timedelta(seconds=10 - offset)  # due now, in this order

    def decide(previous: RunState | None, context: Context) -> Decision:
        s = snap("COMPLETED", run_id=run_id)
        t = diff(previous, s, now=now, watching_since=context.watching_since, ids=new_id)
        assert t is not None
        d = Delivery(
            f"d-{run_id}", t.id, "r", "c", run_id, Message("t", "b"), {}, DeliveryStatus.PENDING, 0, now, now
        )
        return Decision(s, t, [d])

    await store.record(snap("COMPLETED", run_id=run_id), decide, now)
    return f"d-{run_id}"


async def test_retries_waiting_between_quick_tries_do_not_hold_back_fresh_deliveries() -> None:
    store = MemoryStore()
    failing = {await enqueue(store, f"bad{n}", n) for n in range(2)}  # due first
    fresh = [await enqueue(store, f"ok{n}", 2 + n) for n in range(6)]
    channel = Flaky(failing)
    policy = DeliveryPolicy(quick_tries=2, quick_wait=0.3, concurrency=2)
    worker = DeliveryWorker(store, {"c": channel}, policy, SystemClock(), asyncio.Event())
    stop = asyncio.Event()
    started = time.monotonic()
    task = asyncio.create_task(worker.run(stop))
    try:
        async with asyncio.timeout(5):
            while len(channel.sent) < len(fresh):
                await asyncio.sleep(0.005)
        # both slots went to the failing ones first; they wait >= 0.3 s before their next try
        assert time.monotonic() - started < 0.25
        assert sorted(channel.sent) == sorted(fresh)
    finally:
        stop.set()
        await task
