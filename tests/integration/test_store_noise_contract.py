"""Store contract, part two: what digests, silences, groups and stuck runs need from a store.
Every backend passes it, the in-memory twin included."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from relay.digests import DigestItem
from relay.ids import new_id
from relay.models import Delivery, DeliveryStatus, Message, Phase, RunState, Transition, Via
from relay.silences import new_silence
from relay.store import Decision, Store
from relay.store.base import Context
from relay.transitions import diff
from tests.builders import T0, snap

END = T0 + timedelta(hours=1)


def item(run_id: str, rule: str = "daily", end: datetime = END) -> DigestItem:
    return DigestItem(
        rule,
        "mail",
        end,
        "recoup",
        run_id,
        "create-content",
        "COMPLETED",
        Phase.SUCCEEDED,
        T0,
        1000,
        "https://v/1.mp4",
        None,
    )


def delivery(key: str, group: str | None = None, transition: str | None = None) -> Delivery:
    return Delivery(
        f"d-{key}",
        transition,
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


async def record(
    store: Store, status: str, run_id: str = "run_1", at: float = 0, **extra: object
) -> Decision:
    s = snap(status, run_id=run_id, at=at)
    seen: list[Context] = []

    def decide(previous: RunState | None, context: Context) -> Decision:
        seen.append(context)
        since, last = context.watching_since, context.task_last
        t = diff(previous, s, now=T0, watching_since=since, ids=new_id, task_last=last)
        return Decision(s if t or previous is None else None, t, **extra)  # type: ignore[arg-type]

    decision = await store.record(s, decide, T0 + timedelta(seconds=at))
    record.context = seen[0]  # type: ignore[attr-defined]
    return decision


async def test_digest_items_are_taken_once_per_window(store: Store) -> None:
    await record(store, "COMPLETED", "a", digest_items=[item("a")])
    await record(store, "COMPLETED", "b", digest_items=[item("b"), item("b", rule="weekly")])
    assert await store.due_digests(END - timedelta(seconds=1)) == []
    due = await store.due_digests(END)
    assert due == [("daily", "mail", END), ("weekly", "mail", END)]
    taken: list[list[str]] = []

    def build(items: list[DigestItem]) -> Delivery:
        taken.append(sorted(i.run_id for i in items))
        return delivery(f"digest:daily:{END.isoformat()}")

    assert await store.take_digest("daily", "mail", END, build) is not None
    assert taken == [["a", "b"]]
    assert await store.due_digests(END) == [("weekly", "mail", END)]
    # a second take of the same window (a restart, another replica) sends nothing again
    assert await store.take_digest("daily", "mail", END, build) is None
    assert len([d for d in await store.deliveries() if d.idempotency_key.startswith("digest:")]) == 1
    assert (await store.delivery(f"d-digest:daily:{END.isoformat()}")) is not None


async def test_an_empty_window_can_be_taken_and_build_may_send_nothing(store: Store) -> None:
    assert await store.take_digest("daily", "mail", END, lambda items: None) is None
    assert await store.take_digest("daily", "mail", END, lambda items: delivery("empty")) is not None
    assert await store.take_digest("daily", "mail", END, lambda items: delivery("empty")) is None


async def test_sent_keys_names_the_windows_some_process_sent(store: Store) -> None:
    """The scheduler's catch-up of empty windows reads which were sent, by any replica."""
    assert await store.sent_keys([]) == set()
    await store.take_digest("daily", "mail", END, lambda items: delivery("digest:daily:mail:1"))
    await store.take_digest("weekly", "mail", END, lambda items: delivery("other"))
    wanted = ["digest:daily:mail:0", "digest:daily:mail:1", "other", "digest:daily:mail:2"]
    assert await store.sent_keys(wanted) == {"digest:daily:mail:1", "other"}


async def test_silences_are_kept_listed_and_expired(store: Store) -> None:
    s = new_silence({"task": "create-*"}, T0, T0 + timedelta(hours=2), "deploy", "ops")
    await store.add_silence(s)
    assert await store.silences(T0) == [s]
    assert not await store.expire_silence("nope", T0)
    assert await store.expire_silence(s.id, T0 + timedelta(minutes=5))
    assert await store.silences(T0 + timedelta(minutes=6)) == []
    (ended,) = await store.silences()
    assert ended.ends_at == T0 + timedelta(minutes=5) and ended.matchers == (("task", "create-*"),)
    assert not await store.expire_silence(s.id, T0 + timedelta(minutes=7))


async def test_claiming_one_member_of_a_group_claims_the_group(store: Store) -> None:
    await record(store, "FAILED", "a", deliveries=[delivery("a", group="g1"), delivery("x")])
    await record(store, "FAILED", "b", deliveries=[delivery("b", group="g1")])
    claimed = await store.claim(T0, 1, lease=30)
    assert {d.idempotency_key for d in claimed} == {"a", "b"}  # the limit counts sends, a group is one
    assert {d.idempotency_key for d in await store.claim(T0, 5, lease=30)} == {"x"}


async def test_the_task_s_last_outcome_and_the_phase_clock(store: Store) -> None:
    await record(store, "FAILED", "run_1")
    await record(store, "EXECUTING", "run_2", at=10)
    assert record.context.task_last == Phase.FAILED  # type: ignore[attr-defined]
    done = await record(store, "COMPLETED", "run_2", at=20)
    assert done.transition is not None and done.transition.recovered
    (state,) = (await store.known_runs("recoup", ["run_2"])).values()
    assert state.phase_since == T0 + timedelta(seconds=20) and state.first_seen_at == T0 + timedelta(
        seconds=10
    )


async def test_enqueue_writes_a_relay_observed_transition_once(store: Store) -> None:
    t = Transition(
        "stuck:recoup:run_1:r",
        "recoup",
        "run_1",
        Phase.RUNNING,
        Phase.RUNNING,
        "EXECUTING",
        "EXECUTING",
        T0,
        Via.POLL,
    )
    assert await store.enqueue(t, [delivery("stuck-1", transition=t.id)]) == 1
    assert await store.enqueue(replace(t, observed_at=END), [delivery("stuck-1", transition=t.id)]) == 0
    assert [x.id for x in await store.transitions()] == [t.id]
    assert [d.idempotency_key for d in await store.deliveries()] == ["stuck-1"]
