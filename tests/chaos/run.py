"""The chaos run: replicas on one PostgreSQL schema, runs pushed and polled, replicas killed
with SIGKILL and restarted, then the verdict (tests/chaos/checks.py). Every wait is bounded and
every process started here is stopped on the way out."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import secrets
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx2 as httpx

from tests.chaos.checks import (
    Kill,
    PollRequest,
    Verdict,
    check_digests,
    check_notifications,
    check_polling,
    check_resends,
    transitions,
)
from tests.chaos.cluster import Replica, poll_leader
from tests.chaos.world import DONE, POLLED, PUSHED, ChaosSink, RequestLog, write_rules
from tests.fakes.recoup_api import FakeRecoupApi
from tests.fakes.sinks import recording_sink
from tests.integration.pg import SERVER, pg_schema

PUSH_DEADLINE = 60.0  # seconds a platform keeps retrying one update
CONCURRENT_RUNS = 64


@dataclass
class Options:
    runs: int = 2000
    replicas: int = 3
    seconds: float = 60.0  # the runs are started over this long, the kills happen meanwhile
    lease_ttl: float = 2.0
    kill_every: tuple[float, float] = (1.5, 5.0)  # seconds between kills (uniform)
    down_for: tuple[float, float] = (0.2, 3.0)  # a killed replica's pause before its restart
    max_kills: int = 1000
    # the fake lists the newest 100 runs, as Recoup does (no cursor): at ~5 polled runs/s a
    # run stays listed ~20 s, longer than a chain of leader kills keeps the source unpolled
    polled_share: float = 0.15
    leader_first: bool = True  # the first kill takes the poll leader, whatever the dice say
    settle: float = 90.0  # at most this long for the sink to have everything at the end
    seed: int | None = None
    keep: bool = False  # keep the replicas' logs (the directory is printed)


@dataclass
class Chaos:
    options: Options
    replicas: list[Replica]
    platform: FakeRecoupApi
    sink: ChaosSink
    client: httpx.AsyncClient
    rng: random.Random
    requests: list[PollRequest]
    kills: list[Kill] = field(default_factory=list)
    expected: set[tuple[str, str]] = field(default_factory=set)  # accepted terminal transitions
    problems: set[tuple[str, str]] = field(default_factory=set)  # of them, the failures
    unaccepted: int = 0
    restarts: list[asyncio.Task[None]] = field(default_factory=list)
    _round_robin: itertools.count[int] = field(default_factory=itertools.count)

    # -- runs -------------------------------------------------------------------------------

    async def drive(self) -> None:
        """Start the runs at an even pace over `seconds`, a bounded number at once."""
        gate = asyncio.Semaphore(CONCURRENT_RUNS)
        loop = asyncio.get_running_loop()
        began, pace = loop.time(), self.options.seconds / max(1, self.options.runs)
        tasks = []
        for n in range(self.options.runs):
            await asyncio.sleep(max(0.0, began + n * pace - loop.time()))
            await gate.acquire()
            polled = self.rng.random() < self.options.polled_share
            work = self._polled_run(n) if polled else self._pushed_run(n)
            task = asyncio.create_task(work)
            task.add_done_callback(lambda _: gate.release())
            tasks.append(task)
        await asyncio.gather(*tasks)

    def _outcome(self) -> tuple[str, dict[str, str] | None]:
        if self.rng.random() < 0.3:
            return "FAILED", {"message": "chaos says no", "name": "ChaosError"}
        return "COMPLETED", None

    async def _pushed_run(self, n: int) -> None:
        run_id = f"push_{n:05d}"
        created = _iso(datetime.now(UTC))
        if not await self._push(run_id, {"status": "EXECUTING", "createdAt": created}):
            self.unaccepted += 1
            return
        await asyncio.sleep(self.rng.uniform(0.0, 0.5))
        status, error = self._outcome()
        body = {"status": status, "createdAt": created, "finishedAt": _iso(datetime.now(UTC)), "error": error}
        if await self._push(run_id, body):
            self._expect((PUSHED, run_id), status)
        else:
            self.unaccepted += 1

    async def _polled_run(self, n: int) -> None:
        run_id = f"poll_{n:05d}"
        self.platform.put_run(run_id, task="chaos-polled", status="EXECUTING")
        await asyncio.sleep(self.rng.uniform(0.05, 1.0))
        status, error = self._outcome()
        self.platform.set_status(run_id, status, error=error)
        self._expect((POLLED, run_id), status)

    def _expect(self, key: tuple[str, str], status: str) -> None:
        self.expected.add(key)
        if status == "FAILED":
            self.problems.add(key)

    async def _push(self, run_id: str, fields: Mapping[str, object]) -> bool:
        """As a platform does: the same update again, to the next replica, until one answers 2xx."""
        now = _iso(datetime.now(UTC))
        body = {"id": run_id, "taskIdentifier": "chaos-pushed", "updatedAt": now, **fields}
        raw = json.dumps(body).encode()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PUSH_DEADLINE
        while loop.time() < deadline:
            replica = self.replicas[next(self._round_robin) % len(self.replicas)]
            if replica.alive:
                with contextlib.suppress(httpx.HTTPError):
                    answer = await self.client.post(
                        f"{replica.url}/hooks/{PUSHED}",
                        content=raw,
                        headers={"content-type": "application/json"},
                        timeout=5,
                    )
                    if 200 <= answer.status_code < 300:
                        return True
            await asyncio.sleep(0.02)
        return False

    # -- kills ------------------------------------------------------------------------------

    async def monkey(self, stop: asyncio.Event) -> None:
        """SIGKILL a replica at random moments (the poll leader half the time), one always left
        answering; each comes back with its replica id after a random pause."""
        while len(self.kills) < self.options.max_kills:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.rng.uniform(*self.options.kill_every))
            if stop.is_set():
                return
            live = [r for r in self.replicas if r.alive]
            if len(live) < 2:
                continue
            leader = await poll_leader(live, self.client, POLLED)
            leading = [r for r in live if r.id == leader]
            first = self.options.leader_first and not self.kills
            victim = leading[0] if leading and (first or self.rng.random() < 0.5) else self.rng.choice(live)
            self.kills.append(Kill(victim.id, time.monotonic(), victim.id == leader))
            victim.kill()
            self.restarts.append(asyncio.create_task(self._restart(victim)))

    async def _restart(self, replica: Replica) -> None:
        await asyncio.sleep(self.rng.uniform(*self.options.down_for))
        replica.start()
        await replica.healthy(self.client)

    # -- the end ----------------------------------------------------------------------------

    def settled(self) -> bool:
        notified = transitions(self.sink.log, DONE).keys()
        digested = {
            (run["source"], run["id"])
            for r in self.sink.log
            if r.payload.get("type") == "digest"
            for run in r.payload["runs"]
        }
        return self.expected <= notified and self.problems <= digested

    async def settle(self) -> None:
        """Wait (bounded) until the sink has every notification and every failure in a digest,
        then a little longer for late resends to show."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.settle
        while not self.settled() and loop.time() < deadline:
            await asyncio.sleep(0.2)
        await asyncio.sleep(2 * self.options.lease_ttl + 1)

    def verdict(self) -> Verdict:
        verdict = Verdict(runs=self.options.runs, unaccepted=self.unaccepted, kills=len(self.kills))
        verdict.leader_kills = sum(k.leader for k in self.kills)
        check_notifications(verdict, self.sink.log, self.expected, DONE)
        check_resends(verdict, self.sink.log, self.kills)
        polls = [r for r in self.requests if r.agent.startswith("run-relay (")]
        check_polling(verdict, polls, min_gap=self.options.lease_ttl / 10)
        check_digests(verdict, self.sink.log, self.problems)
        return verdict


async def run_chaos(options: Options) -> Verdict:
    rng = random.Random(options.seed)
    requests: list[PollRequest] = []
    platform = FakeRecoupApi(api_key="placeholder-recoup-key-chaos_0123456789")
    platform.app.add_middleware(RequestLog, log=requests)
    tmp = tempfile.mkdtemp(prefix="chaos-")
    try:
        async with (
            _schema(options.keep) as database_url,
            platform,
            recording_sink(sink=ChaosSink()) as (sink, sink_url),
            httpx.AsyncClient() as client,
        ):
            assert isinstance(sink, ChaosSink)
            config = write_rules(Path(tmp) / "rules.yaml", platform.base_url, sink_url)
            replicas = [
                Replica(f"r{n + 1}", config, database_url, options.lease_ttl, Path(tmp) / f"r{n + 1}.log")
                for n in range(options.replicas)
            ]
            chaos = Chaos(options, replicas, platform, sink, client, rng, requests)
            async with _cluster(replicas, client):
                await _play(chaos)
        return chaos.verdict()
    finally:
        if options.keep:
            print(f"logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


async def _play(chaos: Chaos) -> None:
    stop = asyncio.Event()
    monkey = asyncio.create_task(chaos.monkey(stop))
    try:
        await chaos.drive()
    finally:
        stop.set()
        await monkey
        await asyncio.gather(*chaos.restarts, return_exceptions=True)
    for replica in chaos.replicas:  # a restart that failed: the end needs every replica back
        if not replica.alive:
            replica.start()
            await replica.healthy(chaos.client)
    await chaos.settle()


@contextlib.asynccontextmanager
async def _cluster(replicas: list[Replica], client: httpx.AsyncClient) -> AsyncIterator[None]:
    """The first replica migrates the schema alone, then the others join."""
    try:
        replicas[0].start()
        await replicas[0].healthy(client)
        for replica in replicas[1:]:
            replica.start()
        for replica in replicas[1:]:
            await replica.healthy(client)
        yield
    finally:
        for replica in replicas:  # first, so that no restart still pending starts one again
            replica.closed = True
        await asyncio.gather(*(asyncio.to_thread(r.stop) for r in replicas))


def _schema(keep: bool) -> contextlib.AbstractAsyncContextManager[str]:
    """A fresh schema, dropped at the end unless kept to look into."""
    if not keep:
        return pg_schema("chaos")
    url = f"{SERVER}?schema=chaos_kept_{secrets.token_hex(4)}"
    print(f"database kept: {url}")
    return contextlib.nullcontext(url)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
