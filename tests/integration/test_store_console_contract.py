"""Store contract, the console's part: a run's timeline. `run_transitions` gives one run's
transitions oldest first; `transition_deliveries` the deliveries one transition caused, as they
stand now. Through the Store API only, so every backend (memory, SQLite, PostgreSQL) runs it."""

from __future__ import annotations

from datetime import datetime, timedelta

from relay.ids import new_id
from relay.models import Attempt, Delivery, DeliveryStatus, Message, Phase, RunState
from relay.store import Decision, Outcome, Store
from relay.store.base import Context
from relay.transitions import diff
from tests.builders import T0, snap


def delivery(key: str, transition: str | None, at: datetime, channel: str = "c") -> Delivery:
    return Delivery(
        f"d-{key}", transition, "r", channel, key, Message("t", "b"), {}, DeliveryStatus.PENDING, 0, at, at
    )


async def record(
    store: Store,
    status: str,
    run_id: str,
    at: float,
    keys: tuple[str, ...] = (),
    source: str = "recoup",
    now: datetime | None = None,
) -> str:
    """`run_id` seen in `status` (updated `at` seconds after T0, recorded at `now`, by default
    the same moment), causing deliveries `keys`; its transition's id."""
    s = snap(status, run_id=run_id, at=at, source=source)
    when = now or T0 + timedelta(seconds=at)

    def decide(previous: RunState | None, context: Context) -> Decision:
        t = diff(previous, s, now=when, watching_since=context.watching_since, ids=new_id)
        assert t is not None
        return Decision(s, t, [delivery(k, t.id, when) for k in keys])

    decision = await store.record(s, decide, when)
    assert decision.transition is not None
    return decision.transition.id


async def test_a_runs_transitions_oldest_first_and_only_its_own(store: Store) -> None:
    first = await record(store, "QUEUED", "run_a", 0)
    await record(store, "EXECUTING", "run_b", 5)
    second = await record(store, "EXECUTING", "run_a", 10)
    third = await record(store, "COMPLETED", "run_a", 20)
    await record(store, "EXECUTING", "run_a", 30, source="other")  # same id, another source

    timeline = await store.run_transitions("recoup", "run_a")

    assert [t.id for t in timeline] == [first, second, third]
    assert [(t.from_phase, t.to_phase) for t in timeline] == [
        (None, Phase.QUEUED),
        (Phase.QUEUED, Phase.RUNNING),
        (Phase.RUNNING, Phase.SUCCEEDED),
    ]
    assert [t.source for t in await store.run_transitions("other", "run_a")] == ["other"]
    assert await store.run_transitions("recoup", "no-such-run") == []


async def test_transitions_observed_at_one_moment_keep_the_order_recorded(store: Store) -> None:
    statuses = ["QUEUED", "EXECUTING", "FAILED"]
    ids = [await record(store, s, "run_a", n, now=T0) for n, s in enumerate(statuses)]

    timeline = await store.run_transitions("recoup", "run_a")

    assert [t.id for t in timeline] == ids
    assert timeline[-1].to_phase == Phase.FAILED


async def test_skipped_phases_come_back_with_the_transition(store: Store) -> None:
    await record(store, "QUEUED", "run_a", 0)
    await record(store, "COMPLETED", "run_a", 10)  # running was never seen

    *_, done = await store.run_transitions("recoup", "run_a")

    assert done.skipped == (Phase.RUNNING,)


async def test_a_transitions_deliveries_in_creation_order_and_no_others(store: Store) -> None:
    failed = await record(store, "FAILED", "run_a", 0, keys=("b", "a"))
    other = await record(store, "FAILED", "run_b", 0, keys=("c",))
    later = await record(store, "COMPLETED", "run_c", 60, keys=("d",))

    assert [d.id for d in await store.transition_deliveries(failed)] == ["d-a", "d-b"]  # same time: by id
    assert [d.id for d in await store.transition_deliveries(other)] == ["d-c"]
    assert [d.id for d in await store.transition_deliveries(later)] == ["d-d"]
    assert await store.transition_deliveries("no-such-transition") == []


async def test_a_transitions_deliveries_as_they_stand_now(store: Store) -> None:
    t = await record(store, "FAILED", "run_a", 0, keys=("k",))
    (claimed,) = await store.claim(T0, 10, lease=30)
    attempt = Attempt(claimed.id, 1, T0, 12.5, False, 500, "http_500", "receiver said no")
    await store.complete(claimed.id, [attempt], Outcome(DeliveryStatus.DEAD, error="http 500"))

    (dead,) = await store.transition_deliveries(t)

    assert (dead.status, dead.attempts, dead.last_error) == (DeliveryStatus.DEAD, 1, "http 500")
    assert await store.attempts(dead.id) == [attempt]


async def test_a_digest_belongs_to_no_transition(store: Store) -> None:
    t = await record(store, "FAILED", "run_a", 0, keys=("k",))
    tt = await store.run_transitions("recoup", "run_a")
    digest = delivery("digest", None, T0)
    await store.enqueue(tt[0], [digest])  # the transition is there: only the delivery is new

    assert [d.id for d in await store.transition_deliveries(t)] == ["d-k"]


async def test_activity_counts_transitions_and_deliveries_per_bucket(store: Store) -> None:
    await record(store, "FAILED", "early", -60, keys=("before",))  # before the window: not counted
    await record(store, "QUEUED", "run_a", 0)
    await record(store, "FAILED", "run_a", 30, keys=("a1", "a2"))  # bucket 0 (0..59 s)
    await record(store, "FAILED", "run_b", 150, keys=("b1",))  # bucket 2
    claimed = await store.claim(T0 + timedelta(seconds=200), 10, lease=30)
    first = next(d for d in claimed if d.id == "d-a1")
    await store.complete(first.id, [], Outcome(DeliveryStatus.DEAD, error="no"))
    await store.release([d.id for d in claimed if d.id != first.id])

    found = await store.activity(T0, 60.0)

    assert sorted(found) == [
        (0, "dead", 1),
        (0, "pending", 1),
        (0, "transitions", 2),
        (2, "pending", 1),
        (2, "transitions", 1),
    ]
    assert await store.activity(T0 + timedelta(hours=1), 60.0) == []
