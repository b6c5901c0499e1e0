"""The delivery worker alone, in-process: N pending deliveries drained to a local sink.

    PYTHONPATH=$PWD .venv/bin/python -m bench.drain --count 5000 [--reps 3] [--profile out.prof]
        [--postgres]

The outbox is filled through the relay's own pipeline and store (SQLite; with --postgres a
fresh schema on bench.replicas.POSTGRES, dropped after), as the "Delivery throughput" workload
does, then the real `DeliveryWorker` with the real webhook channel
(signed) sends every delivery to bench/sink.py in another process. Printed per run: the
deliveries/s (wall clock) and this process's CPU per delivery (time.process_time), the figure
to trust on a shared machine; the sink's CPU is not in it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import secrets
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import uvloop

from bench import replicas, stack
from bench.http_workloads import _preload
from bench.procs import Processes
from relay.channels.base import Channel, Response
from relay.models import Delivery


class NullChannel:
    """No HTTP at all: what the worker and the store cost apart from the transport."""

    def __init__(self, name: str) -> None:
        self.name, self.sent = name, 0

    async def send(self, delivery: Delivery) -> Response:
        await asyncio.sleep(0)
        self.sent += 1
        return Response(ok=True, http_status=200)

    async def close(self) -> None:
        pass


async def drain(
    rules: Path, database_url: str, count: int, sink: stack.Sink | None, profile: cProfile.Profile | None
) -> tuple[float, float]:
    """(seconds, CPU seconds) until every delivery is sent; no sink: to a NullChannel."""
    from relay.channels.registry import open_channel
    from relay.clock import SystemClock
    from relay.config import load_ruleset
    from relay.delivery.worker import DeliveryWorker
    from relay.models import DeliveryStatus
    from relay.store import open_store

    ruleset = load_ruleset(rules)
    store = await open_store(database_url)
    channels: dict[str, Channel] = {}
    for name, config in ruleset.channels.items():
        channels[name] = open_channel(config, ruleset.delivery.timeout) if sink else NullChannel(name)
    null = [c for c in channels.values() if isinstance(c, NullChannel)]
    worker = DeliveryWorker(store, channels, ruleset.delivery, SystemClock(), asyncio.Event(), owner="bench")
    stop = asyncio.Event()
    if profile:
        profile.enable()
    wall, cpu = time.perf_counter(), time.process_time()
    task = asyncio.create_task(worker.run(stop))
    while (await asyncio.to_thread(sink.count))["received"] < count if sink else null[0].sent < count:
        await asyncio.sleep(0.01)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if profile:
        profile.disable()
    stop.set()
    await task
    commits = getattr(store, "commits", 0)
    sent = len(await store.deliveries(DeliveryStatus.SENT, count + 1))
    for channel in channels.values():
        await channel.close()
    await store.close()
    assert sent == count, f"{sent} of {count} recorded as sent"
    print(f"  {commits / count:.2f} commits per delivery", flush=True)
    return wall, cpu


@contextlib.contextmanager
def _database(path: Path, postgres: bool) -> Iterator[str]:
    if not postgres:
        yield f"sqlite:///{path}"
        return
    schema = f"bench_drain_{secrets.token_hex(4)}"
    try:
        yield f"{replicas.POSTGRES}?schema={schema}"
    finally:
        asyncio.run(replicas._sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--null", action="store_true", help="send nowhere: the worker and store alone")
    parser.add_argument("--profile", help="write a cProfile of the last run's drain here")
    parser.add_argument("--postgres", action="store_true", help="on PostgreSQL instead of SQLite")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="relay-drain-"))
    rates, costs = [], []
    with Processes(workdir) as procs:
        sink = stack.start_sink(procs)
        rules = stack.relay_rules(workdir / "rules.yaml", sink.url + "/relay")
        for rep in range(args.reps):
            sink.reset()
            with _database(workdir / f"drain-{rep}.db", args.postgres) as url:
                asyncio.run(_preload(rules, url, args.count))
                profile = cProfile.Profile() if args.profile and rep == args.reps - 1 else None
                wall, cpu = uvloop.run(drain(rules, url, args.count, None if args.null else sink, profile))
            if profile:
                profile.dump_stats(args.profile)
            rates.append(args.count / wall)
            costs.append(cpu / args.count * 1e6)
            print(
                f"run {rep + 1}: {rates[-1]:,.0f} deliveries/s, {costs[-1]:,.0f} us CPU per delivery",
                flush=True,
            )
    rate, cost = statistics.median(rates), statistics.median(costs)
    print(f"median: {rate:,.0f} deliveries/s, {cost:,.0f} us CPU per delivery")


if __name__ == "__main__":
    main()
