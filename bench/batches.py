"""Runs in many-run webhook bodies against one run per request (issue 13's batch row).

`python -m bench.batches [--runs N] [--per-body 200] [--concurrency 4]`: one `relay serve`
(SQLite, delivery off: ingest alone), unsigned updates to the `bench` source from loopback.
Prints runs/s decided and committed (each answer comes after its runs' commit) for one run
per request and for bodies of `--per-body` runs, and the ratio."""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import httpx2 as httpx

from bench.loadgen import run_body
from bench.procs import Processes
from bench.stack import relay_rules, start_relay


async def _send(url: str, bodies: list[bytes], concurrency: int) -> float:
    """Seconds to have every body answered 202, `concurrency` requests at a time."""
    queue = list(reversed(bodies))
    headers = {"content-type": "application/json"}

    async def sender(client: httpx.AsyncClient) -> None:
        while queue:
            answer = await client.post(url, content=queue.pop(), headers=headers)
            if answer.status_code != 202:
                raise SystemExit(f"{answer.status_code}: {answer.text}")

    async with httpx.AsyncClient(timeout=120) as client:
        began = time.perf_counter()
        await asyncio.gather(*(sender(client) for _ in range(concurrency)))
        return time.perf_counter() - began


def _bodies(prefix: str, runs: int, per_body: int) -> list[bytes]:
    docs = [json.loads(run_body(f"{prefix}_{n}")) for n in range(runs)]
    if per_body == 1:
        return [json.dumps(d).encode() for d in docs]
    return [json.dumps({"runs": docs[i : i + per_body]}).encode() for i in range(0, runs, per_body)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=4000)
    parser.add_argument("--per-body", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Processes(Path(tmp)) as procs:
        rules = relay_rules(Path(tmp) / "rules.yaml", "http://127.0.0.1:9/none")
        relay = start_relay(procs, rules, Path(tmp) / "relay.db", deliver=False)
        url = f"{relay.url}/hooks/bench"
        rates = {}
        for per_body in (1, args.per_body):
            bodies = _bodies(f"b{per_body}", args.runs, per_body)
            seconds = asyncio.run(_send(url, bodies, args.concurrency))
            rates[per_body] = args.runs / seconds
    one, many = rates[1], rates[args.per_body]
    print(f"| runs per request | runs/s ({args.runs} runs, {args.concurrency} requests at a time) |")
    print("| --- | --- |")
    print(f"| 1 | {one:,.0f} |")
    print(f"| {args.per_body} | {many:,.0f} ({many / one:.1f}x) |")


if __name__ == "__main__":
    main()
