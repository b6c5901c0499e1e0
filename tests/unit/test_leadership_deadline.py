"""A leader whose renewals fail is told to stop when its own deadline (half the lease after its
last renewal began) passes, not up to a round later: the store hands the lease to another
replica half a lease after that, and the old leader must have stopped by then."""

from __future__ import annotations

import asyncio
from datetime import datetime

from relay.clock import FakeClock
from relay.leadership import MIN_WAIT, Leadership
from relay.store.memory import MemoryStore

TTL = 10.0  # every = 2 s, a leader's own deadline 5 s after its last renewal began


class Told:
    def __init__(self) -> None:
        self.changes: list[bool] = []

    async def __call__(self, leading: bool) -> None:
        self.changes.append(leading)


class UnansweredStore(MemoryStore):
    """Takes leases; once `hang` is set, a renewal never answers (the store went away)."""

    def __init__(self) -> None:
        super().__init__()
        self.hang = False

    async def hold(self, name: str, owner: str, now: datetime, ttl: float) -> int | None:
        if self.hang:
            await asyncio.Event().wait()
        return await super().hold(name, owner, now, ttl)


async def test_the_round_after_a_renewal_comes_no_later_than_the_leaders_deadline() -> None:
    clock = FakeClock()
    leader = Leadership(MemoryStore(), "a", clock, TTL)
    assert leader.next_round() == leader.every  # leads nothing yet
    await leader.want("poll:recoup", Told())
    assert leader.next_round() == leader.every
    clock.advance(4.5)  # renewals failed meanwhile: 0.5 s left, a round would come in 2 s
    assert leader.next_round() == 0.5
    clock.advance(1.0)  # past it and not yet told: the next round at once (with a floor)
    assert leader.next_round() == MIN_WAIT


async def test_a_renewal_unanswered_at_the_deadline_fails_then_and_the_user_is_told() -> None:
    clock, store = FakeClock(), UnansweredStore()
    ttl = 100.0  # every = 20 s: far from the 0.05 s this renewal may wait
    leader, told = Leadership(store, "a", clock, ttl), Told()
    await leader.want("poll:recoup", told)
    clock.advance(ttl / 2 - 0.05)
    store.hang = True
    async with asyncio.timeout(10):  # a wait of `every` would end here
        await leader._renew(["poll:recoup"])
    assert told.changes == [True]  # still its own for 0.05 s
    clock.advance(0.05)
    await leader._renew(["poll:recoup"])
    assert told.changes == [True, False] and not leader.leads("poll:recoup")
