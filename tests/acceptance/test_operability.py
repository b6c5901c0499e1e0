"""What an operator watches: the backlog gauges and relay_build_info on /metrics of a running
relay, and RELAY_LOG_FORMAT=json (one JSON object per line, secrets still masked)."""

from __future__ import annotations

import asyncio
import gc
import io
import json
import logging
import platform
import re
from importlib.metadata import version
from pathlib import Path

import httpx2 as httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from relay import secrets
from relay.observability import log_handler
from tests.acceptance.harness import relay_cli, relay_process, running_relay
from tests.fakes.servers import serve
from tests.fakes.sinks import free_port

TOKEN = "sk_live_json_log_secret_77"


def run(n: int) -> dict[str, str]:
    return {
        "id": f"gauge_run_{n}",
        "taskIdentifier": "t",
        "status": "FAILED",
        "updatedAt": "2026-11-25T10:00:00Z",
    }


async def refuse(request: Request) -> PlainTextResponse:
    return PlainTextResponse("no such hook", status_code=404)  # permanent: a dead letter


def sample(text: str, name: str, **labels: str) -> float | None:
    """One sample of the Prometheus text exposition, or None when absent."""
    for line in text.splitlines():
        m = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if m and dict(re.findall(r'(\w+)="([^"]*)"', m.group(1))) == labels:
            return float(m.group(2))
    return None


async def test_backlog_gauges_show_the_store_at_each_scrape(tmp_path: Path, database_url: str) -> None:
    closed = free_port()  # nothing listens: each send fails at once and is retried in an hour
    async with serve(Starlette(routes=[Route("/{p:path}", refuse, methods=["POST"])])) as gone:
        config = tmp_path / "rules.yaml"
        config.write_text(f"""
sources: {{recoup: {{kind: recoup}}}}
channels:
  gauge-down: {{kind: webhook, url: "http://127.0.0.1:{closed}/hook"}}
  gauge-gone: {{kind: webhook, url: "{gone}/hook"}}
  gauge-idle: {{kind: console}}
rules:
  - {{name: all, match: {{task: t}}, notify: [gauge-down, gauge-gone]}}
  - {{name: none, match: {{task: other}}, notify: [gauge-idle]}}
delivery: {{quick_tries: 1, schedule: [1h]}}
""")
        async with running_relay(config, database_url) as relay:
            for n in range(2):
                answer = await relay.client.post(f"{relay.url}/hooks/recoup", json=run(n))
                assert answer.status_code == 202, answer.text
            text = await scrape_until(
                relay.client, relay.url, {"gauge-down": ("pending", 2), "gauge-gone": ("dead", 2)}
            )
            assert sample(text, "relay_deliveries_backlog", channel="gauge-down", status="sending") == 0
            age = sample(text, "relay_oldest_pending_age_seconds", channel="gauge-down")
            assert age is not None and 0 < age < 60
            for status in ("pending", "sending", "dead"):  # configured, nothing owed: shown as 0
                assert sample(text, "relay_deliveries_backlog", channel="gauge-idle", status=status) == 0
            assert sample(text, "relay_oldest_pending_age_seconds", channel="gauge-idle") == 0
            build = {"version": version("run-relay"), "python": platform.python_version()}
            assert sample(text, "relay_build_info", **build) == 1

            # the next scrape reads the store again: a third run shows in it
            await relay.client.post(f"{relay.url}/hooks/recoup", json=run(2))
            await scrape_until(
                relay.client, relay.url, {"gauge-down": ("pending", 3), "gauge-gone": ("dead", 3)}
            )


async def scrape_until(client: httpx.AsyncClient, url: str, want: dict[str, tuple[str, float]]) -> str:
    """/metrics once the relay's worker has got the deliveries where the test wants them
    (channel -> (status, count)): a bounded wait for the worker, not for the gauges, which
    each scrape reads from the store."""
    for _ in range(200):
        text = (await client.get(f"{url}/metrics")).text
        got = {c: sample(text, "relay_deliveries_backlog", channel=c, status=s) for c, (s, _) in want.items()}
        if got == {c: v for c, (_, v) in want.items()}:
            return text
        await asyncio.sleep(0.05)
    raise AssertionError(f"wanted {want}, the last scrape said {got}")


def test_json_log_lines_carry_fields_and_stay_masked() -> None:
    secrets.register(TOKEN)
    stream = io.StringIO()
    logger = logging.getLogger("relay.test_json")
    handler = log_handler(stream, "json")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info(
            "sent to %s", f"https://x/?token={TOKEN}", extra={"channel": "crm", "tries": 2, "url": TOKEN}
        )
        try:
            raise RuntimeError(f"refused {TOKEN}\nsecond line")
        except RuntimeError:
            logger.exception("crashed")
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2  # a traceback stays inside its line
    first, second = map(json.loads, lines)
    assert first["level"] == "INFO" and first["logger"] == "relay.test_json"
    assert first["message"] == "sent to https://x/?token=***"
    assert (first["channel"], first["tries"], first["url"]) == ("crm", 2, "***")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", first["time"])
    assert second["level"] == "ERROR" and "RuntimeError: refused ***" in second["exc_info"]
    assert TOKEN not in stream.getvalue()


async def test_a_relay_with_json_logs_writes_only_json_lines(tmp_path: Path) -> None:
    config = tmp_path / "rules.yaml"
    config.write_text("sources: {recoup: {kind: recoup}}\nchannels: {}\nrules: []\n")
    env = {"RELAY_LOG_FORMAT": "json", "RECOUP_API_KEY": "", "RECOUP_WEBHOOK_SECRET": ""}
    with relay_process(config, tmp_path / "relay.db", env) as relay:
        await relay.wait_for_output("relay_started")
        async with httpx.AsyncClient() as client:
            await client.post(f"{relay.url}/hooks/recoup", content=b"{not json")
    logged = [json.loads(line) for line in relay.lines if line.strip()]
    assert any(line["message"].startswith("relay_started") for line in logged)
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in logged)
    assert {line["logger"] for line in logged} >= {"relay", "uvicorn.error"}  # libraries too


def test_an_unknown_log_format_is_one_error_line(tmp_path: Path) -> None:
    result = relay_cli("check", str(tmp_path / "none.yaml"), env={"RELAY_LOG_FORMAT": "xml"})
    assert result.returncode == 1
    assert result.stderr == "error: RELAY_LOG_FORMAT must be text or json, got 'xml'\n"


async def test_what_start_up_built_is_frozen_out_of_the_garbage_collector(tmp_path: Path) -> None:
    # a full collection re-scanning start-up's ~60,000 objects paused the loop ~35 ms under
    # load; frozen, it pauses ~1 ms (docs/benchmarks.md)
    config = tmp_path / "rules.yaml"
    config.write_text("sources: {recoup: {kind: recoup}}\nchannels: {}\nrules: []\n")
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    async with running_relay(config, tmp_path / "relay.db") as relay:
        assert (await relay.client.get(f"{relay.url}/healthz")).status_code == 200
        assert gc.get_freeze_count() > 10_000
