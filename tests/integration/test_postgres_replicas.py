"""What only PostgreSQL promises: several replicas (here: several stores, each its own pool, on
one schema) share one truth. The contract suites cover each method on one store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import asyncpg
import pytest

from relay.digests import DigestItem
from relay.errors import StoreError
from relay.models import Delivery, DeliveryStatus, Message, RunState
from relay.store import Decision, open_store
from relay.store.base import Claim, Context
from relay.store.postgres import PostgresStore
from tests.builders import T0, snap
from tests.integration.pg import SERVER, pg_schema

REPLICAS = 3


@pytest.fixture
async def replicas() -> AsyncIterator[list[PostgresStore]]:
    async with pg_schema("r") as url:
        stores = [await open_store(f"{url}&pool=4") for _ in range(REPLICAS)]
        assert all(isinstance(s, PostgresStore) for s in stores)
        yield stores  # type: ignore[misc]
        for s in stores:
            await s.close()


def delivery(key: str, group: str | None = None) -> Delivery:
    return Delivery(
        f"d-{key}",
        None,
        "r",
        "c",
        key,
        Message("t", "b"),
        {},
        DeliveryStatus.PENDING,
        0,
        T0,
        T0,
        group_key=group,
    )


async def write(store: PostgresStore, run_id: str, deliveries: list[Delivery]) -> Decision:
    s = snap("COMPLETED", run_id=run_id)

    def decide(previous: RunState | None, context: Context) -> Decision:
        return Decision(s, None, deliveries)

    return await store.record(s, decide, T0)


async def test_replicas_claiming_at_once_never_hand_out_one_delivery_twice(
    replicas: list[PostgresStore],
) -> None:
    await write(replicas[0], "run_1", [delivery(f"k{n}") for n in range(60)])
    rounds = [
        r.claim(T0, 7, lease=30, owner=f"replica-{i}") for i, r in enumerate(replicas) for _ in range(4)
    ]
    claimed = [d.id for batch in await asyncio.gather(*rounds) for d in batch]
    assert len(claimed) == len(set(claimed))  # SKIP LOCKED: each delivery to one claimer only
    assert len(claimed) == min(60, 7 * 4 * REPLICAS)


async def test_a_dead_replicas_claims_go_to_another_when_its_lease_runs_out(
    replicas: list[PostgresStore],
) -> None:
    first, second, _ = replicas
    await write(first, "run_1", [delivery("a")])
    assert [d.id for d in await first.claim(T0, 10, lease=30, owner="first")] == ["d-a"]
    assert await second.claim(T0 + timedelta(seconds=29), 10, lease=30, owner="second") == []
    (again,) = await second.claim(T0 + timedelta(seconds=31), 10, lease=30, owner="second")
    assert again.id == "d-a" and [a.reason for a in await second.attempts("d-a")] == ["interrupted"]


async def test_a_restarted_replica_takes_back_its_own_claims_at_once(replicas: list[PostgresStore]) -> None:
    first, second, _ = replicas
    await write(first, "run_1", [delivery("a"), delivery("b")])
    await first.claim(T0, 1, lease=300, owner="first")
    await second.claim(T0, 1, lease=300, owner="second")
    assert await first.expire_claims("first", T0 + timedelta(seconds=1)) == 1
    (back,) = await first.claim(T0 + timedelta(seconds=1), 10, lease=300, owner="first")
    assert (await second.delivery("d-b" if back.id == "d-a" else "d-a")) is not None
    assert [a.reason for a in await first.attempts(back.id)] == ["interrupted"]


async def test_one_digest_window_taken_by_every_replica_at_once_is_sent_once(
    replicas: list[PostgresStore],
) -> None:
    from tests.integration.test_store_noise_contract import item

    s = snap("COMPLETED")

    def decide(previous: RunState | None, context: Context) -> Decision:
        return Decision(s, None, [], [item("run_1"), item("run_2")])

    await replicas[0].record(s, decide, T0)
    (_, _, end), *_ = await replicas[0].due_digests(T0 + timedelta(days=1))
    built: list[int] = []

    def build(items: list[DigestItem]) -> Delivery | None:
        built.append(len(items))
        return delivery(f"digest-{len(built)}") if items else None

    taken = await asyncio.gather(*(r.take_digest("daily", "mail", end, build) for r in replicas))
    assert sorted(built, reverse=True) == [2] + [0] * (REPLICAS - 1)
    assert len([d for d in taken if d is not None]) == 1


async def test_rate_limits_admit_at_most_count_across_replicas(replicas: list[PostgresStore]) -> None:
    asks = [r.admit("slack", T0, 5, 60.0) for r in replicas for _ in range(6)]
    answers = await asyncio.gather(*asks)
    assert answers.count(None) == 5
    assert {a for a in answers if a is not None} == {T0 + timedelta(seconds=60)}


async def test_one_leader_among_replicas_asking_at_once(replicas: list[PostgresStore]) -> None:
    tokens = await asyncio.gather(*(r.hold("poll:recoup", f"r{i}", T0, 30) for i, r in enumerate(replicas)))
    assert len([t for t in tokens if t is not None]) == 1
    leader = next(f"r{i}" for i, t in enumerate(tokens) if t is not None)
    assert (await replicas[0].leases(T0))["poll:recoup"] == (leader, T0 + timedelta(seconds=30))


async def test_a_delivery_written_by_one_replica_wakes_the_others(replicas: list[PostgresStore]) -> None:
    writer, *listeners = replicas
    woken = [asyncio.Event() for _ in listeners]
    for store, event in zip(listeners, woken, strict=True):
        await store.on_due(event.set)
    await write(writer, "run_1", [delivery("a")])
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in woken)), 10)


async def test_the_listener_reconnects_when_its_connection_drops(replicas: list[PostgresStore]) -> None:
    writer, listener, _ = replicas
    woken = asyncio.Event()
    await listener.on_due(woken.set)
    assert listener._listener is not None and listener._listener.connects == 1
    admin = await asyncpg.connect(SERVER)
    try:  # what a PostgreSQL restart or a network cut does to it
        ended = await admin.fetchval(  # only this store's listener: other runs share the server
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE query = 'LISTEN \"' || $1 || '\"'",
            listener._channel,
        )
        assert ended == 1
    finally:
        await admin.close()
    await asyncio.wait_for(woken.wait(), 10)  # woken once back: what was sent meanwhile is unheard
    woken.clear()
    while listener._listener.connects < 2:
        await asyncio.sleep(0.01)
    await write(writer, "run_2", [delivery("b")])
    await asyncio.wait_for(woken.wait(), 10)


async def test_claimed_as_written_carries_its_owner(replicas: list[PostgresStore]) -> None:
    first, second, _ = replicas
    s = snap("COMPLETED")

    def decide(previous: RunState | None, context: Context) -> Decision:
        return Decision(s, None, [replace(delivery("a"))])

    decision = await first.record(s, decide, T0, Claim(300, "first"))
    assert [d.status for d in decision.deliveries] == [DeliveryStatus.SENDING]
    assert await second.expire_claims("second", T0) == 0
    assert await first.expire_claims("first", T0) == 1


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("schema=bad-name", "schema='bad-name': a PostgreSQL schema name is letters, digits and _"),
        ("pool=0", "pool='0': the pool size is a whole number from 1 to 1000"),
        ("pool=many", "pool='many': the pool size is a whole number from 1 to 1000"),
    ],
)
async def test_bad_url_parameters_are_refused_clearly(query: str, message: str) -> None:
    with pytest.raises(StoreError, match=f"^{message}$"):
        await open_store(f"{SERVER}?{query}")


async def test_a_server_that_does_not_answer_is_a_store_error_without_the_password() -> None:
    with pytest.raises(StoreError, match="^cannot connect to PostgreSQL") as refused:
        await open_store("postgresql://relay:not-a-real-password@127.0.0.1:1/test")
    assert "not-a-real-password" not in str(refused.value)
