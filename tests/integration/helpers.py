"""What the source tests share: a real SqliteStore and Pipeline built from a rules.yaml text,
an HTTP client, and reading back what the store holds."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx2

from relay.clock import SystemClock
from relay.config import RuleSet, SourceConfig, load_ruleset
from relay.models import Snapshot, Transition
from relay.pipeline import Pipeline
from relay.store.sqlite import SqliteStore

# what a test's `sources:` are followed by unless it says otherwise
CONSOLE_ON_TERMINAL = """
channels:
  console: {kind: console}
rules:
  - name: finished
    match: {phase: terminal}
    notify: [console]
    first_seen: always
"""


@contextlib.asynccontextmanager
async def relay_parts(
    tmp_path: Path, sources: str, rules: str = CONSOLE_ON_TERMINAL, *, timeout: float = 5.0
) -> AsyncIterator[tuple[httpx2.AsyncClient, SqliteStore, Pipeline, RuleSet]]:
    """rules.yaml (`sources` then `rules`), a store (closed after), a pipeline, an HTTP client."""
    path = tmp_path / "rules.yaml"
    path.write_text(sources + rules)
    ruleset = load_ruleset(path)
    store = await SqliteStore.open(str(tmp_path / "relay.db"))
    try:
        async with httpx2.AsyncClient(timeout=timeout, trust_env=False) as http:
            yield http, store, Pipeline(store, ruleset, SystemClock(), asyncio.Event()), ruleset
    finally:
        await store.close()


@dataclass
class SourceEnv:
    http: httpx2.AsyncClient
    store: SqliteStore
    pipeline: Pipeline
    config: SourceConfig

    async def transition_list(self, run_id: str) -> list[Transition]:
        found = await self.store.transitions(limit=1000)
        return sorted((t for t in found if t.run_id == run_id), key=lambda t: t.observed_at)

    async def transitions(self, run_id: str) -> list[tuple[str | None, str]]:
        return [(t.from_status, t.to_status) for t in await self.transition_list(run_id)]

    async def has_transitions(self, run_id: str, count: int) -> bool:
        return len(await self.transitions(run_id)) >= count

    async def stored(self, run_id: str) -> Snapshot:
        return (await self.store.known_runs(self.config.name, [run_id]))[run_id].snapshot


async def eventually(check: Callable[[], bool | Awaitable[bool]], timeout: float = 5.0) -> None:
    """Bounded wait for something done in the background."""
    async with asyncio.timeout(timeout):
        while not (done if isinstance(done := check(), bool) else await done):
            await asyncio.sleep(0.01)
