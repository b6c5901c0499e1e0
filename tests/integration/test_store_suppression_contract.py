"""Store contract, suppressed counts (issue 12): messages of a rule and channel that never went
out are counted in the transaction that decided so, and taken by the next delivery of that rule
and channel that goes out, as part of it. Every backend passes it, the in-memory twin included."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from relay.digests import DigestItem
from relay.models import Delivery, DeliveryStatus
from relay.store import Store
from relay.store.suppression import SuppressedCount
from tests.builders import T0
from tests.integration.test_store_noise_contract import delivery, record


def silenced(key: str, rule: str = "r", channel: str = "c") -> Delivery:
    return replace(delivery(key), rule=rule, channel=channel, status=DeliveryStatus.SILENCED)


def once(key: str) -> Delivery:
    return delivery(f"once:r:c:create-content:{key}")


async def test_silenced_and_once_per_messages_are_counted_until_the_next_one_goes_out(
    store: Store,
) -> None:
    await record(store, "FAILED", "a", deliveries=[once("bucket1")])  # the one let through
    await record(store, "FAILED", "b", at=60, deliveries=[replace(once("bucket1"), id="d-2")])
    await record(store, "FAILED", "c", at=120, deliveries=[silenced("s1"), silenced("s2", rule="other")])
    await record(store, "FAILED", "d", at=180, deliveries=[silenced("s3")])
    assert await store.suppressed_counts() == [
        SuppressedCount("other", "c", "silence", 1, T0 + timedelta(seconds=120)),
        SuppressedCount("r", "c", "once_per", 1, T0 + timedelta(seconds=60)),
        SuppressedCount("r", "c", "silence", 2, T0 + timedelta(seconds=120)),
    ]
    decision = await record(store, "FAILED", "e", at=240, deliveries=[delivery("next")])
    (carrier,) = decision.deliveries
    told = [
        {"reason": "once_per", "count": 1, "since": (T0 + timedelta(seconds=60)).isoformat()},
        {"reason": "silence", "count": 2, "since": (T0 + timedelta(seconds=120)).isoformat()},
    ]
    assert sorted(carrier.payload["suppressed"], key=lambda c: c["reason"]) == told
    # the count is part of the delivery: read again (a resend after a crash), it says the same
    stored = await store.delivery(carrier.id)
    assert stored is not None
    assert sorted(stored.payload["suppressed"], key=lambda c: c["reason"]) == told
    (claimed,) = [
        d for d in await store.claim(T0 + timedelta(seconds=240), 5, lease=30) if d.id == carrier.id
    ]
    assert claimed.payload == stored.payload
    # taken: only the other rule's count is left, and the next delivery carries nothing
    assert [c.rule for c in await store.suppressed_counts()] == ["other"]
    (after,) = (await record(store, "FAILED", "f", at=300, deliveries=[delivery("after")])).deliveries
    assert "suppressed" not in after.payload


async def test_a_carrier_that_is_not_written_gives_the_counts_back(store: Store) -> None:
    await record(store, "FAILED", "a", deliveries=[silenced("s1")])
    await record(store, "FAILED", "b", deliveries=[delivery("dup")])  # takes the count
    await record(store, "FAILED", "c", deliveries=[silenced("s2")])
    again = await record(store, "FAILED", "d", deliveries=[replace(delivery("dup"), id="d-again")])
    assert again.deliveries == []
    assert [(c.reason, c.count) for c in await store.suppressed_counts()] == [("silence", 1)]


async def test_held_groups_are_counted_as_held(store: Store) -> None:
    quiet = "quiet:r:c:1764651600"
    await record(
        store, "FAILED", "a", deliveries=[delivery("a", group=quiet), delivery("w", group="window:r:c:9")]
    )
    await record(store, "FAILED", "b", at=30, deliveries=[delivery("b", group=quiet)])
    assert await store.suppressed_counts() == [
        SuppressedCount("r", "c", "group_window", 1, T0, held=True),
        SuppressedCount("r", "c", "quiet_hours", 2, T0, held=True),
    ]
    await store.claim(T0, 5, lease=30)  # no longer waiting
    assert await store.suppressed_counts() == []


async def test_a_digest_carries_the_counts_of_its_rule_and_channel(store: Store) -> None:
    await record(store, "FAILED", "a", deliveries=[silenced("s1", rule="daily", channel="mail")])
    end = T0 + timedelta(hours=1)

    def build(items: list[DigestItem]) -> Delivery:
        return replace(delivery(f"digest:daily:{end.isoformat()}"), rule="daily", channel="mail")

    digest = await store.take_digest("daily", "mail", end, build)
    assert digest is not None
    assert [(c["reason"], c["count"]) for c in digest.payload["suppressed"]] == [("silence", 1)]
    assert await store.suppressed_counts() == []
