"""A reload never stretches a round past the lease its deliveries were claimed with: past it,
another claim would take them again mid-send and the receiver would get them twice."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from relay.channels.base import Response
from relay.clock import SystemClock
from relay.config import DeliveryPolicy
from relay.delivery.worker import DeliveryWorker
from relay.ids import new_id
from relay.models import Delivery, DeliveryStatus, Message, RunState
from relay.store.base import Claim, Context, Decision
from relay.store.memory import MemoryStore
from relay.transitions import diff
from tests.builders import snap

CLAIMED_UNDER = DeliveryPolicy(timeout=0.02, quick_tries=1, concurrency=1)
RELOADED = DeliveryPolicy(timeout=60.0, quick_tries=5, quick_wait=5.0, concurrency=1)


@dataclass
class Receiver:
    """Answers `blocker` once its gate opens; never answers anything else."""

    name: str = "c"
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    calls: list[str] = field(default_factory=list)

    async def send(self, delivery: Delivery) -> Response:
        self.calls.append(delivery.id)
        if delivery.id != "d-blocker":
            await asyncio.Event().wait()
        await self.gate.wait()
        return Response(ok=True, http_status=200)

    async def close(self) -> None:
        return None


async def write(store: MemoryStore, run_id: str, offset: float, claim: Claim | None = None) -> list[Delivery]:
    now = SystemClock().now() - timedelta(seconds=10 - offset)  # due now, in this order

    def decide(previous: RunState | None, context: Context) -> Decision:
        s = snap("COMPLETED", run_id=run_id)
        t = diff(previous, s, now=now, watching_since=context.watching_since, ids=new_id)
        assert t is not None
        d = Delivery(
            f"d-{run_id}", t.id, "r", "c", run_id, Message("t", "b"), {}, DeliveryStatus.PENDING, 0, now, now
        )
        return Decision(s, t, [d])

    decision = await store.record(snap("COMPLETED", run_id=run_id), decide, now, claim)
    return [d for d in decision.deliveries if d.status == DeliveryStatus.SENDING]


async def until(check: Callable[[], bool]) -> None:
    for _ in range(500):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


async def round_ended(store: MemoryStore, delivery_id: str) -> None:
    for _ in range(500):
        d = await store.delivery(delivery_id)
        if d is not None and d.status != DeliveryStatus.SENDING:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the round outlasted its policy")


async def test_a_delivery_claimed_before_a_reload_runs_its_round_under_the_policy_it_was_claimed_with() -> (
    None
):
    store, receiver = MemoryStore(), Receiver()
    await write(store, "blocker", 0)
    await write(store, "waiting", 1)
    worker = DeliveryWorker(store, {"c": receiver}, CLAIMED_UNDER, SystemClock(), asyncio.Event())
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        # the only slot sends the blocker; the other delivery is claimed ahead, waiting for it
        await until(lambda: receiver.calls == ["d-blocker"])
        assert (await store.delivery("d-waiting")).status == DeliveryStatus.SENDING  # type: ignore[union-attr]
        worker.configure(RELOADED, {})
        receiver.gate.set()
        await round_ended(store, "d-waiting")
        attempts = await store.attempts("d-waiting")
        # one try, cut at the short timeout: as claimed, inside the lease it was claimed with
        assert [a.reason for a in attempts] == ["timeout"]
        assert receiver.calls == ["d-blocker", "d-waiting"]  # never taken and sent again
    finally:
        stop.set()
        await task


async def test_a_hand_off_reserved_before_a_reload_runs_under_the_policy_it_was_reserved_with() -> None:
    store, receiver = MemoryStore(), Receiver()
    worker = DeliveryWorker(store, {"c": receiver}, CLAIMED_UNDER, SystemClock(), asyncio.Event())
    reservation = worker.reserve()
    assert reservation is not None
    claimed = await write(store, "handed", 0, reservation.claim)
    worker.configure(RELOADED, {})
    worker.hand(claimed, reservation)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await round_ended(store, "d-handed")
        assert [a.reason for a in await store.attempts("d-handed")] == ["timeout"]
        assert receiver.calls == ["d-handed"]
    finally:
        stop.set()
        await task
