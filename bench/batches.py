"""Runs in many-run webhook bodies against one run per request (issue 13's batch row).

A `make bench` workload (`BENCH_ONLY=batches`), and on its own
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

from bench.http_workloads import Config
from bench.loadgen import run_body
from bench.procs import Processes
from bench.report import Section, median, spread
from bench.stack import relay_rules, start_relay

PER_BODY = 200


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


def _rates(
    workdir: Path, runs: int, per_body: int, concurrency: int, tag: str, src: Path | None = None
) -> dict[int, float]:
    """runs/s for one run per request, then for bodies of `per_body` runs, on one fresh relay
    (`src`: another checkout's relay, for before and after)."""
    with Processes(workdir) as procs:
        rules = relay_rules(workdir / f"batches-{tag}.yaml", "http://127.0.0.1:9/none")
        relay = start_relay(procs, rules, workdir / f"batches-{tag}.db", deliver=False, src=src)
        url = f"{relay.url}/hooks/bench"
        rates = {}
        for size in (1, per_body):
            bodies = _bodies(f"{tag}b{size}", runs, size)
            rates[size] = runs / asyncio.run(_send(url, bodies, concurrency))
        return rates


def batches(cfg: Config) -> Section:
    runs = 1000 if cfg.quick else 4000
    section = Section("batches", f"Batches: {PER_BODY} runs in one webhook body")
    section.intro = (
        f"bench/batches.py: one `relay serve` (SQLite, delivery off in that process: ingest alone),"
        f" {runs:,} unsigned `COMPLETED` runs from loopback, 4 requests at a time: first one run per"
        f" request, then bodies of {PER_BODY} runs (`{{\"runs\": [...]}}`). Runs/s decided and"
        " committed: each 202 follows its runs' commit. A fresh relay and database per repetition."
    )
    section.headers = ["runs per request", "runs/s", "vs one run per request"]
    one: list[float] = []
    many: list[float] = []
    for rep in range(cfg.reps):
        rates = _rates(cfg.workdir, runs, PER_BODY, 4, f"r{rep}", cfg.relay_src)
        one.append(rates[1])
        many.append(rates[PER_BODY])
    ratios = [m / o for m, o in zip(many, one, strict=True)]
    section.rows = [
        ["1", spread(one), "1.0x"],
        [str(PER_BODY), spread(many), f"{median(ratios):.1f}x"],
    ]
    section.numbers = {"one": median(one), "many": median(many), "ratio": median(ratios)}
    section.notes.append(
        f"target (issue 13): >= 10x the one-run-per-request rate and >= 5,000 runs/s;"
        f" measured {median(ratios):.1f}x and {median(many):,.0f} runs/s"
    )
    section.summary = (
        f"batches: {median(many):,.0f} runs/s in {PER_BODY}-run bodies,"
        f" {median(one):,.0f}/s one per request ({median(ratios):.1f}x)"
    )
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=4000)
    parser.add_argument("--per-body", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rates = _rates(Path(tmp), args.runs, args.per_body, args.concurrency, "cli")
    one, many = rates[1], rates[args.per_body]
    print(f"| runs per request | runs/s ({args.runs} runs, {args.concurrency} requests at a time) |")
    print("| --- | --- |")
    print(f"| 1 | {one:,.0f} |")
    print(f"| {args.per_body} | {many:,.0f} ({many / one:.1f}x) |")


if __name__ == "__main__":
    main()
