"""The conformance kit every source kind passes, against its fake platform over loopback,
with a real store and pipeline, the poller opened through the kind (`KIND.open_poller`) with
the relay's own `SourceState`. A fourth kind adds one `Kit` row."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from relay.clock import SystemClock
from relay.errors import RateLimited, SourceError
from relay.sources.base import Poller
from relay.sources.reconcile import guarded_cycle
from relay.sources.registry import kind_of
from relay.sources.state import SourceState
from tests.fakes.platform import FakePlatform
from tests.fakes.recoup_api import FakeRecoupApi
from tests.fakes.taskrunner_api import FakeRunWisp
from tests.fakes.trigger_api import FakeTriggerApi
from tests.integration.helpers import SourceEnv, relay_parts

SOURCE = """
sources:
  kit:
    kind: {kind}
    base_url: "{base_url}"
    api_key: "{key}"
    poll_every: 50ms
    limit: 10
"""


@dataclass(frozen=True)
class Kit:
    kind: str
    key: str
    fake: Callable[[str], FakePlatform[Any, Any]]  # the API key -> a fake platform
    finished: Callable[[Any], str]  # puts a failed run in the fake, returns its id
    pushed: Callable[[Any, str], object]  # that run as the platform (or the relay's shape) pushes it


def _runwisp(key: str) -> FakeRunWisp:
    fake = FakeRunWisp(token=key, era="newest")
    fake.tasks.add("backup")
    return fake


KITS = [
    Kit(
        "recoup",
        "placeholder-recoup-key-kit_0123456789",
        lambda key: FakeRecoupApi(api_key=key),
        lambda fake: fake.put_run("run_kit", status="FAILED", error={"message": "boom"}).id,
        lambda fake, run_id: fake.runs[run_id].to_json(by_id=True),
    ),
    Kit(
        "triggerdev",
        "tr_dev_kit_0123456789",
        lambda key: FakeTriggerApi(api_key=key),
        lambda fake: fake.put_run("run_kit", status="FAILED", error={"message": "boom"}).id,
        lambda fake, run_id: fake.runs[run_id].retrieved(True, ""),
    ),
    Kit(
        "taskrunner",
        "runwisp-kit-token-0123456789",
        _runwisp,
        lambda fake: fake.put_run(status="ended", end_reason="failed", exit_code=1).id,
        lambda fake, run_id: {"run": fake.runs[run_id].to_json(fake.index_field)},
    ),
]


@dataclass
class Env(SourceEnv):
    kit: Kit
    fake: Any
    state: SourceState

    def poller(self) -> Poller:
        kind = kind_of(self.kit.kind)
        return kind.open_poller(
            self.config, self.http, self.store, self.pipeline.ingest_many, SystemClock(), self.state
        )


@pytest.fixture(params=KITS, ids=[k.kind for k in KITS])
async def env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Env]:
    kit: Kit = request.param
    async with kit.fake(kit.key) as fake:
        sources = SOURCE.format(kind=kit.kind, base_url=fake.base_url, key=kit.key)
        async with relay_parts(tmp_path, sources) as (http, store, pipeline, ruleset):
            yield Env(http, store, pipeline, ruleset.sources["kit"], kit, fake, SourceState())


async def test_a_run_pushed_and_then_polled_is_one_transition(env: Env) -> None:
    run_id = env.kit.finished(env.fake)
    pushed = kind_of(env.kit.kind).parse_webhook(env.kit.pushed(env.fake, run_id), env.config)
    for snapshot in pushed:
        await env.pipeline.ingest(snapshot)

    await env.poller().poll_once()
    await env.poller().poll_once()

    assert len(await env.transitions(run_id)) == 1
    assert len(await env.store.deliveries()) == 1


async def test_a_429_pauses_the_source_for_as_long_as_asked(env: Env) -> None:
    env.fake.respond_next(429, json.dumps({"error": "slow down"}), headers={"retry-after": "7"})
    poller = env.poller()
    with pytest.raises(RateLimited) as caught:
        await poller.poll_once()
    assert caught.value.retry_after == 7.0

    env.fake.respond_next(429, json.dumps({"error": "slow down"}), headers={"retry-after": "7"})
    delay, failures = await guarded_cycle("kit", poller.poll_once, asyncio.Event(), 0, every=0.05)
    assert (delay, failures) == (7.0, 0)  # a pause, not a failure
    assert env.state.health.of("kit").last_error is not None


async def test_a_malformed_item_is_counted_and_the_others_go_in(env: Env) -> None:
    run_id = env.kit.finished(env.fake)
    env.fake.add_raw_item({"id": "run_bad"})

    report = await env.poller().poll_once()

    assert report.invalid == 1
    assert len(await env.transitions(run_id)) == 1
    assert env.state.health.of("kit").consecutive_failures == 0


async def test_the_api_key_never_appears_in_errors(env: Env) -> None:
    env.fake.respond_next(500, json.dumps({"detail": f"bad key {env.kit.key}", "title": env.kit.key}))
    with pytest.raises(SourceError) as caught:
        await env.poller().poll_once()
    health = env.state.health.of("kit")
    assert env.kit.key not in str(caught.value)
    assert health.last_error is not None and env.kit.key not in health.last_error
