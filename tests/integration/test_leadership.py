"""Leader leases as the relay's processes use them (relay/leadership.py), on every store: one
leader at a time, a leader that cannot renew stops before another may take over, failover,
a clean stop hands over at once. The clock is a FakeClock; renewals are driven one round at
a time, as `Leadership.run` does every `ttl / 5` seconds."""

from __future__ import annotations

from relay.clock import FakeClock
from relay.leadership import Leadership
from relay.store import Store

TTL = 10.0


class Told:
    def __init__(self) -> None:
        self.changes: list[bool] = []

    async def __call__(self, leading: bool) -> None:
        self.changes.append(leading)


async def _round(*replicas: Leadership) -> None:
    for replica in replicas:
        await replica._renew(list(replica._wanted))


async def test_one_replica_leads_and_another_takes_over_when_it_dies(store: Store) -> None:
    clock = FakeClock()
    a, b = Leadership(store, "a", clock, TTL), Leadership(store, "b", clock, TTL)
    told_a, told_b = Told(), Told()
    await a.want("poll:recoup", told_a)
    await b.want("poll:recoup", told_b)
    assert (told_a.changes, told_b.changes) == ([True], [])
    assert a.led() == ["poll:recoup"] and b.led() == []

    for _ in range(5):  # renewed every round: a keeps it
        clock.advance(TTL / 5)
        await _round(a, b)
    assert (told_a.changes, told_b.changes) == ([True], [])

    # a dies (no more rounds). It would have stopped by itself after ttl/2 ...
    clock.advance(TTL / 2)
    assert not a.leads("poll:recoup")
    await _round(b)
    assert told_b.changes == []  # ... but the store holds its lease a full ttl
    clock.advance(TTL / 2)
    await _round(b)
    assert told_b.changes == [True] and b.led() == ["poll:recoup"]
    assert (await store.leases(clock.now()))["poll:recoup"][0] == "b"


async def test_a_leader_that_cannot_renew_stops_before_the_lease_runs_out(store: Store) -> None:
    clock = FakeClock()
    a, b = Leadership(store, "a", clock, TTL), Leadership(store, "b", clock, TTL)
    told_a = Told()
    await a.want("job:scheduler", told_a)
    await b.want("job:scheduler", Told())
    # b took the lease in the store behind a's back (a's renewals are lost, say): once a's
    # own deadline passes, a's next round tells its user to stop
    clock.advance(TTL / 2)
    await store.let_go("job:scheduler", "a")
    await _round(b)
    await _round(a)
    assert told_a.changes == [True, False]
    assert not a.leads("job:scheduler") and b.leads("job:scheduler")


async def test_a_clean_stop_hands_the_lease_over_at_once(store: Store) -> None:
    clock = FakeClock()
    a, b = Leadership(store, "a", clock, TTL), Leadership(store, "b", clock, TTL)
    told_a, told_b = Told(), Told()
    await a.want("poll:recoup", told_a)
    await b.want("poll:recoup", told_b)
    await a.drop("poll:recoup")
    assert told_a.changes == [True, False]
    await _round(b)  # no wait for the lease to run out
    assert told_b.changes == [True]


async def test_a_restarted_replica_takes_back_what_it_led_at_once(store: Store) -> None:
    clock = FakeClock()
    before = Leadership(store, "a", clock, TTL)
    await before.want("poll:recoup", Told())
    after, other = Leadership(store, "a", clock, TTL), Leadership(store, "b", clock, TTL)
    told = Told()
    await other.want("poll:recoup", Told())
    await after.want("poll:recoup", told)  # same replica id: its lease is its own
    assert told.changes == [True] and not other.leads("poll:recoup")
