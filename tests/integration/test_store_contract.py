"""One contract, every store: the in-memory twin must behave like SQLite."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from relay.ids import new_id
from relay.models import Attempt, Delivery, DeliveryStatus, Message, RunState, Snapshot
from relay.store import Decision, Outcome, Store, open_store
from relay.store.base import Claim, Context
from relay.store.sqlite import SqliteStore
from relay.transitions import diff
from tests.builders import T0, snap


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
    def decide(previous: RunState | None, context: Context) -> Decision:
        t = diff(previous, s, now=T0, watching_since=context.watching_since, ids=new_id)
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
    assert await store.transitions() == [d.transition]
    stored = await store.delivery("d-k1")
    assert stored is not None and stored.message == delivery("x").message


async def test_a_delivery_keeps_its_template_error(store: Store) -> None:
    def decide(previous: RunState | None, context: Context) -> Decision:
        t = diff(previous, snap("FAILED"), now=T0, watching_since=context.watching_since, ids=new_id)
        assert t is not None
        return Decision(snap("FAILED"), t, [replace(delivery(t.id), template_error="TypeError: boom")])

    await store.record(snap("FAILED"), decide, T0, Claim(30))
    await store.complete("d-k1", [], Outcome(DeliveryStatus.DEAD, error="gone"))
    await store.replay("d-k1", T0)
    (claimed,) = await store.claim(T0, 10, lease=30)
    stored = await store.delivery("d-k1")
    assert claimed.template_error == "TypeError: boom" and stored is not None
    assert stored.template_error == "TypeError: boom"
    assert (await store.deliveries())[0].template_error == "TypeError: boom"


async def test_terminal_runs_are_not_active(store: Store) -> None:
    await ingest(store, snap("EXECUTING"))
    await ingest(store, snap("COMPLETED", at=5), keys=("k2",))
    assert await store.active_runs("recoup") == []


async def test_transitions_keep_what_they_skipped(store: Store) -> None:
    await ingest(store, snap("QUEUED"))
    done = await ingest(store, snap("COMPLETED", at=5), keys=("k2",))
    assert done.transition is not None and done.transition.skipped
    assert (await store.transitions())[0] == done.transition


async def test_watching_since_is_fixed_at_first_contact(store: Store) -> None:
    seen: list[datetime] = []

    def decide(previous: RunState | None, context: Context) -> Decision:
        seen.append(context.watching_since)
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
    def decide(previous: RunState | None, context: Context) -> Decision:
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


async def test_expired_lease_is_claimed_again_with_the_cut_off_send_on_record(store: Store) -> None:
    await ingest(store, snap("EXECUTING"))
    assert len(await store.claim(T0, 10, lease=30)) == 1
    assert await store.claim(T0 + timedelta(seconds=29), 10, lease=30) == []
    (again,) = await store.claim(T0 + timedelta(seconds=31), 10, lease=30)  # its process died
    assert (again.status, again.attempts, again.rounds) == (DeliveryStatus.SENDING, 1, 0)
    (cut,) = await store.attempts("d-k1")
    assert (cut.n, cut.started_at, cut.ok, cut.reason) == (1, T0, False, "interrupted")


async def test_sends_ending_together_are_each_recorded_and_a_bad_one_fails_alone(store: Store) -> None:
    """The worker's outcomes arrive together (PostgreSQL writes them as one transaction)."""
    keys = tuple(f"k{n}" for n in range(20))
    await ingest(store, snap("EXECUTING"), keys=keys)
    await store.claim(T0, 100, lease=30)
    sent = [Attempt(f"d-{k}", 1, T0, 5.0, True, 200, None, None) for k in keys]
    unknown = Attempt("d-unknown", 1, T0, 5.0, True, 200, None, None)
    outcomes = await asyncio.gather(
        *(store.complete(a.delivery_id, [a], Outcome(DeliveryStatus.SENT)) for a in sent),
        store.complete("d-unknown", [unknown], Outcome(DeliveryStatus.SENT)),
        return_exceptions=True,
    )
    assert outcomes[:-1] == [None] * 20 and isinstance(outcomes[-1], Exception)
    assert len(await store.deliveries(DeliveryStatus.SENT)) == 20
    assert [await store.attempts(a.delivery_id) for a in sent] == [[a] for a in sent]


async def test_release_records_the_attempts_of_its_round_as_no_failed_round(store: Store) -> None:
    await ingest(store, snap("EXECUTING"), keys=("a", "b"))
    await store.claim(T0, 10, lease=30)
    failed = Attempt("d-a", 1, T0, 5.0, False, 503, "http_503", "busy")
    cut = Attempt("d-a", 2, T0, 7.0, False, None, "interrupted", None)
    await store.complete("d-b", [replace(failed, delivery_id="d-b", ok=True)], Outcome(DeliveryStatus.SENT))
    await store.release(["d-a", "d-b"], [failed, cut, replace(cut, delivery_id="d-b")])
    assert await store.attempts("d-a") == [failed, cut]
    a, b = await store.delivery("d-a"), await store.delivery("d-b")
    assert a is not None and (a.status, a.attempts, a.rounds) == (DeliveryStatus.PENDING, 2, 0)
    assert b is not None and b.status == DeliveryStatus.SENT and len(await store.attempts("d-b")) == 1
    assert [d.id for d in await store.claim(T0, 10, lease=30)] == ["d-a"]  # due at once


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


# -- concurrent records (the SQLite store commits them in groups) ----------------------------


async def test_concurrent_records_are_each_stored_and_answered(store: Store) -> None:
    runs = [snap("EXECUTING", run_id=f"run_{n}") for n in range(50)]
    decisions = await asyncio.gather(*(ingest(store, s, keys=(f"k{n}",)) for n, s in enumerate(runs)))
    assert [d.transition.run_id for d in decisions if d.transition] == [s.run_id for s in runs]
    assert len(await store.runs(limit=1000)) == 50
    assert len(await store.deliveries(limit=1000)) == 50


async def test_one_failing_decision_fails_only_its_caller(store: Store) -> None:
    def boom(previous: RunState | None, context: Context) -> Decision:
        raise RuntimeError("boom")

    outcomes = await asyncio.gather(
        ingest(store, snap("EXECUTING", run_id="before"), keys=("a",)),
        store.record(snap("EXECUTING", run_id="bad"), boom, T0),
        ingest(store, snap("EXECUTING", run_id="after"), keys=("b",)),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], RuntimeError)
    assert not isinstance(outcomes[0], BaseException) and not isinstance(outcomes[2], BaseException)
    assert {r.snapshot.run_id for r in await store.runs()} == {"before", "after"}
    assert {d.idempotency_key for d in await store.deliveries()} == {"a", "b"}


async def test_concurrent_updates_of_one_run_see_each_other(store: Store) -> None:
    first, second = await asyncio.gather(
        ingest(store, snap("EXECUTING"), keys=("a",)), ingest(store, snap("EXECUTING", at=1), keys=("b",))
    )
    assert first.transition is not None and second.transition is None  # a duplicate phase
    assert [d.idempotency_key for d in await store.deliveries()] == ["a"]


async def test_sqlite_groups_concurrent_records_and_answers_after_commit(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    store, other = await open_store(url), await open_store(url)
    try:
        assert isinstance(store, SqliteStore)
        await asyncio.gather(
            *(ingest(store, snap("EXECUTING", run_id=f"r{n}"), (f"k{n}",)) for n in range(40))
        )
        assert store.commits < 40  # fewer transactions (fsyncs) than callers
        # every caller was answered after its batch committed: another connection sees it all
        assert len(await other.runs(limit=100)) == 40
    finally:
        await store.close()
        await other.close()


async def test_sqlite_watching_since_of_a_rolled_back_write_is_not_kept(tmp_path: Path) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'w.db'}")
    seen: list[datetime] = []

    def boom(previous: RunState | None, context: Context) -> Decision:
        seen.append(context.watching_since)
        raise RuntimeError("boom")

    def note(previous: RunState | None, context: Context) -> Decision:
        seen.append(context.watching_since)
        return Decision()

    try:
        with pytest.raises(RuntimeError):
            await store.record(snap("EXECUTING"), boom, T0)
        later = T0 + timedelta(hours=1)
        await store.record(snap("EXECUTING"), note, later)
        await store.record(snap("EXECUTING"), note, later + timedelta(hours=1))
        assert seen == [T0, later, later]  # the first contact that counts is the committed one
        assert await store.watching_since("recoup", T0) == later
    finally:
        await store.close()


async def test_sqlite_claims_alone_skip_the_fsync_and_writes_after_them_restore_it(tmp_path: Path) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'c.db'}")
    assert isinstance(store, SqliteStore)
    try:
        await ingest(store, snap("EXECUTING"))
        assert [d.id for d in await store.claim(T0, 10, lease=30)] == ["d-k1"]
        synchronous = await store._run(lambda: store._conn.execute("PRAGMA synchronous").fetchone()[0])
        assert synchronous == 2  # FULL again for whatever comes next
    finally:
        await store.close()


def test_sqlite_processes_starting_together_on_a_new_file_migrate_once(tmp_path: Path) -> None:
    import threading

    from relay.store.migrations import MIGRATIONS
    from relay.store.sqlite import _connect

    path, errors, versions = str(tmp_path / "new.db"), [], []

    def start() -> None:
        try:
            conn = _connect(path)
            versions.append(conn.execute("PRAGMA user_version").fetchone()[0])
            conn.close()
        except Exception as exc:  # "table runs already exists" before the fix
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert versions == [len(MIGRATIONS)] * 4


async def test_sqlite_waits_for_another_writer_without_blocking_the_loop(tmp_path: Path) -> None:
    """Another process (the CLI, a second worker) holds the write lock: the batch waits for it
    on the SQLite thread, the event loop keeps serving, and the write lands once it is free."""
    import sqlite3

    path = tmp_path / "busy.db"
    store = await open_store(f"sqlite:///{path}")
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        write = asyncio.create_task(ingest(store, snap("EXECUTING")))
        ticks = 0
        for _ in range(20):  # the loop keeps running while the write waits
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks == 20 and not write.done()
        holder.execute("COMMIT")
        decision = await asyncio.wait_for(write, 10)
        assert decision.transition is not None
        assert [r.snapshot.status for r in await store.runs()] == ["EXECUTING"]
    finally:
        holder.close()
        await store.close()


async def test_record_with_a_lease_claims_what_it_writes(store: Store) -> None:
    """The hand-off path: deliveries due now are written already claimed for this process, so
    no other claim takes them until the lease runs out (a crash), and nothing is claimed twice."""
    s = snap("COMPLETED")

    def decide(previous: RunState | None, context: Context) -> Decision:
        t = diff(previous, s, now=T0, watching_since=context.watching_since, ids=new_id)
        assert t is not None
        later = delivery(t.id, "later", at=T0 + timedelta(minutes=5))
        grouped = replace(delivery(t.id, "grouped"), group_key="g")
        return Decision(s, t, [delivery(t.id, "now"), later, grouped])

    decision = await store.record(s, decide, T0, Claim(30))
    statuses = {d.idempotency_key: d.status for d in decision.deliveries}
    assert statuses == {
        "now": DeliveryStatus.SENDING,
        "later": DeliveryStatus.PENDING,
        "grouped": DeliveryStatus.PENDING,
    }
    assert [d.idempotency_key for d in await store.claim(T0, 10, lease=30)] == ["grouped"]
    assert await store.claim(T0 + timedelta(seconds=29), 10, lease=30) == []
    # the process that held it died: once its lease ran out, another claim takes it
    again = await store.claim(T0 + timedelta(seconds=31), 10, lease=30)
    assert sorted(d.idempotency_key for d in again) == ["grouped", "now"]  # both leases ran out


async def test_record_leaves_out_deliveries_it_did_not_write(store: Store) -> None:
    s = snap("COMPLETED")

    def decide(previous: RunState | None, context: Context) -> Decision:
        t = diff(None, s, now=T0, watching_since=context.watching_since, ids=new_id)
        assert t is not None
        return Decision(s, t, [replace(delivery(t.id, "same"), id=t.id)])

    first = await store.record(s, decide, T0, Claim(30))
    second = await store.record(s, decide, T0, Claim(30))  # same key: a duplicate, not sent again
    assert len(first.deliveries) == 1 and second.deliveries == []
    assert len(await store.deliveries()) == 1


async def test_heartbeat_is_a_write_that_changes_nothing_a_reader_sees(store: Store) -> None:
    await ingest(store, snap("EXECUTING"))

    async def seen() -> tuple[object, ...]:
        return await store.runs(), await store.transitions(), await store.deliveries(), await store.next_due()

    before = await seen()
    await store.heartbeat(T0)
    await store.heartbeat(T0 + timedelta(seconds=1))  # the same row, rewritten
    assert await seen() == before


async def test_sqlite_heartbeat_lands_only_once_another_process_lets_go_of_the_lock(tmp_path: Path) -> None:
    """What /readyz relies on: while another process holds the write lock the probe does not
    pretend to have written; it waits (the caller bounds the wait) and lands once freed."""
    import sqlite3

    from tests.fakes.sqlite_lock import write_locked

    path = tmp_path / "locked.db"
    store = await open_store(f"sqlite:///{path}")
    try:
        async with write_locked(path):
            probe = asyncio.create_task(store.heartbeat(T0))
            done, _ = await asyncio.wait([probe], timeout=0.5)
            assert not done
        await asyncio.wait_for(probe, 10)
    finally:
        await store.close()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT at FROM heartbeat").fetchall() == [(T0.timestamp(),)]
