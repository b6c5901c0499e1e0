"""`relay serve --workers N` and `--role`: several relay processes on one host and one store,
as real processes over loopback."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.acceptance.harness import ADMIN_TOKEN, Process, relay_cli, relay_process
from tests.fakes.sinks import recording_sink

ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}


def rules(sink_url: str, polled: bool = False) -> str:
    source = "{kind: recoup, api_key: k, base_url: 'http://127.0.0.1:9'}" if polled else "{kind: recoup}"
    return f"""
sources: {{recoup: {source}}}
channels: {{crm: {{kind: webhook, url: "{sink_url}/runs"}}}}
rules: [{{name: all-terminal, match: {{phase: terminal}}, notify: [crm]}}]
"""


def run(run_id: str) -> dict[str, object]:
    return {
        "id": run_id,
        "taskIdentifier": "create-content",
        "status": "COMPLETED",
        "createdAt": "2026-11-25T09:00:00Z",
        "updatedAt": "2026-11-25T09:02:00Z",
        "finishedAt": "2026-11-25T09:02:00Z",
    }


async def _until(check: object, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():  # type: ignore[operator]
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.05)


def _workers(relay: Process) -> dict[str, int]:
    """Replica id -> pid of the children the supervisor started (from its log)."""
    found: dict[str, int] = {}
    for line in relay.lines:
        if "worker_started" in line:
            index = line.split("index=")[1].split()[0]
            found[f"w{index}"] = int(line.split("pid=")[1].split()[0])
    return found


async def test_two_workers_share_the_port_and_one_polls_and_a_dead_one_comes_back(tmp_path: Path) -> None:
    async with recording_sink() as (sink, url):
        config = tmp_path / "rules.yaml"
        config.write_text(rules(url, polled=True))
        env = {"RELAY_REPLICA_ID": "host-a", "RELAY_LEASE_TTL": "2s"}
        with relay_process(config, tmp_path / "relay.db", env, ["--workers", "2"]) as relay:
            await relay.wait_for_output("relay_started replica=host-a/w1")
            await relay.wait_for_output("relay_started replica=host-a/w0")
            async with httpx.AsyncClient(headers=ADMIN) as client:
                for n in range(20):  # new connections: the kernel spreads them over both
                    answer = await client.post(
                        f"{relay.url}/hooks/recoup", json=run(f"run_{n}"), headers={"connection": "close"}
                    )
                    assert answer.status_code == 202, answer.text
                await sink.wait_for(20)
                sources = (await client.get(f"{relay.url}/admin/sources")).json()["sources"]
            assert sources["recoup"]["leader"] in ("host-a/w0", "host-a/w1")
            ids = [r.headers["webhook-id"] for r in sink.received]
            assert len(set(ids)) == 20

            pid = _workers(relay)["w0"]
            os.kill(pid, signal.SIGKILL)
            await relay.wait_for_output(f"worker_died index=0 pid={pid}")
            await _until(lambda: relay.output().count("relay_started replica=host-a/w0") == 2)
            assert _workers(relay)["w0"] != pid
        assert relay.proc.returncode == 0
        assert "supervisor_stopped" in relay.output()
        assert relay.output().count("relay_stopped") == 2  # both children stopped cleanly


async def test_an_ingest_process_and_a_deliver_process_split_the_work(tmp_path: Path) -> None:
    async with recording_sink() as (sink, url):
        config = tmp_path / "rules.yaml"
        config.write_text(rules(url))
        db = tmp_path / "relay.db"
        with (
            relay_process(config, db, {"RELAY_REPLICA_ID": "in"}, ["--role", "ingest"]) as ingest,
            relay_process(config, db, {"RELAY_REPLICA_ID": "out"}, ["--role", "deliver"]) as deliver,
        ):
            async with httpx.AsyncClient() as client:
                refused = await client.post(f"{deliver.url}/hooks/recoup", json=run("run_1"))
                assert refused.status_code == 503
                assert "does not ingest" in refused.json()["error"]
                answer = await client.post(f"{ingest.url}/hooks/recoup", json=run("run_1"))
                assert answer.json() == {"accepted": 1, "transitions": 1, "deliveries": 1}
            # sent by the deliver process: the ingest one runs no delivery worker
            (got,) = await sink.wait_for(1)
            assert got.json()["run"]["id"] == "run_1"


@pytest.mark.parametrize("role", ["everything", "ingest,bogus", ""])
def test_an_unknown_role_is_refused_with_a_clear_error(tmp_path: Path, role: str) -> None:
    config = tmp_path / "rules.yaml"
    config.write_text(rules("http://127.0.0.1:9"))
    done = relay_cli("serve", "--config", str(config), "--role", role, "--port", "9")
    assert done.returncode == 1
    assert "--role" in done.stderr and "ingest, deliver, poll" in done.stderr
