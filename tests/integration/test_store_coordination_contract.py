"""What several processes share through the store (issue 11), one contract for every backend:
claims that name their owner, leader leases with fencing, rate limits, replay memory, budgets,
wake-ups. Two stores opened on one SQLite file stand for two processes."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from relay.ids import new_id
from relay.models import INTERRUPTED, DeliveryStatus, RunState
from relay.store import Decision, Outcome, Store, open_store
from relay.store.base import Claim, Context
from relay.transitions import diff
from tests.builders import T0, snap
from tests.integration.test_store_contract import delivery, ingest

LEASE = 30.0


async def test_a_restarted_process_takes_back_its_own_claims_at_once(store: Store) -> None:
    await ingest(store, snap("COMPLETED"), keys=("mine", "theirs"))
    [a] = await store.claim(T0, 1, LEASE, owner="host:1")
    [b] = await store.claim(T0, 1, LEASE, owner="host:2")
    assert await store.expire_claims("host:1", T0 + timedelta(seconds=1)) == 1
    # host:1 is back before its lease ran out: its claim is taken again at once, on record
    again = await store.claim(T0 + timedelta(seconds=1), 10, LEASE, owner="host:1")
    assert [d.id for d in again] == [a.id]
    assert [x.reason for x in await store.attempts(a.id)] == [INTERRUPTED]
    # another owner's claim is left alone until its lease runs out
    assert (await store.delivery(b.id)).status == DeliveryStatus.SENDING  # type: ignore[union-attr]
    assert await store.attempts(b.id) == []


async def test_claims_made_as_written_carry_their_owner(store: Store) -> None:
    s = snap("COMPLETED")

    def decide(previous: RunState | None, context: Context) -> Decision:
        t = diff(previous, s, now=T0, watching_since=context.watching_since, ids=new_id)
        assert t is not None
        return Decision(s, t, [delivery(t.id, "k")])

    [written] = (await store.record(s, decide, T0, Claim(LEASE, "host:1"))).deliveries
    assert written.status == DeliveryStatus.SENDING
    assert await store.expire_claims("host:2", T0) == 0
    assert await store.expire_claims("host:1", T0) == 1
    # a claim that ended is no one's any more
    [d] = await store.claim(T0, 10, LEASE, owner="host:2")
    await store.complete(d.id, [], Outcome(DeliveryStatus.SENT))
    assert await store.expire_claims("host:2", T0) == 0


async def test_a_lease_has_one_holder_until_it_runs_out_and_its_token_grows(store: Store) -> None:
    first = await store.hold("poll:recoup", "a", T0, 10)
    assert first is not None
    assert await store.hold("poll:recoup", "b", T0 + timedelta(seconds=5), 10) is None
    assert await store.hold("poll:recoup", "a", T0 + timedelta(seconds=5), 10) == first  # renewed
    assert await store.hold("poll:recoup", "b", T0 + timedelta(seconds=14), 10) is None
    taken = await store.hold("poll:recoup", "b", T0 + timedelta(seconds=15), 10)
    assert taken is not None and taken > first
    assert await store.hold("poll:recoup", "a", T0 + timedelta(seconds=16), 10) is None
    leases = await store.leases(T0 + timedelta(seconds=16))
    assert leases == {"poll:recoup": ("b", T0 + timedelta(seconds=25))}
    # another lease is another name
    assert await store.hold("job:scheduler", "a", T0 + timedelta(seconds=16), 10) is not None


async def test_letting_go_hands_the_lease_over_at_once(store: Store) -> None:
    token = await store.hold("poll:recoup", "a", T0, 60)
    await store.let_go("poll:recoup", "b")  # not b's to give up
    assert await store.hold("poll:recoup", "b", T0, 60) is None
    await store.let_go("poll:recoup", "a")
    assert await store.leases(T0) == {}
    taken = await store.hold("poll:recoup", "b", T0, 60)
    assert taken is not None and token is not None and taken > token


async def test_a_rate_limit_counts_every_send_and_says_when_a_slot_frees(store: Store) -> None:
    assert await store.admit("slack", T0, 2, 60) is None
    assert await store.admit("slack", T0 + timedelta(seconds=1), 2, 60) is None
    assert await store.admit("slack", T0 + timedelta(seconds=2), 2, 60) == T0 + timedelta(seconds=60)
    assert await store.admit("mail", T0 + timedelta(seconds=2), 2, 60) is None  # per channel
    assert await store.admit("slack", T0 + timedelta(seconds=60), 2, 60) is None  # the first slot freed
    assert await store.admit("slack", T0 + timedelta(seconds=60), 2, 60) == T0 + timedelta(seconds=61)


async def test_many_asking_at_once_are_admitted_at_most_the_limit(store: Store) -> None:
    answers = await asyncio.gather(*(store.admit("slack", T0, 5, 60) for _ in range(20)))
    assert sum(a is None for a in answers) == 5


async def test_a_push_key_is_new_once(store: Store) -> None:
    assert await store.first_sight("trigger", "alert_1", T0) is True
    assert await store.first_sight("trigger", "alert_1", T0 + timedelta(seconds=1)) is False
    assert await store.first_sight("other", "alert_1", T0) is True  # per source


async def test_a_budget_is_saved_and_read_back(store: Store) -> None:
    assert await store.budget("k") == (None, None, None)
    await store.save_budget("k", 1000, 12, 1_700_000_000.5)
    assert await store.budget("k") == (1000, 12, 1_700_000_000.5)
    await store.save_budget("k", None, 11, None)
    assert await store.budget("k") == (None, 11, None)


async def test_a_delivery_that_becomes_due_wakes_the_listener(store: Store) -> None:
    woke = asyncio.Event()
    await store.on_due(woke.set)
    await ingest(store, snap("COMPLETED"))
    await asyncio.wait_for(woke.wait(), 5)
    [d] = await store.claim(T0, 1, LEASE)
    await store.complete(d.id, [], Outcome(DeliveryStatus.DEAD, error="x"))
    woke.clear()
    assert await store.replay(d.id, T0)
    await asyncio.wait_for(woke.wait(), 5)


async def test_two_processes_on_one_sqlite_file_share_leases_limits_and_memory(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    one, two = await open_store(url), await open_store(url)
    try:
        assert await one.hold("poll:recoup", "one", T0, 10) is not None
        assert await two.hold("poll:recoup", "two", T0, 10) is None
        assert await one.admit("slack", T0, 1, 60) is None
        assert await two.admit("slack", T0, 1, 60) is not None
        assert await one.first_sight("trigger", "a", T0)
        assert not await two.first_sight("trigger", "a", T0)
        await one.save_budget("k", 10, 3, None)
        assert await two.budget("k") == (10, 3, None)
    finally:
        await one.close()
        await two.close()
