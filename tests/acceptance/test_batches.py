"""A webhook body with many runs: decided and written in one transaction (`record_many`),
answered once, each run's own snapshots still applied in the order the body lists them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from relay.models import DeliveryStatus
from relay.store.sqlite import SqliteStore
from tests.acceptance.harness import running_relay
from tests.fakes.sinks import recording_sink

RULES = """
sources: {{recoup: {{kind: recoup}}}}
channels: {{crm: {{kind: webhook, url: "{url}/runs"}}}}
rules: [{{name: all-terminal, match: {{phase: terminal}}, notify: [crm]}}]
"""


def run(run_id: str, status: str = "COMPLETED", at: str = "2026-11-25T09:02:00Z") -> dict[str, Any]:
    return {"id": run_id, "taskIdentifier": "t", "status": status, "createdAt": at, "updatedAt": at}


async def test_a_200_run_body_is_written_in_one_transaction_and_answered_once(tmp_path: Path) -> None:
    async with recording_sink() as (sink, url):
        config = tmp_path / "rules.yaml"
        config.write_text(RULES.format(url=url))
        # no delivery worker nor scheduler: their writes (sends' outcomes, pruning) would be
        # commits of their own meanwhile
        async with running_relay(config, tmp_path / "relay.db", workers=False, scheduler=False) as relay:
            store = relay.relay.store
            assert isinstance(store, SqliteStore)
            before = store.commits
            body = {"runs": [run(f"run_{n}") for n in range(200)]}
            answer = await relay.client.post(f"{relay.url}/hooks/recoup", json=body)
            assert answer.status_code == 202
            assert answer.json() == {"accepted": 200, "transitions": 200, "deliveries": 200}
            assert store.commits - before == 1
            pending = await store.deliveries(limit=1000)
            assert sorted(d.idempotency_key.split(":")[1] for d in pending) == sorted(
                f"run_{n}" for n in range(200)
            )


async def test_one_run_twice_in_a_body_is_applied_in_its_order(tmp_path: Path, database_url: str) -> None:
    async with recording_sink() as (sink, url):
        config = tmp_path / "rules.yaml"
        config.write_text(RULES.format(url=url))
        async with running_relay(config, database_url) as relay:
            body = {
                "runs": [
                    run("run_a", "EXECUTING", "2026-11-25T09:00:00Z"),
                    run("run_b"),
                    run("run_a", "COMPLETED", "2026-11-25T09:05:00Z"),
                ]
            }
            answer = await relay.client.post(f"{relay.url}/hooks/recoup", json=body)
            assert answer.json() == {"accepted": 3, "transitions": 3, "deliveries": 2}
            transitions = (await relay.admin("transitions"))["transitions"]
            of_a = [t["to_status"] for t in reversed(transitions) if t["run_id"] == "run_a"]
            assert of_a == ["EXECUTING", "COMPLETED"]
            await sink.wait_for(2)


async def test_a_body_larger_than_the_worker_may_hold_is_sent_whole_and_once(
    tmp_path: Path, database_url: str
) -> None:
    # concurrency 1: the worker holds at most 4 claimed deliveries; a 60-run body is written
    # with room for those 4, and the rest waits in the store to be claimed in turn
    async with recording_sink() as (sink, url):
        config = tmp_path / "rules.yaml"
        config.write_text(RULES.format(url=url) + "delivery: {concurrency: 1}\n")
        async with running_relay(config, database_url) as relay:
            sink.answering.clear()  # a slow receiver: nothing finishes until the end
            body = {"runs": [run(f"run_{n}") for n in range(60)]}
            answer = await relay.client.post(f"{relay.url}/hooks/recoup", json=body)
            assert answer.json() == {"accepted": 60, "transitions": 60, "deliveries": 60}
            store = relay.relay.store
            for _ in range(500):  # bounded: the worker has claimed what fits by now
                if len(await store.deliveries(DeliveryStatus.PENDING, limit=100)) == 56:
                    break
                await asyncio.sleep(0.01)
            assert len(await store.deliveries(DeliveryStatus.SENDING, limit=100)) == 4
            assert len(await store.deliveries(DeliveryStatus.PENDING, limit=100)) == 56
            sink.answering.set()
            sent = [r.json()["run"]["id"] for r in await sink.wait_for(60)]
            await asyncio.sleep(0.2)  # a second copy of any of them would arrive meanwhile
            sent = [r.json()["run"]["id"] for r in sink.received]
            assert sorted(sent) == sorted(f"run_{n}" for n in range(60))
            assert len(set(sent)) == 60
