"""queries.sql is where the SQLite store's SQL lives: every statement in it compiles against
the schema the migrations build (a typo in a statement the tests seldom reach fails here), and
mappers.py fills and reads each statement's columns in their order."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from relay.digests import DigestItem
from relay.models import Attempt, Delivery, DeliveryStatus, Message, Phase, Transition, Via
from relay.silences import Silence
from relay.store import Decision, Outcome
from relay.store.sqlite import SqliteStore
from relay.store.sqlite.engine import connect
from relay.store.sqlite.queries import SQL
from tests.builders import T0, snap


def test_every_named_statement_compiles_against_the_migrated_schema(tmp_path: Path) -> None:
    conn = connect(str(tmp_path / "q.db"))
    failures: dict[str, str] = {}
    try:
        for name, sql in SQL.items():
            try:
                # NULL for every parameter: EXPLAIN compiles the statement, it runs nothing
                conn.execute(f"EXPLAIN {sql}", (None,) * sql.count("?"))
            except sqlite3.Error as exc:
                failures[name] = str(exc)
    finally:
        conn.close()
    assert failures == {}
    assert len(SQL) >= 30  # the file was found and split into its statements


async def test_every_noun_reads_back_as_written(tmp_path: Path) -> None:
    """Each field in its own column: a mapper out of step with its statement's column order
    swaps two of them, and the noun read back differs from the one written."""
    store = await SqliteStore.open(str(tmp_path / "r.db"))
    later = T0 + timedelta(minutes=5)
    run = snap("FAILED", at=30, error="boom", tags=("a",), url="https://run", duration_ms=7)
    transition = Transition(
        "t-1",
        "recoup",
        "run_1",
        Phase.QUEUED,
        Phase.FAILED,
        "QUEUED",
        "FAILED",
        later,
        Via.WEBHOOK,
        backfill=True,
        skipped=(Phase.RUNNING,),
    )
    delivery = Delivery(
        "d-1",
        "t-1",
        "rule-a",
        "chan-b",
        "key-c",
        Message("title", "body", "failure"),
        {"v": 2},
        DeliveryStatus.PENDING,
        attempts=3,
        next_attempt_at=later,
        created_at=T0,
        rounds=2,
        last_error="err-d",
        group_key="group-e",
        template_error="tmpl-f",
    )
    item = DigestItem(
        "rule-a",
        "chan-b",
        later,
        "recoup",
        "run_1",
        "create-content",
        "FAILED",
        Phase.FAILED,
        later,
        7,
        "boom",
        "https://run",
        redacted=True,
        video_url="https://v",
    )
    attempt = Attempt("d-1", 4, later, 12.5, False, 503, "http_status", "excerpt-g")
    silence = Silence("s-1", (("rule", "rule-a"), ("task", "t*")), T0, later, "why", "who")
    try:
        await store.record(run, lambda _p, _c: Decision(run, transition, [delivery], [item]), T0)
        (state,) = await store.runs()
        assert (state.snapshot, state.first_seen_at, state.phase_since) == (run, T0, T0)
        assert await store.transitions() == [transition]
        assert await store.delivery("d-1") == delivery
        taken: list[DigestItem] = []

        def build(items: list[DigestItem]) -> None:
            taken.extend(items)

        await store.take_digest("rule-a", "chan-b", later, build)
        assert taken == [item]
        await store.complete("d-1", [attempt], Outcome(DeliveryStatus.DEAD, error="gone"))
        assert await store.attempts("d-1") == [attempt]
        assert await store.delivery("d-1") == replace(
            delivery, status=DeliveryStatus.DEAD, attempts=4, rounds=3, last_error="gone"
        )
        await store.add_silence(silence)
        assert await store.silences() == [silence]
    finally:
        await store.close()


def test_a_claim_reads_what_it_claims_not_the_whole_backlog(tmp_path: Path) -> None:
    """Every index search of the claim is by due time, id or group key: none walks all the
    pending deliveries (the claim of a 10,000 backlog took 8x longer when one did)."""
    conn = connect(str(tmp_path / "q.db"))
    try:
        plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {SQL['claim']}", (0, 64, 0, "o"))]
    finally:
        conn.close()
    searches = [step for step in plan if "deliveries USING" in step]
    assert searches and all(
        "(status=? AND next_attempt_at<?)" in s or "(id=?)" in s or "(group_key=?)" in s for s in searches
    ), plan
    assert not any(step.startswith("SCAN deliveries") for step in plan), plan
