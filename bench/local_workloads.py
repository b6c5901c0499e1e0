"""Workloads that need no external tool: rule matching, polling, footprint, HTTP transports."""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import subprocess
import time
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import stack
from bench.http_workloads import Config
from bench.loadgen import open_loop, run_body
from bench.procs import PY, ROOT, Processes, free_port, get_json, rss_mb
from bench.report import Section, median, spread

# -- rule matching -----------------------------------------------------------------------------


def matching(cfg: Config) -> Section:
    from relay.config import Rule
    from relay.config.matching import build_matcher
    from relay.models import Phase, Transition, Via
    from tests.builders import T0, snap

    rng = random.Random(7)
    sources = ["recoup", "trigger", "runner"]
    tasks = [f"task-{n}" for n in range(200)]
    statuses = ["COMPLETED", "FAILED", "CRASHED", "CANCELED", "EXECUTING", "TIMED_OUT"]

    def rule(n: int) -> Rule:
        conditions: dict[str, object] = {"source": rng.choice(sources)}
        roll = rng.random()
        if roll < 0.9:
            conditions["task"] = rng.choice(tasks)
        elif roll < 0.98:
            conditions["task"] = rng.choice(tasks)[:7] + "*"  # a glob, e.g. task-12*
        if rng.random() < 0.5:
            conditions["status"] = rng.sample(statuses, 2)
        else:
            conditions["phase"] = rng.choice(["succeeded", "problem", "terminal"])
        return Rule(f"r{n}", build_matcher(conditions, known_sources=set(sources)), ("out",))

    samples = []
    for _ in range(1000 if cfg.quick else 2000):
        status = rng.choice(statuses)
        run = snap(status, source=rng.choice(sources), task=rng.choice(tasks))
        samples.append(
            (
                Transition(
                    "t", run.source, run.run_id, Phase.RUNNING, run.phase, "EXECUTING", status, T0, Via.POLL
                ),
                run,
            )
        )
    section = Section("matching", "Rule matching: cost per transition")
    section.intro = (
        "In-process, 2,000 transitions over 3 sources, 200 task names and 6 statuses; rules name a source,"
        " mostly an exact task (8% a glob, 2% any task) and statuses or a phase group. Full scan: every"
        " rule's matcher (before); index: relay/rules/index.py (after), which returns the same rules,"
        " timed after one warm-up pass (the first sight of a task name costs one pass over the task globs)."
    )
    section.headers = ["rules", "full scan us", "index us", "speed-up", "rules matched per transition"]
    for count in (10, 100, 1000):
        rules = [rule(n) for n in range(count)]
        reps = 2 if cfg.quick else 7
        scan_t, index_t, matched = _time_matching(rules, samples, reps)
        section.rows.append(
            [
                f"{count:,}",
                spread(scan_t, 1),
                spread(index_t, 1),
                f"{median(scan_t) / median(index_t):.0f}x",
                f"{matched:.2f}",
            ]
        )
        section.numbers[f"scan-{count}"] = median(scan_t)
        section.numbers[f"index-{count}"] = median(index_t)
    n = section.numbers
    section.summary = (
        f"matching: 1,000 rules {n['index-1000']:.1f} us/transition indexed"
        f" (full scan {n['scan-1000']:.0f} us);"
        f" 100 rules {n['index-100']:.1f} us; 10 rules {n['index-10']:.1f} us"
    )
    return section


def _time_matching(
    rules: list[Any], samples: list[tuple[Any, Any]], reps: int
) -> tuple[list[float], list[float], float]:
    """us per transition, full scan and index, `reps` times each; rules matched per transition."""
    from relay.rules.index import RuleIndex

    index = RuleIndex(rules)
    for t, run in samples:  # warm-up: the index remembers each task name's globs
        index.matching(t, run)
    scan_t, index_t, matched = [], [], 0
    for _ in range(reps):
        t0 = time.perf_counter()
        for t, run in samples:
            [r for r in rules if r.matcher.matches(t, run)]
        scan_t.append((time.perf_counter() - t0) / len(samples) * 1e6)
        t0 = time.perf_counter()
        for t, run in samples:
            matched += len(index.matching(t, run))
        index_t.append((time.perf_counter() - t0) / len(samples) * 1e6)
    return scan_t, index_t, matched / reps / len(samples)


# -- polling -----------------------------------------------------------------------------------


def polling(cfg: Config) -> Section:
    cycles = 3 if cfg.quick else 10
    window = 10_000
    section = Section("polling", "Polling: a platform with 10,000 runs in its window, 1% changing per cycle")
    section.intro = (
        f"bench/platform.py: the fake Recoup API (tests/fakes/recoup_api.py) holding {window:,} runs in its"
        " window, in its own process. Each cycle 1% of them change: 50 executing runs complete and 50 new"
        " ones start. The relay's own poller (Relay.start + poll_once, in-process, SQLite store) then"
        f" polls once. {cycles} measured cycles after one warm-up cycle (the first poll records the"
        " newest 100 runs as history). Recoup's list has no cursor: one page of at most 100, newest first."
    )
    section.headers = ["measure", "per cycle"]
    with Processes(cfg.workdir) as procs:
        port = free_port()
        procs.start(
            "platform",
            [PY, "-m", "bench.platform", "--port", str(port), "--runs", str(window)],
            port=port,
            timeout=60,
        )
        base = f"http://127.0.0.1:{port}"
        stats = asyncio.run(_poll_cycles(cfg, base, cycles))
    for label, key, digits in [
        ("API requests (list + by id)", "requests", 1),
        ("  list requests", "list", 1),
        ("  by-id requests", "by_id", 1),
        ("time per cycle, ms", "ms", 1),
        ("  relay CPU per cycle, ms (the platform runs in its own process)", "cpu", 1),
        ("runs that changed", "changed", 0),
        ("transitions found", "found", 0),
    ]:
        section.rows.append([label, spread(stats[key], digits)])
        section.numbers[key] = median(stats[key])
    n = section.numbers
    section.notes.append(
        "target: one list request per page plus one by-id request per run that turned terminal"
        f" = 1 + 50 = 51 per cycle; measured {n['requests']:.0f}"
    )
    section.summary = (
        f"polling: {n['requests']:.0f} API calls/cycle ({n['list']:.0f} list + {n['by_id']:.0f} by id),"
        f" {n['ms']:.0f} ms/cycle ({n['cpu']:.0f} ms relay CPU),"
        f" transitions found {n['found']:.0f} of {n['changed']:.0f}"
    )
    return section


async def _poll_cycles(cfg: Config, base: str, cycles: int) -> dict[str, list[float]]:
    from relay.service import Relay
    from relay.settings import Settings

    rules = cfg.workdir / "poll-rules.yaml"
    rules.write_text(
        "sources:\n"
        f"  recoup: {{kind: recoup, base_url: '{base}/api', api_key: bench_key,"
        " limit: 100, poll_every: 1h}\n"
        "channels:\n  console: {kind: console}\n"
        "rules:\n  - name: none\n    match: {task: never-this-task}\n    notify: [console]\n"
    )
    db = cfg.fresh("poll.db")
    settings = Settings(config_path=str(rules), database_url=f"sqlite:///{db}", workers=False, pollers=False)
    relay = await Relay.start(settings)
    out: dict[str, list[float]] = {}
    try:
        poller = relay.pollers["recoup"]
        await poller.poll_once()  # warm-up: the newest 100 become known
        for _ in range(cycles):
            changed = _post_json(f"{base}/_bench/advance")
            before, count = get_json(f"{base}/_bench/stats"), _count(db)
            t0, c0 = time.perf_counter(), time.process_time()
            await poller.poll_once()
            ms, cpu = (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
            after = get_json(f"{base}/_bench/stats")
            for key, value in [
                ("list", after["list"] - before["list"]),
                ("by_id", after["by_id"] - before["by_id"]),
                ("ms", ms),
                ("cpu", cpu),
                ("changed", changed["completed"] + changed["started"]),
                ("found", _count(db) - count),
            ]:
                out.setdefault(key, []).append(float(value))
            out.setdefault("requests", []).append(out["list"][-1] + out["by_id"][-1])
    finally:
        await relay.stop()
    return out


def _count(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        return int(c.execute("SELECT COUNT(*) FROM transitions").fetchone()[0])


def _post_json(url: str) -> dict[str, int]:
    request = urllib.request.Request(url, data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=30) as r:
        data: dict[str, int] = json.loads(r.read())
        return data


# -- footprint ---------------------------------------------------------------------------------


def footprint(cfg: Config) -> Section:
    stored = 50_000 if cfg.quick else 1_000_000
    updates = 1_500 if cfg.quick else 20_000
    rate = 1000 if cfg.quick else 250  # within what one relay process sustains with the load generator
    section = Section("footprint", f"Footprint: RSS with {stored:,} stored runs, and under sustained traffic")
    section.intro = (
        f"A database with {stored:,} runs (and as many transitions and sent deliveries) is generated with"
        " SQL straight into the file, then `relay serve` (one worker) starts on it. RSS is read from"
        f" /proc after start and while {updates:,} signed updates arrive at {rate:,}/s (an hour's worth at"
        f" {updates / 3600:.0f} updates/s), each delivered to the sink."
    )
    section.headers = ["moment", "RSS MB"]
    with Processes(cfg.workdir) as procs:
        sink = stack.start_sink(procs)
        db = cfg.fresh("footprint.db")
        rules = stack.relay_rules(cfg.workdir / "rules.yaml", sink.url + "/relay")
        t0 = time.perf_counter()
        _generate(db, stored)
        generated = time.perf_counter() - t0
        relay = stack.start_relay(procs, rules, db, src=cfg.relay_src)
        idle = rss_mb(relay.pid)
        samples: list[tuple[float, float]] = []

        async def drive() -> None:
            async def sample() -> None:
                while True:
                    samples.append((time.monotonic(), rss_mb(relay.pid)))
                    await asyncio.sleep(0.5)

            sampler = asyncio.create_task(sample())
            try:
                await open_loop(
                    relay.url + "/hooks/signed",
                    rate,
                    updates / rate,
                    run_body,
                    "fp",
                    secret=stack.SIGNING_SECRET,
                )
            finally:
                sampler.cancel()

        asyncio.run(drive())
        sink.wait_for(updates, timeout=60)
        after = rss_mb(relay.pid)
    rows = [("started, idle", idle)]
    quarter = max(1, len(samples) // 4)
    rows += [
        (f"after {i * 25}% of the traffic", samples[min(len(samples) - 1, i * quarter)][1]) for i in (1, 2, 3)
    ]
    rows += [("after all of it", after), ("peak while sampled", max((s[1] for s in samples), default=after))]
    section.rows = [[label, f"{value:.0f}"] for label, value in rows]
    section.numbers = {"idle": idle, "after": after, "growth": after - samples[0][1] if samples else 0.0}
    section.notes.append(
        f"database generated in {generated:.1f} s; file size {db.stat().st_size / 1e6:,.0f} MB"
    )
    section.summary = (
        f"footprint: RSS {idle:.0f} MB with {stored:,} runs stored, {after:.0f} MB after {updates:,} updates"
    )
    return section


def _generate(db: Path, count: int) -> None:
    """`count` finished runs, each with its transition and a sent delivery, written with SQL."""
    from relay.store.sqlite.engine import connect

    connect(str(db)).close()  # the relay's own schema (migrations)
    snapshot = json.loads(_snapshot_template())
    conn = sqlite3.connect(str(db), isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    now = time.time()
    chunk = 20_000
    for start in range(0, count, chunk):
        ids = range(start, min(count, start + chunk))
        conn.executemany(
            "INSERT INTO runs (source, run_id, task, status, phase, terminal, updated_at, first_seen_at,"
            " snapshot)"
            " VALUES ('bench', ?, 'create-content', 'COMPLETED', 'succeeded', 1, ?, ?, ?)",
            ((f"hist-{n}", now - n, now - n, json.dumps({**snapshot, "run_id": f"hist-{n}"})) for n in ids),
        )
        conn.executemany(
            "INSERT INTO transitions (id, source, run_id, from_phase, to_phase, from_status, to_status,"
            " observed_at, via, backfill) VALUES (?, 'bench', ?, 'running', 'succeeded', 'EXECUTING',"
            " 'COMPLETED', ?, 'webhook', 0)",
            ((f"t{n}", f"hist-{n}", now - n) for n in ids),
        )
        conn.executemany(
            "INSERT INTO deliveries (id, transition_id, rule, channel, idempotency_key, message, payload,"
            " status, attempts, next_attempt_at, created_at) VALUES (?, ?, 'done', 'out', ?,"
            ' \'{"title":"t","body":"b","severity":"info","link":null,"fields":[]}\', \'{}\','
            " 'sent', 1, ?, ?)",
            ((f"d{n}", f"t{n}", f"bench:hist-{n}:succeeded:done:out", now - n, now - n) for n in ids),
        )
    conn.execute("COMMIT")
    conn.close()


def _snapshot_template() -> str:
    from relay.config import SourceConfig
    from relay.sources.registry import kind_of
    from relay.store.codec import snapshot_to_json

    source = SourceConfig(name="bench", kind="recoup", base_url="http://127.0.0.1:9/api")
    (snapshot,) = kind_of("recoup").parse_webhook(json.loads(run_body("hist-0")), source)
    return snapshot_to_json(replace(snapshot))


# -- HTTP transports ---------------------------------------------------------------------------


def transport(cfg: Config) -> Section:
    count = 500 if cfg.quick else 4000
    concurrencies = [16] if cfg.quick else [1, 10, 16, 50]
    kinds = ["httpx2", "aiohttp", "relay"] if cfg.quick else ["httpx2", "httpx2-aiohttp", "aiohttp", "relay"]
    missing = False
    try:
        import httpx_aiohttp  # noqa: F401
    except ImportError:
        missing = "httpx2-aiohttp" in kinds
        kinds = [k for k in kinds if k != "httpx2-aiohttp"]
    section = Section("transport", "Delivery transport: one process posting small JSON to the sink")
    section.intro = (
        f"bench/transport.py, {count:,} POSTs of ~1 KB JSON per run, each kind in a fresh process:"
        " httpx2's default transport (what relay/channels/http.py used before), the httpx2 API over the"
        " httpx-aiohttp transport (its httpx2 variant), aiohttp's ClientSession directly, and `relay`:"
        " relay/channels/http.py as it is now (aiohttp, chosen by this measurement)."
    )
    section.headers = ["transport", *[f"{c} in flight: /s (p99 ms)" for c in concurrencies]]
    with Processes(cfg.workdir) as procs:
        sink = stack.start_sink(procs)
        for kind in kinds:
            row = [kind]
            for concurrency in concurrencies:
                rates, p99s = [], []
                for _ in range(1 if cfg.quick else cfg.reps):
                    argv = [PY, "-m", "bench.transport", sink.url + "/t", str(count), str(concurrency), kind]
                    done = subprocess.run(
                        argv, capture_output=True, text=True, timeout=300, check=False, cwd=ROOT
                    )
                    if done.returncode != 0:
                        raise RuntimeError(f"bench.transport {kind} failed: {done.stderr[-500:]}")
                    result = json.loads(done.stdout)
                    rates.append(result["per_s"])
                    p99s.append(result["p99_ms"])
                row.append(f"{spread(rates)} ({median(p99s):.1f})")
                section.numbers[f"{kind}-{concurrency}"] = median(rates)
            section.rows.append(row)
    if missing:
        section.notes.append("httpx-aiohttp: not installed: pip install -e '.[bench]'")
    n = section.numbers
    c = concurrencies[-1]
    section.summary = f"transport at {c} in flight: " + ", ".join(
        f"{kind} {n[f'{kind}-{c}']:,.0f}/s" for kind in kinds if kind != "relay"
    )
    return section
