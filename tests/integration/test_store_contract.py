"""One contract, every store: the in-memory twin must behave like SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from relay.models import Attempt, Delivery, DeliveryStatus, Message, RunState, Snapshot
from relay.store import Decision, Outcome, Store, open_store
from relay.transitions import diff
from tests.builders import T0, snap


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'relay.db'}"
    s = await open_store(url)
    yield s
    await s.close()


def delivery(transition_id: str, key: str = "k1", at: datetime = T0) -> Delivery:
    return Delivery(
        id=f"d-{key}",
        transition_id=transition_id,
        rule="r",
        channel="c",
        idempotency_key=key,
        message=Message("title", "body", "success", "https://x", (("a", "b"),)),
        payload={"v": 1},
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=at,
        created_at=at,
    )


async def ingest(store: Store, s: Snapshot, keys: tuple[str, ...] = ("k1",)) -> Decision:
    def decide(previous: RunState | None, since: datetime) -> Decision:
        t = diff(previous, s, now=T0, watching_since=since)
        if t is None:
            return Decision()
        return Decision(s, t, [delivery(t.id, k) for k in keys])

    return await store.record(s, decide, T0)


async def test_record_and_read_back(store: Store) -> None:
    d = await ingest(store, snap("EXECUTING"))
    assert d.transition is not None
    runs = await store.runs()
    assert [r.snapshot for r in runs] == [snap("EXECUTING")]
    assert (await store.known_runs("recoup", ["run_1", "nope"])).keys() == {"run_1"}
    assert [r.snapshot.run_id for r in await store.active_runs("recoup")] == ["run_1"]
    assert [t.id for t in await store.transitions()] == [d.transition.id]
    stored = await store.delivery("d-k1")
    assert stored is not None and stored.message == delivery("x").message


async def test_terminal_runs_are_not_active(store: Store) -> None:
    await ingest(store, snap("EXECUTING"))
    await ingest(store, snap("COMPLETED", at=5), keys=("k2",))
    assert await store.active_runs("recoup") == []


async def test_watching_since_is_fixed_at_first_contact(store: Store) -> None:
    seen: list[datetime] = []

    def decide(previous: RunState | None, since: datetime) -> Decision:
        seen.append(since)
        return Decision()

    await store.record(snap("EXECUTING"), decide, T0)
    await store.record(snap("EXECUTING"), decide, T0 + timedelta(hours=1))
    assert seen == [T0, T0]
    assert await store.watching_since("recoup", T0 + timedelta(hours=2)) == T0
    later = T0 + timedelta(hours=3)
    assert await store.watching_since("other", later) == later


async def test_duplicate_idempotency_key_is_written_once(store: Store) -> None:
    await ingest(store, snap("EXECUTING"), keys=("same",))
    await ingest(store, snap("COMPLETED", at=5), keys=("same",))
    assert len(await store.deliveries()) == 1


async def test_a_failing_decision_writes_nothing(store: Store) -> None:
    def decide(previous: RunState | None, since: datetime) -> Decision:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await store.record(snap("EXECUTING"), decide, T0)
    assert await store.runs() == []


async def test_claim_complete_and_schedule(store: Store) -> None:
    await ingest(store, snap("EXECUTING"), keys=("a", "b"))
    claimed = await store.claim(T0, 10, lease=30)
    assert {d.idempotency_key for d in claimed} == {"a", "b"}
    assert all(d.status == DeliveryStatus.SENDING for d in claimed)
    assert await store.claim(T0, 10, lease=30) == []  # claimed ones are not handed out twice
    attempt = Attempt("d-a", 1, T0, 12.5, False, 503, "http_503", "busy")
    later = T0 + timedelta(seconds=5)
    await store.complete("d-a", [attempt], Outcome(DeliveryStatus.PENDING, later, "http_503"))
    await store.complete("d-b", [replace(attempt, delivery_id="d-b", ok=True)], Outcome(DeliveryStatus.SENT))
    assert await store.attempts("d-a") == [attempt]
    a = await store.delivery("d-a")
    assert a is not None and (a.status, a.attempts, a.rounds, a.last_error) == (
        DeliveryStatus.PENDING,
        1,
        1,
        "http_503",
    )
    assert await store.next_due() == later
    assert await store.claim(T0, 10, lease=30) == []
    assert [d.id for d in await store.claim(later, 10, lease=30)] == ["d-a"]
    assert [d.id for d in await store.deliveries(DeliveryStatus.SENT)] == ["d-b"]


async def test_expired_lease_is_claimed_again(store: Store) -> None:
    await ingest(store, snap("EXECUTING"))
    assert len(await store.claim(T0, 10, lease=30)) == 1
    assert await store.claim(T0 + timedelta(seconds=29), 10, lease=30) == []
    assert len(await store.claim(T0 + timedelta(seconds=31), 10, lease=30)) == 1


async def test_release_and_replay(store: Store) -> None:
    await ingest(store, snap("EXECUTING"))
    await store.claim(T0, 10, lease=30)
    await store.release(["d-k1"])
    assert [d.id for d in await store.claim(T0, 10, lease=30)] == ["d-k1"]
    await store.complete("d-k1", [], Outcome(DeliveryStatus.DEAD, error="gone"))
    assert [d.id for d in await store.deliveries(DeliveryStatus.DEAD)] == ["d-k1"]
    assert not await store.replay("unknown", T0)
    assert await store.replay("d-k1", T0 + timedelta(seconds=1))
    replayed = await store.delivery("d-k1")
    assert replayed is not None and replayed.status == DeliveryStatus.PENDING and replayed.rounds == 0
    assert not await store.replay("d-k1", T0)  # pending already


async def test_sqlite_survives_reopen(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    first = await open_store(url)
    await ingest(first, snap("EXECUTING"))
    await first.close()
    second = await open_store(url)
    try:
        assert len(await second.deliveries()) == 1
        assert (await second.runs())[0].snapshot == snap("EXECUTING")
    finally:
        await second.close()
