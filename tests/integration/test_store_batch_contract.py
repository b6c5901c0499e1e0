"""Store contract, batches (issue 13): `record_many` decides and writes a webhook body's or a
poll page's snapshots in one transaction, in their order, all or nothing. Every backend passes
it, the in-memory twin included."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from relay.ids import new_id
from relay.models import DeliveryStatus, Phase, RunState, Snapshot
from relay.store import Decision, Store
from relay.store.base import Claim, Context, DecideEach
from relay.store.suppression import SuppressedCount
from relay.transitions import diff
from tests.builders import T0, snap
from tests.integration.test_store_contract import delivery

Seen = list[tuple[str, str | None, Phase | None]]  # (run, previous status, task's last phase)


def deciding(seen: Seen, keys: dict[str, str] | None = None, fail_on: str | None = None) -> DecideEach:
    """A decide for record_many that notes what each snapshot was decided against; a delivery
    keyed `keys[run_id]` (default: run id and status) per transition."""

    def decide(s: Snapshot, previous: RunState | None, context: Context) -> Decision:
        if s.run_id == fail_on:
            raise ValueError(f"cannot decide {s.run_id}")
        seen.append((s.run_id, previous.snapshot.status if previous else None, context.task_last))
        t = diff(previous, s, now=T0, watching_since=context.watching_since, ids=new_id)
        if t is None:
            return Decision()
        key = (keys or {}).get(s.run_id, f"{s.run_id}:{s.status}")
        return Decision(s, t, [replace(delivery(t.id, key), id=f"d-{s.run_id}-{s.status}")])

    return decide


async def test_a_batch_is_decided_in_its_order_and_a_run_listed_twice_sees_its_first_state(
    store: Store,
) -> None:
    batch = [
        snap("EXECUTING", run_id="a"),
        snap("COMPLETED", run_id="b", at=1),
        snap("COMPLETED", run_id="a", at=2),
    ]
    seen: Seen = []
    decisions = await store.record_many(batch, deciding(seen), T0)
    # b's success is the task's last outcome when a finishes, as if recorded one by one
    assert seen == [("a", None, None), ("b", None, None), ("a", "EXECUTING", Phase.SUCCEEDED)]
    assert [d.transition.to_status if d.transition else None for d in decisions] == [
        "EXECUTING",
        "COMPLETED",
        "COMPLETED",
    ]
    assert [[x.id for x in d.deliveries] for d in decisions] == [
        ["d-a-EXECUTING"],
        ["d-b-COMPLETED"],
        ["d-a-COMPLETED"],
    ]
    runs = {r.snapshot.run_id: r.snapshot.status for r in await store.runs()}
    assert runs == {"a": "COMPLETED", "b": "COMPLETED"}
    assert len(await store.transitions()) == 3
    assert len(await store.deliveries()) == 3


async def test_a_batch_that_fails_to_decide_writes_nothing(store: Store) -> None:
    await store.record_many([snap("EXECUTING", run_id="a")], deciding([]), T0)
    batch = [snap("COMPLETED", run_id="a", at=1), snap("EXECUTING", run_id="b"), snap("FAILED", run_id="c")]
    with pytest.raises(ValueError, match="cannot decide c"):
        await store.record_many(batch, deciding([], fail_on="c"), T0)
    assert [(r.snapshot.run_id, r.snapshot.status) for r in await store.runs()] == [("a", "EXECUTING")]
    assert len(await store.transitions()) == 1
    assert [d.id for d in await store.deliveries()] == ["d-a-EXECUTING"]
    # and the same batch, decided without failing, is written whole
    decisions = await store.record_many(batch, deciding([]), T0)
    assert all(d.transition for d in decisions)
    assert len(await store.transitions()) == 4


async def test_a_key_written_before_or_earlier_in_the_batch_is_not_written_again(store: Store) -> None:
    await store.record_many([snap("FAILED", run_id="a")], deciding([], keys={"a": "same"}), T0)
    batch = [snap("FAILED", run_id="b"), snap("FAILED", run_id="c"), snap("FAILED", run_id="d")]
    keys = {"b": "same", "c": "other", "d": "other"}
    decisions = await store.record_many(batch, deciding([], keys=keys), T0)
    assert [[x.id for x in d.deliveries] for d in decisions] == [[], ["d-c-FAILED"], []]
    assert all(d.transition for d in decisions)  # the runs and transitions are written all the same
    assert sorted(d.id for d in await store.deliveries()) == ["d-a-FAILED", "d-c-FAILED"]


async def test_a_batch_with_a_lease_claims_what_it_writes(store: Store) -> None:
    batch = [snap("FAILED", run_id=f"r{n}") for n in range(5)]
    decisions = await store.record_many(batch, deciding([]), T0, Claim(30, "me"))
    assert {x.status for d in decisions for x in d.deliveries} == {DeliveryStatus.SENDING}
    assert await store.claim(T0, 10, lease=30) == []  # claimed already, by the batch


async def test_a_batch_claims_no_more_than_the_room_it_was_given(store: Store) -> None:
    """What the writer's worker may still hold: the rest waits in the store for `claim`."""
    batch = [snap("FAILED", run_id=f"r{n}") for n in range(5)]
    decisions = await store.record_many(batch, deciding([]), T0, Claim(30, "me", room=2))
    statuses = [x.status for d in decisions for x in d.deliveries]
    assert statuses == [DeliveryStatus.SENDING] * 2 + [DeliveryStatus.PENDING] * 3
    assert sorted(d.id for d in await store.claim(T0, 10, lease=30)) == [f"d-r{n}-FAILED" for n in (2, 3, 4)]


async def test_the_first_delivery_of_a_batch_carries_the_suppressed_counts(store: Store) -> None:
    def silenced(s: Snapshot, previous: RunState | None, context: Context) -> Decision:
        t = diff(previous, s, now=T0, watching_since=context.watching_since, ids=new_id)
        assert t is not None
        muted = replace(delivery(t.id, f"m-{s.run_id}"), id=f"m-{s.run_id}", status=DeliveryStatus.SILENCED)
        return Decision(s, t, [muted])

    await store.record_many([snap("FAILED", run_id="x"), snap("FAILED", run_id="y")], silenced, T0)
    assert await store.suppressed_counts() == [SuppressedCount("r", "c", "silence", 2, T0)]
    decisions = await store.record_many(
        [snap("FAILED", run_id="a"), snap("FAILED", run_id="b")], deciding([]), T0
    )
    first, second = (d.deliveries[0] for d in decisions)
    assert first.payload["suppressed"] == [{"reason": "silence", "count": 2, "since": T0.isoformat()}]
    assert "suppressed" not in second.payload
    assert await store.suppressed_counts() == []


async def test_silenced_and_sent_mixed_in_one_batch_are_each_told_once(store: Store) -> None:
    """Whether a count is told within the batch (PostgreSQL decides each snapshot in turn) or
    by the next message after it (SQLite and memory count the batch's own at its end), every
    silenced message is told once: carried by a message, or still counted."""

    def mixed(s: Snapshot, previous: RunState | None, context: Context) -> Decision:
        t = diff(previous, s, now=T0, watching_since=context.watching_since, ids=new_id)
        assert t is not None
        d = replace(delivery(t.id, s.run_id), id=f"d-{s.run_id}")
        return Decision(s, t, [replace(d, status=DeliveryStatus.SILENCED) if s.run_id.startswith("m") else d])

    await store.record_many([snap("FAILED", run_id="m0")], mixed, T0)
    batch = [snap("FAILED", run_id=r) for r in ("a", "m1", "m2", "b", "m3", "c")]
    decisions = await store.record_many(batch, mixed, T0)
    carried = [c["count"] for d in decisions for x in d.deliveries for c in x.payload.get("suppressed", [])]
    left = [c.count for c in await store.suppressed_counts()]
    assert sum(carried) + sum(left) == 4 and carried[:1] == [1]  # m0 by a; m1-m3 once each


async def test_two_batches_naming_the_same_runs_in_opposite_orders_both_go_in(store: Store) -> None:
    # on PostgreSQL each takes its runs' locks in one order: they wait for each other, never
    # deadlock (which would fail one of them)
    for _ in range(5):
        ab = [snap("EXECUTING", run_id="a"), snap("EXECUTING", run_id="b")]
        ba = [snap("EXECUTING", run_id="b"), snap("EXECUTING", run_id="a")]
        await asyncio.gather(store.record_many(ab, deciding([]), T0), store.record_many(ba, deciding([]), T0))
    assert sorted(r.snapshot.run_id for r in await store.runs()) == ["a", "b"]
    assert len(await store.transitions()) == 2  # the first batch's; the rest changed nothing


async def test_batches_finishing_tasks_in_opposite_orders_both_go_in(store: Store) -> None:
    # the tasks' last outcomes are rows every batch of those tasks writes: PostgreSQL writes
    # them at the end, sorted, so two batches never lock them in opposite orders
    for n in range(10):
        status = "COMPLETED" if n % 2 else "FAILED"
        xy = [snap(status, run_id=f"a{n}", task="x"), snap(status, run_id=f"b{n}", task="y")]
        yx = [snap(status, run_id=f"c{n}", task="y"), snap(status, run_id=f"d{n}", task="x")]
        await asyncio.gather(store.record_many(xy, deciding([]), T0), store.record_many(yx, deciding([]), T0))
    assert len(await store.runs(limit=100)) == 40
    assert len(await store.transitions(limit=100)) == 40
