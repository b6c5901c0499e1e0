"""Two `relay serve` processes on one PostgreSQL schema, as two replicas behind a load
balancer: webhooks land on either, and each run's notification reaches the receiver once,
under one delivery id, whichever replica sends it."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx2 as httpx

from tests.acceptance.harness import ADMIN_TOKEN, relay_process
from tests.fakes.sinks import recording_sink
from tests.integration.pg import pg_schema

RUNS = 20


def update(n: int) -> dict[str, object]:
    return {
        "id": f"run_{n}",
        "taskIdentifier": "create-content",
        "status": "COMPLETED",
        "updatedAt": "2026-11-25T09:02:00Z",
        "finishedAt": "2026-11-25T09:02:00Z",
    }


async def test_two_replicas_on_one_database_notify_each_run_once(tmp_path: Path) -> None:
    async with pg_schema("p") as database, recording_sink() as (sink, url):
        config = tmp_path / "rules.yaml"
        config.write_text(f"""
sources: {{recoup: {{kind: recoup}}}}
channels: {{crm: {{kind: webhook, url: "{url}/runs"}}}}
rules: [{{name: all-terminal, match: {{phase: terminal}}, notify: [crm]}}]
""")
        with (
            relay_process(config, database, {"RELAY_REPLICA_ID": "a", "RECOUP_API_KEY": ""}) as a,
            relay_process(config, database, {"RELAY_REPLICA_ID": "b", "RECOUP_API_KEY": ""}) as b,
        ):
            async with httpx.AsyncClient() as client:
                for n in range(RUNS):  # each update twice, once to each replica
                    first, second = (a, b) if n % 2 else (b, a)
                    answer = await client.post(f"{first.url}/hooks/recoup", json=update(n))
                    again = await client.post(f"{second.url}/hooks/recoup", json=update(n))
                    assert answer.json()["deliveries"] == 1, answer.text
                    assert again.json()["deliveries"] == 0, again.text  # the other's is known
            await sink.wait_for(RUNS)
            await asyncio.sleep(0.5)  # nothing more arrives
    runs = Counter(r.json()["run"]["id"] for r in sink.received)
    ids = Counter(r.headers["webhook-id"] for r in sink.received)
    assert runs == Counter({f"run_{n}": 1 for n in range(RUNS)})
    assert len(ids) == RUNS and set(ids.values()) == {1}


async def test_a_replica_killed_mid_send_is_replaced_by_the_other_once_its_lease_runs_out(
    tmp_path: Path,
) -> None:
    async with pg_schema("p") as database, recording_sink() as (sink, url):
        config = tmp_path / "rules.yaml"
        config.write_text(f"""
sources: {{recoup: {{kind: recoup}}}}
channels: {{crm: {{kind: webhook, url: "{url}/runs"}}}}
rules: [{{name: all-terminal, match: {{phase: terminal}}, notify: [crm]}}]
delivery: {{timeout: 1s, quick_tries: 1, schedule: [100ms]}}
""")  # a lease of 2.5 s: the longest round these settings allow, and a margin
        env = {"RECOUP_API_KEY": ""}
        with relay_process(config, database, env | {"RELAY_REPLICA_ID": "b"}) as b:
            with relay_process(config, database, env | {"RELAY_REPLICA_ID": "a"}) as a:
                sink.answering.clear()  # a's send stays in flight
                async with httpx.AsyncClient() as client:
                    answer = await client.post(f"{a.url}/hooks/recoup", json=update(1))
                assert answer.json()["deliveries"] == 1
                while sink.arrived < 1:
                    await asyncio.sleep(0.01)
                a.proc.kill()  # SIGKILL: no release, its claim stays until the lease runs out
                a.proc.wait(5)
            sink.answering.set()
            await sink.wait_for(1)
            async with httpx.AsyncClient() as client:
                for _ in range(500):
                    listed = await client.get(
                        f"{b.url}/admin/deliveries", headers={"authorization": f"Bearer {ADMIN_TOKEN}"}
                    )
                    if [d["status"] for d in listed.json()["deliveries"]] == ["sent"]:
                        break
                    await asyncio.sleep(0.02)
                assert [d["status"] for d in listed.json()["deliveries"]] == ["sent"]
    # the send cut off by the kill may have reached the receiver too: the same id, never another
    assert {r.headers["webhook-id"] for r in sink.received} == {listed.json()["deliveries"][0]["id"]}
    assert all(r.json()["run"]["id"] == "run_1" for r in sink.received)
