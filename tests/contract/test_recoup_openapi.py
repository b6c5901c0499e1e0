"""Recoup's own OpenAPI document (tests/contract/specs/recoup-api.openapi.yaml) served by Prism:
hundreds of generated, valid responses parse without an error, and the poller survives them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import pytest

from relay.clock import SystemClock
from relay.config import load_ruleset
from relay.models import Phase, Via
from relay.pipeline import Pipeline
from relay.sources.recoup.client import RecoupClient
from relay.sources.recoup.parse import parse_run
from relay.sources.recoup.poll import RecoupPoller
from relay.sources.recoup.schedules import missed_runs, parse_task, task_state
from relay.store.sqlite import SqliteStore
from tests.contract.prism import prism_mock, seed

KEY = "placeholder-recoup-key-contract_0123456789"


@pytest.fixture(scope="module")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with prism_mock(seed("recoup-api.openapi.yaml"), tmp_path_factory.mktemp("prism")) as url:
        yield f"{url}/api"


async def test_hundreds_of_generated_responses_parse(prism: str) -> None:
    phases: set[Phase] = set()
    runs = tasks = 0
    async with httpx2.AsyncClient(timeout=10.0, trust_env=False) as http:
        client = RecoupClient(http, base_url=prism, api_key=KEY)
        for n in range(150):
            for item in await client.list_runs(1 + n % 100):
                phases.add(parse_run(item, source="recoup", via=Via.POLL).phase)
                runs += 1
            one = await client.get_run(f"run_{n}")
            if one is not None:
                phases.add(parse_run(one, source="recoup", via=Via.POLL).phase)
                runs += 1
        now = datetime.now(UTC)
        for _ in range(100):
            for item in await client.list_tasks():
                task = parse_task(item)
                task_state(task, source="recoup", now=now)
                missed_runs(
                    task,
                    source="recoup",
                    now=now,
                    watching_since=now - timedelta(days=1),
                    grace=timedelta(minutes=10),
                )
                tasks += 1
    assert runs > 150 and tasks > 0
    assert len(phases) >= 5 and Phase.UNKNOWN not in phases  # every documented status is understood


async def test_the_poller_survives_generated_responses(prism: str, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(f"""
sources: {{recoup: {{kind: recoup, base_url: "{prism}", api_key: "{KEY}", schedules: true}}}}
channels: {{console: {{kind: console}}}}
rules: [{{name: all, match: {{phase: terminal}}, notify: [console]}}]
""")
    ruleset = load_ruleset(rules)
    store = await SqliteStore.open(str(tmp_path / "relay.db"))
    try:
        async with httpx2.AsyncClient(timeout=10.0, trust_env=False) as http:
            config = ruleset.sources["recoup"]
            pipeline = Pipeline(store, ruleset, SystemClock(), asyncio.Event())
            poller = RecoupPoller(
                config, RecoupClient.for_source(config, http), store, pipeline.ingest_many, SystemClock()
            )
            for _ in range(5):  # Prism answers the documented 200 with random valid bodies
                report = await poller.poll_once()
                assert report.invalid == 0
        assert await store.runs(limit=1000)
    finally:
        await store.close()
