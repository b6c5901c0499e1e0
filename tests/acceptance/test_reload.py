"""rules.yaml reloaded while the relay runs (SIGHUP, POST /admin/reload), as a timeline: the new
rules take effect, an invalid file is refused with its file:line and changes nothing, and
nothing accepted or in flight is lost or sent twice."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.acceptance.harness import ADMIN_TOKEN, RunningRelay, relay_process, running_relay
from tests.fakes.recoup_api import FakeRecoupApi
from tests.fakes.sinks import RecordingSink, recording_sink

AUTH = {"authorization": f"Bearer {ADMIN_TOKEN}"}
KEY = "placeholder-recoup-key-reload_0123456789"
# line 6 names a channel that does not exist
INVALID = """sources: {recoup: {kind: recoup}}
channels: {crm: {kind: webhook, url: "http://127.0.0.1:9/never"}}
rules:
  - name: all-terminal
    match: {phase: terminal}
    notify: [slak]
"""


def rules(sink_url: str, path: str, *, tag: str = "v1", sources: str = "{recoup: {kind: recoup}}") -> str:
    return f"""sources: {sources}
channels: {{crm: {{kind: webhook, url: "{sink_url}{path}", headers: {{x-config: {tag}}}}}}}
rules: [{{name: all-terminal, match: {{phase: terminal}}, notify: [crm]}}]
"""


def completed(run_id: str) -> dict[str, object]:
    return {
        "id": run_id,
        "taskIdentifier": "create-content",
        "status": "COMPLETED",
        "createdAt": "2026-11-25T09:00:00Z",
        "updatedAt": "2026-11-25T09:02:00Z",
    }


async def test_sighup_puts_a_valid_file_in_force_and_refuses_an_invalid_one(tmp_path: Path) -> None:
    async with recording_sink() as (sink, url), httpx.AsyncClient() as client:
        config = tmp_path / "rules.yaml"
        config.write_text(rules(url, "/first"))
        with relay_process(config, tmp_path / "relay.db") as relay:
            await _post(client, relay.url, "run_1")
            await sink.wait_for(1)

            config.write_text(rules(url, "/second"))
            asked_at = time.time()
            relay.proc.send_signal(signal.SIGHUP)
            await relay.wait_for_output("config_reloaded")
            await _post(client, relay.url, "run_2")
            await sink.wait_for(2)
            loaded = await _gauges(client, relay.url)
            assert loaded["relay_config_last_reload_successful"] == 1
            assert loaded["relay_config_last_reload_success_timestamp_seconds"] >= int(asked_at)

            config.write_text(INVALID)
            relay.proc.send_signal(signal.SIGHUP)
            await relay.wait_for_output(f"config_reload_failed error={config}:6: rule 'all-terminal'")
            assert relay.proc.poll() is None  # alive, on the rules it had
            await _post(client, relay.url, "run_3")
            await sink.wait_for(3)
            refused = await _gauges(client, relay.url)
            assert refused["relay_config_last_reload_successful"] == 0
            assert (
                refused["relay_config_last_reload_success_timestamp_seconds"]
                == loaded["relay_config_last_reload_success_timestamp_seconds"]
            )
        assert [(r.path, r.json()["run"]["id"]) for r in sink.received] == [
            ("/first", "run_1"),
            ("/second", "run_2"),
            ("/second", "run_3"),
        ]


async def test_admin_reload_answers_what_changed_or_the_files_error(
    tmp_path: Path, database_url: str
) -> None:
    async with recording_sink() as (sink, url):
        config = tmp_path / "rules.yaml"
        config.write_text(rules(url, "/first"))
        async with running_relay(config, database_url) as relay:
            denied = await relay.client.post(f"{relay.url}/admin/reload")
            assert denied.status_code == 401

            config.write_text(f"""
sources: {{recoup: {{kind: recoup}}}}
channels:
  crm: {{kind: webhook, url: "{url}/second"}}
  ops: {{kind: console}}
rules:
  - {{name: all-terminal, match: {{phase: terminal}}, notify: [crm]}}
  - {{name: echo, match: {{phase: terminal}}, notify: [ops]}}
""")
            answer = await _reload(relay)
            assert answer.status_code == 200, answer.text
            assert answer.json()["rules"] == 2
            assert answer.json()["changes"] == {
                "channels": {"added": ["ops"], "removed": [], "changed": ["crm"]},
                "sources": {"added": [], "removed": [], "changed": []},
            }
            await _post(relay.client, relay.url, "run_1")
            (first,) = await sink.wait_for(1)
            assert first.path == "/second"

            config.write_text(INVALID)
            refused = await _reload(relay)
            assert refused.status_code == 422
            assert refused.json()["error"] == (
                f"{config}:6: rule 'all-terminal': unknown channel 'slak' (defined: crm)"
            )
            assert refused.json()["line"] == 6
            await _post(relay.client, relay.url, "run_2")
            await sink.wait_for(2)
            assert sink.received[1].path == "/second"  # the rules in force stayed
            assert relay.relay.ruleset.channels.keys() == {"crm", "ops"}


async def test_reload_starts_a_new_sources_poller_and_stops_a_removed_ones(
    tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="relay")
    async with FakeRecoupApi(api_key=KEY) as recoup, recording_sink() as (sink, url):
        config = tmp_path / "rules.yaml"
        config.write_text(rules(url, "/runs", sources="{}"))
        async with running_relay(config, database_url) as relay:
            polled = f"{{recoup: {{base_url: {recoup.base_url}, api_key: {KEY}, poll_every: 50ms}}}}"
            config.write_text(rules(url, "/runs", sources=polled))
            added = await _reload(relay)
            assert added.json()["changes"]["sources"]["added"] == ["recoup"]
            recoup.put_run("run_p", status="EXECUTING")
            await _until(lambda: len(recoup.list_requests()) >= 2)
            recoup.set_status("run_p", "COMPLETED")
            (message,) = await sink.wait_for(1)
            assert message.json()["run"]["id"] == "run_p"
            assert (await relay.admin("sources"))["sources"]["recoup"]["polling"] is True

            config.write_text(rules(url, "/runs", sources="{}"))
            removed = await _reload(relay)
            assert removed.json()["changes"]["sources"]["removed"] == ["recoup"]
            assert "poller_stopped source=recoup" in caplog.text  # stopped before the answer
            assert relay.relay.pollers == {} and (await relay.admin("sources"))["sources"] == {}


async def test_reload_during_slow_sends_delivers_each_exactly_once(tmp_path: Path, database_url: str) -> None:
    sink = RecordingSink(delay=0.5)
    async with recording_sink(sink=sink) as (_, url):
        config = tmp_path / "rules.yaml"
        config.write_text(rules(url, "/runs", tag="v1"))
        async with running_relay(config, database_url) as relay:
            before = [f"run_{i}" for i in range(20)]
            for run_id in before:
                await _post(relay.client, relay.url, run_id)
            await _until(lambda: sink.arrived >= 1)  # sends in flight on the channel in force

            config.write_text(rules(url, "/runs", tag="v2"))
            answer = await _reload(relay)
            assert answer.json()["changes"]["channels"]["changed"] == ["crm"]
            after = [f"run_{i}" for i in range(20, 25)]
            for run_id in after:
                await _post(relay.client, relay.url, run_id)

            received = await sink.wait_for(25)
            tags = {r.json()["run"]["id"]: r.headers["x-config"] for r in received}
            assert Counter(r.json()["run"]["id"] for r in received) == Counter(before + after)
            assert "v1" in tags.values()  # what was under way finished on the old channel
            assert {tags[run_id] for run_id in after} == {"v2"}  # the reopened one took over
            deliveries = await _when_all_sent(relay, 25)
            # none of them failed a try: no send was cut off by its channel closing
            assert [d["attempts"] for d in deliveries] == [1] * 25


async def _post(client: httpx.AsyncClient, url: str, run_id: str) -> None:
    answer = await client.post(f"{url}/hooks/recoup", json=completed(run_id))
    assert answer.json()["transitions"] == 1, answer.text


async def _reload(relay: RunningRelay) -> httpx.Response:
    return await relay.client.post(f"{relay.url}/admin/reload", headers=AUTH)


async def _when_all_sent(relay: RunningRelay, count: int) -> list[dict[str, object]]:
    async with asyncio.timeout(10):
        while True:
            found: list[dict[str, object]] = (await relay.admin("deliveries"))["deliveries"]
            if len(found) == count and all(d["status"] == "sent" for d in found):
                return found
            await asyncio.sleep(0.02)


async def _gauges(client: httpx.AsyncClient, url: str) -> dict[str, float]:
    """The unlabelled samples of /metrics, by name."""
    text = (await client.get(f"{url}/metrics")).text
    samples = (line.split(" ") for line in text.splitlines() if line and not line.startswith("#"))
    return {parts[0]: float(parts[1]) for parts in samples if len(parts) == 2 and "{" not in parts[0]}


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)
