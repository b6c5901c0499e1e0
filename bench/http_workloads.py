"""Workloads over HTTP: ingest, end-to-end latency, delivery throughput, Alertmanager side by
side. Each starts what it needs through `Processes` and stops it before returning."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import stack
from bench.loadgen import Sent, alert_body, open_loop, run_body, write_signed_pool
from bench.procs import Processes
from bench.report import Section, median, percentile, skipped, spread
from bench.tools import Tools


@dataclass
class Config:
    quick: bool
    reps: int
    workdir: Path
    tools: Tools
    relay_src: Path | None = None  # run `relay serve` from another checkout (before/after)

    def fresh(self, name: str) -> Path:
        """A new, empty path in the work directory (databases are never reused)."""
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.workdir / name}{suffix}").unlink(missing_ok=True)
        return self.workdir / name


def _transitions(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        return int(c.execute("SELECT COUNT(*) FROM transitions").fetchone()[0])


# -- ingest ------------------------------------------------------------------------------------


RELAY_VARIANTS = [  # key, label, signed, delivering
    ("signed", "relay, signed", True, True),
    ("unsigned", "relay, unsigned (loopback)", False, True),
    ("signed-nodelivery", "relay, signed, delivery off in this process", True, False),
]
BASELINES = [
    ("tx", "baseline: one transaction per request"),
    ("group", "baseline: group commit"),
    ("nodb", "baseline: no database"),
]


def ingest(cfg: Config) -> Section:
    title = "Ingest: run updates accepted and durably stored per second"
    if cfg.tools.wrk is None:
        return skipped("ingest", title, f"ingest: {cfg.tools.missing('wrk')}")
    duration = 2.0 if cfg.quick else 10.0
    workers_list = [1] if cfg.quick else [1, 2]
    rates: dict[str, list[float]] = {}
    p99s: dict[str, list[float]] = {}
    problems: list[str] = []
    for rep in range(cfg.reps):
        for workers in workers_list:
            with Processes(cfg.workdir) as procs:
                sink = stack.start_sink(procs)
                for mode, _ in BASELINES[1:2] if cfg.quick else BASELINES:
                    db = cfg.fresh(f"baseline-{mode}.db")
                    url = stack.start_baseline(procs, mode, db, workers=workers)
                    result = _wrk_run(cfg, url, duration, f"b{rep}{workers}", "/hooks/bench")
                    procs.stop(procs.started[-1])
                    _note(rates, p99s, f"baseline-{mode}-{workers}", result)
                for key, _, signed, deliver in RELAY_VARIANTS[:1] if cfg.quick else RELAY_VARIANTS:
                    prefix = f"i{rep}{workers}{key[:3]}"
                    result, problem = _relay_ingest(
                        cfg, procs, sink, workers, signed, deliver, prefix, duration
                    )
                    _note(rates, p99s, f"relay-{key}-{workers}", result)
                    problems += [f"relay-{key}-{workers}: {problem}"] if problem else []
    section = Section("ingest", title)
    section.intro = (
        f"wrk, 2 threads, 16 connections, {duration:g} s per run, {cfg.reps} run(s); one distinct run"
        " per request (a `COMPLETED` Recoup run object, ~450 bytes) matching one rule with one signed"
        " webhook channel, so each accepted update commits its state, a transition and a delivery"
        " (synchronous=FULL) before the 202, while the relay delivers them to the sink. Signed:"
        " Standard Webhooks signatures computed beforehand by bench/loadgen.py and replayed by"
        " wrk/signed.lua (wrk's Lua has no HMAC). Unsigned: a source without webhook_secret, accepted"
        " from loopback. Baseline: bench/baseline.py on the same server (uvicorn, httptools, uvloop), parsing"
        " the JSON and inserting one row into SQLite (WAL, synchronous=FULL)."
    )
    section.headers = ["workers", "server", "accepted/s", "p99 ms", "vs group-commit baseline"]
    for workers in workers_list:
        base = median(rates.get(f"baseline-group-{workers}", []))
        labels = [(f"relay-{k}", label) for k, label, _, _ in RELAY_VARIANTS]
        labels += [(f"baseline-{k}", label) for k, label in BASELINES]
        for prefix, label in labels:
            key = f"{prefix}-{workers}"
            if key in rates:
                ratio = median(rates[key]) / base if base else float("nan")
                row = [str(workers), label, spread(rates[key]), spread(p99s[key], 1), f"{ratio:.0%}"]
                section.rows.append(row)
                section.numbers[key] = median(rates[key])
    section.notes += problems or ["checked after each run: every accepted update is stored as a transition"]
    n = section.numbers
    relay, base = n.get("relay-signed-1", 0.0), n.get("baseline-group-1", 0.0)
    section.summary = (
        f"ingest: relay signed {relay:,.0f}/s vs group-commit baseline {base:,.0f}/s"
        f" ({relay / base if base else 0:.0%}) at 1 worker"
    )
    return section


def _note(
    rates: dict[str, list[float]], p99s: dict[str, list[float]], key: str, result: dict[str, float]
) -> None:
    rates.setdefault(key, []).append(result["ok"] / (result["duration_us"] / 1e6))
    p99s.setdefault(key, []).append(result["p99_us"] / 1000)


def _relay_ingest(
    cfg: Config,
    procs: Processes,
    sink: stack.Sink,
    workers: int,
    signed: bool,
    deliver: bool,
    prefix: str,
    duration: float,
) -> tuple[dict[str, float], str | None]:
    """One wrk run against a fresh relay; checks every accepted update was stored."""
    db = cfg.fresh(f"ingest-{workers}.db")
    rules = stack.relay_rules(cfg.workdir / "rules.yaml", sink.url + "/relay")
    relay = stack.start_relay(procs, rules, db, workers=workers, src=cfg.relay_src, deliver=deliver)
    distinct = int(duration * 4000) + 2000
    if signed:
        assert cfg.tools.wrk is not None
        pool = cfg.workdir / "signed.tsv"
        write_signed_pool(pool, distinct, stack.SIGNING_SECRET, prefix)
        args = [str(pool), "2", "/hooks/signed"]
        result = stack.wrk(cfg.tools.wrk, relay.url, "signed.lua", args, duration=duration)
    else:
        result = _wrk_run(cfg, relay.url, duration, prefix, "/hooks/bench")
    procs.stop(relay)
    expected = min(int(result["ok"]), distinct) if signed else int(result["ok"])
    stored = _transitions(db)
    if stored < expected:  # more is fine: requests in flight when wrk stopped counting
        return result, f"{expected} distinct runs accepted, {stored} transitions stored"
    if signed and result["ok"] > distinct:
        return result, f"the signed pool ran out; {result['ok'] - distinct:.0f} repeats"
    return result, None


def _wrk_run(cfg: Config, url: str, duration: float, prefix: str, path: str) -> dict[str, float]:
    assert cfg.tools.wrk is not None
    return stack.wrk(cfg.tools.wrk, url, "updates.lua", [path, "run", prefix], duration=duration)


# -- end-to-end latency ------------------------------------------------------------------------


def latency(cfg: Config) -> Section:
    """Steady rates, open loop, signed; latency from the moment a request was due to the
    moment its notification arrived at the sink."""
    rates = [100, 300] if cfg.quick else [100, 1000, 5000]
    if os.environ.get("BENCH_RATES"):  # e.g. "100,1000"
        rates = [int(r) for r in os.environ["BENCH_RATES"].split(",")]
    duration = 2.0 if cfg.quick else 5.0
    reps = 1 if cfg.quick else cfg.reps
    section = Section("latency", "End-to-end latency: webhook in -> notification at the sink")
    section.intro = (
        f"Open-loop load (bench/loadgen.py, aiohttp, 64 connections): request i is due at start + i/rate"
        f" whatever happened before, {duration:g} s per rate, {reps} run(s). Latency = the notification's"
        " arrival at the sink minus the moment its request was due (it includes the time to be accepted;"
        " a generator falling behind counts against the server). Relay: signed webhooks, one worker,"
        " one signed webhook channel. Alertmanager: the same count of alerts to /api/v2/alerts,"
        " group_wait 0s, one group per alert, webhook receiver."
    )
    section.headers = [
        "server",
        "offered/s",
        "sent/s",
        "delivered",
        "p50 ms",
        "p99 ms",
        "max ms",
        "ack p99 ms",
    ]
    servers = ["relay"] + (["alertmanager"] if cfg.tools.alertmanager else [])
    for server in servers:
        for rate in rates:
            cols: dict[str, list[float]] = {}
            delivered = ""
            for rep in range(reps):
                with Processes(cfg.workdir) as procs:
                    sink = stack.start_sink(procs)
                    url, body, secret = _target(cfg, procs, server, sink)
                    prefix = f"l{server[0]}{rep}r{rate}"
                    sent = asyncio.run(open_loop(url, rate, duration, body, prefix, secret=secret))
                    got = _collect(sink, sent, timeout=30.0)
                for k, v in got.items():
                    cols.setdefault(k, []).append(v)
                delivered = f"{int(got['delivered'])}/{len(sent)}"
            section.rows.append(
                [
                    server,
                    f"{rate:,}",
                    spread(cols["sent_per_s"]),
                    delivered,
                    spread(cols["p50"], 1),
                    spread(cols["p99"], 1),
                    spread(cols["max"], 1),
                    spread(cols["ack_p99"], 1),
                ]
            )
            section.numbers[f"{server}-{rate}-p50"] = median(cols["p50"])
            section.numbers[f"{server}-{rate}-p99"] = median(cols["p99"])
    if not cfg.tools.alertmanager:
        section.notes.append(f"alertmanager: {cfg.tools.missing('alertmanager')}")
    n = section.numbers
    parts = [
        f"{r}/s p50 {n.get(f'relay-{r}-p50', 0):.1f} ms p99 {n.get(f'relay-{r}-p99', 0):.1f} ms"
        for r in rates
    ]
    section.summary = "latency: relay " + ", ".join(parts)
    if not cfg.tools.alertmanager:
        section.summary += f"; alertmanager {cfg.tools.missing('alertmanager')}"
    return section


def _target(
    cfg: Config, procs: Processes, server: str, sink: stack.Sink
) -> tuple[str, Callable[[str], bytes], str | None]:
    if server == "relay":
        rules = stack.relay_rules(cfg.workdir / "rules.yaml", sink.url + "/relay")
        relay = stack.start_relay(procs, rules, cfg.fresh("latency.db"), src=cfg.relay_src)
        return relay.url + "/hooks/signed", run_body, stack.SIGNING_SECRET
    assert cfg.tools.alertmanager is not None
    am = stack.start_alertmanager(procs, cfg.tools.alertmanager, cfg.workdir, sink.url)
    return am + "/api/v2/alerts", alert_body, None


def _collect(sink: stack.Sink, sent: list[Sent], timeout: float) -> dict[str, float]:
    ok = [s for s in sent if 200 <= s.status < 300]
    sink.wait_for(len(ok), timeout)
    arrivals: dict[str, float] = {}
    for t, run_id in sink.records():
        arrivals.setdefault(run_id, t)
    lat = sorted((arrivals[s.run_id] - s.due) * 1000 for s in ok if s.run_id in arrivals)
    acks = sorted((s.acked - s.due) * 1000 for s in ok)
    span = max(s.due for s in sent) - min(s.due for s in sent) if len(sent) > 1 else 1.0
    last_sent = max((s.acked for s in sent), default=0.0)
    first = min((s.due for s in sent), default=0.0)
    return {
        "sent_per_s": len(sent) / max(span, last_sent - first, 1e-9),
        "delivered": float(len(lat)),
        "p50": percentile(lat, 50),
        "p99": percentile(lat, 99),
        "max": lat[-1] if lat else float("nan"),
        "ack_p99": percentile(acks, 99),
    }


# -- delivery throughput -----------------------------------------------------------------------


def delivery(cfg: Config) -> Section:
    """N deliveries already in the outbox when the relay starts: how fast do they go out?"""
    count = 300 if cfg.quick else 5000
    reps = 1 if cfg.quick else cfg.reps
    variants: list[tuple[str, str, Callable[[str], str]]] = [
        ("webhook", "webhook sink", lambda url: url + "/relay"),
        ("webhook-500", "webhook sink, 10% answered 500", lambda url: url + "/fail10/relay"),
        ("apprise", "apprise mmost:// (Slack-compatible)", lambda url: "mmost://" + url[7:] + "/benchtoken"),
        (
            "apprise-500",
            "apprise mmost://, 10% answered 500",
            lambda url: "mmost://" + url[7:] + "/fail10/benchtoken",
        ),
    ]
    section = Section("delivery", "Delivery throughput: deliveries per second out of the outbox")
    section.intro = (
        f"{count:,} pending deliveries are written to the outbox first (through the relay's own pipeline"
        " and store, in-process); then `relay serve` starts on that database and sends them to the sink"
        f" (worker concurrency 16). {reps} run(s). Rate = deliveries / (last arrival - first arrival)."
        " With 500s: every 10th request the sink receives is answered 500 and retried by the worker"
        " (quick tries 200 ms apart, then the durable schedule); 'fresh first 90%' shows whether those"
        " retries hold back the deliveries that have not failed."
    )
    section.headers = ["channel", "deliveries/s", "first 90% /s", "all delivered in s", "answered 500"]
    for key, label, make in variants[:3] if cfg.quick else variants:
        cols: dict[str, list[float]] = {}
        failed = 0
        for _ in range(reps):
            with Processes(cfg.workdir) as procs:
                sink = stack.start_sink(procs)
                db = cfg.fresh("delivery.db")
                rules = stack.relay_rules(cfg.workdir / "rules.yaml", make(sink.url))
                asyncio.run(_preload(rules, f"sqlite:///{db}", count))
                started = time.monotonic()
                relay = stack.start_relay(procs, rules, db, src=cfg.relay_src)
                waited = sink.wait_for(count, timeout=120.0)
                records = sorted(t for t, _ in sink.records())
                failed = sink.count()["failed"]
                procs.stop(relay)
            if len(records) < 2:
                continue
            span = records[-1] - records[0]
            ninety = records[int(len(records) * 0.9) - 1] - records[0]
            cols.setdefault("rate", []).append(len(records) / span if span else 0)
            cols.setdefault("ninety", []).append(0.9 * len(records) / ninety if ninety else 0)
            cols.setdefault("all", []).append((records[-1] - started) if waited is not None else float("nan"))
        section.rows.append(
            [
                label,
                spread(cols.get("rate", [])),
                spread(cols.get("ninety", [])),
                spread(cols.get("all", []), 1),
                str(failed),
            ]
        )
        section.numbers[key] = median(cols.get("rate", []))
    n = section.numbers
    names = {
        "webhook": "webhook",
        "webhook-500": "with 10% 500s",
        "apprise": "apprise",
        "apprise-500": "with 10% 500s",
    }
    section.summary = "delivery: " + ", ".join(f"{names[k]} {v:,.0f}/s" for k, v in n.items())
    return section


async def _preload(rules: Path, database_url: str, count: int) -> None:
    """Fill the outbox through the relay's own pipeline (no worker running)."""
    import json

    from relay.clock import SystemClock
    from relay.config import load_ruleset
    from relay.pipeline import Pipeline
    from relay.sources.registry import kind_of
    from relay.store import open_store

    ruleset = load_ruleset(rules)
    source = ruleset.sources["bench"]
    store = await open_store(database_url)
    try:
        pipeline = Pipeline(store, ruleset, SystemClock(), asyncio.Event())
        parse = kind_of(source.kind).parse_webhook
        for start in range(0, count, 200):
            batch = [
                s
                for n in range(start, min(count, start + 200))
                for s in parse(json.loads(run_body(f"brun-d-{n}")), source)
            ]
            await asyncio.gather(*(pipeline.ingest(s) for s in batch))
    finally:
        await store.close()


# -- Alertmanager side by side -----------------------------------------------------------------


def side_by_side(cfg: Config) -> Section:
    title = "Side by side: the relay and Prometheus Alertmanager, fed the same events"
    missing = [cfg.tools.missing(t) for t in ("wrk", "alertmanager") if getattr(cfg.tools, t) is None]
    if missing:
        return skipped("alertmanager", title, "alertmanager side by side: " + "; ".join(missing))
    assert cfg.tools.wrk is not None
    assert cfg.tools.alertmanager is not None
    events = 3000 if cfg.quick else 10000
    reps = 1 if cfg.quick else cfg.reps
    cols: dict[str, dict[str, list[float]]] = {"relay": {}, "alertmanager": {}}
    for rep in range(reps):
        for server in ("relay", "alertmanager"):
            with Processes(cfg.workdir) as procs:
                sink = stack.start_sink(procs)
                start = time.monotonic()
                if server == "relay":
                    rules = stack.relay_rules(cfg.workdir / "rules.yaml", sink.url + "/relay")
                    relay = stack.start_relay(procs, rules, cfg.fresh("side.db"), src=cfg.relay_src)
                    pool = cfg.workdir / "side.tsv"
                    write_signed_pool(pool, events, stack.SIGNING_SECRET, f"s{rep}")
                    start = time.monotonic()
                    args = [str(pool), "2", "/hooks/signed", "once"]
                    result = stack.wrk(
                        cfg.tools.wrk, relay.url, "signed.lua", args, duration=120, until_done=True
                    )
                    expected = events
                else:
                    am = stack.start_alertmanager(procs, cfg.tools.alertmanager, cfg.workdir, sink.url)
                    start = time.monotonic()
                    args = ["/api/v2/alerts", "alert", f"a{rep}", str(events // 2)]
                    result = stack.wrk(cfg.tools.wrk, am, "updates.lua", args, duration=120, until_done=True)
                    expected = int(result["ok"])
                sink.wait_for(expected, timeout=120)
                arrivals = sorted(t for t, _ in sink.records())
            c = cols[server]
            c.setdefault("in", []).append(result["ok"] / (result["duration_us"] / 1e6))
            if arrivals:
                c.setdefault("out", []).append(len(arrivals) / max(arrivals[-1] - start, 1e-9))
                c.setdefault("last", []).append(arrivals[-1] - start)
                c.setdefault("got", []).append(len(arrivals) / expected)
    section = Section("alertmanager", title)
    section.intro = (
        f"{events:,} events each, wrk 2 threads x 16 connections, one event per request, {reps} run(s)."
        " Relay: signed run updates (each its own run, one rule, one webhook channel). Alertmanager 0.25"
        " (Debian): one distinct alert per request to /api/v2/alerts, group_by ['...'] (each alert its"
        " own group), group_wait 0s, a webhook receiver. Both deliver to the same kind of sink."
    )
    section.headers = [
        "server",
        "accepted/s",
        "notifications/s (from first request)",
        "last notification after s",
        "delivered",
    ]
    for server, c in cols.items():
        section.rows.append(
            [
                server,
                spread(c.get("in", [])),
                spread(c.get("out", [])),
                spread(c.get("last", []), 2),
                f"{median(c.get('got', [])):.0%}",
            ]
        )
        section.numbers[f"{server}-in"] = median(c.get("in", []))
        section.numbers[f"{server}-out"] = median(c.get("out", []))
        section.numbers[f"{server}-last"] = median(c.get("last", []))
    n = section.numbers
    section.summary = (
        f"alertmanager side by side: accepted/s relay {n['relay-in']:,.0f}"
        f" vs alertmanager {n['alertmanager-in']:,.0f};"
        f" delivered/s relay {n['relay-out']:,.0f} vs alertmanager {n['alertmanager-out']:,.0f}"
    )
    return section
