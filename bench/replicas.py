"""Several relay processes: signed ingest and deliveries with 1, 2 and 3 processes, on SQLite
and on PostgreSQL, with ingest and delivery split apart, and the CPU each costs.

    python -m bench.replicas          # = BENCH_ONLY=replicas make bench (writes docs/benchmarks.md)
    BENCH_QUICK=1 python -m bench.replicas   # under a minute, writes bench/results/quick.md

For each database (SQLite: one file; PostgreSQL: a fresh schema per case, dropped after):
- "all roles": `relay serve --workers N` (N = 1: plain `relay serve`) under wrk with signed
  updates while it delivers them to the recording sink: accepted/s, then delivered/s from
  the first request to the last notification;
- split: `relay serve --workers N --role ingest` under wrk alone (the outbox fills), stopped,
  then `relay serve --workers N --role deliver` on the same database drains that backlog.
CPU: utime + stime from /proc of every process of the relay's process group (supervisor and
children), and of the PostgreSQL backends serving them plus the server's own processes
(bench/cpu.py), over the measured window only (not the start-up). Same-run baselines: the
group-commit baseline (bench/baseline.py, 1 and 2 workers) and Alertmanager.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from bench import stack
from bench.cpu import Meter, Used
from bench.http_workloads import Config
from bench.loadgen import write_signed_pool
from bench.procs import PY, Proc, Processes, free_port
from bench.report import Section, median, skipped, spread

POSTGRES = os.environ.get("RELAY_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = [("sqlite", "SQLite (one file)"), ("postgresql", "PostgreSQL")]
DRAIN_TIMEOUT = 120.0


@dataclass
class Phase:
    """One measured window: what went in and out, and the CPU it took."""

    accepted: float = 0.0  # updates answered 2xx
    in_s: float = 0.0  # wrk's own duration
    delivered: float = 0.0  # notifications at the sink within the window
    out_s: float = 0.0  # from the window's start to the last notification
    used: Used | None = None
    wal: float = 0.0  # PostgreSQL: WAL bytes written meanwhile (the whole server's)
    rows: dict[str, float] = field(default_factory=dict)  # PostgreSQL: rows written, by table
    sizes: dict[str, float] = field(default_factory=dict)  # PostgreSQL: bytes by table at the end

    def rate_in(self) -> float:
        return self.accepted / self.in_s if self.in_s else float("nan")

    def rate_out(self) -> float:
        return self.delivered / self.out_s if self.out_s else float("nan")

    def ms_per(self, cpu: float, items: float) -> float:
        return cpu * 1000 / items if items else float("nan")


@dataclass
class Results:
    phases: dict[str, list[Phase]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def add(self, key: str, phase: Phase) -> None:
        self.phases.setdefault(key, []).append(phase)


# -- starting things ---------------------------------------------------------------------------


def start_relay(procs: Processes, rules: str, url: str, count: int, role: str, name: str) -> Proc:
    """`relay serve` as shipped: --workers N (one port, the supervisor's children) and --role."""
    port = free_port()
    argv = [PY, "-m", "relay.cli", "serve", "--port", str(port)]
    argv += ["--workers", str(count)] if count > 1 else []
    argv += ["--role", role] if role != "all" else []
    env = {"RELAY_LOG_LEVEL": stack.LOG_LEVEL, "RELAY_CONFIG": rules, "RELAY_DATABASE_URL": url}
    proc = procs.start(name, argv, env=env, port=port, health="/healthz", timeout=60)
    if count > 1:
        time.sleep(stack.WORKERS_SETTLE)  # one child answering does not mean all are serving
    return proc


@contextlib.contextmanager
def database(cfg: Config, backend: str, name: str) -> Iterator[str]:
    """A fresh SQLite file, or a fresh PostgreSQL schema (created by the relay, dropped here)."""
    if backend == "sqlite":
        yield f"sqlite:///{cfg.fresh(name + '.db')}"
        return
    schema = f"bench_{name}_{secrets.token_hex(4)}"
    try:
        yield f"{POSTGRES}?schema={schema}"
    finally:
        asyncio.run(_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


async def _sql(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def postgres_problem() -> str | None:
    try:
        asyncio.run(_sql("SELECT 1"))
    except Exception as exc:  # any failure to connect: say so, measure SQLite alone
        return f"PostgreSQL at {urlsplit(POSTGRES).netloc} did not answer ({type(exc).__name__}: {exc})"
    return None


def pg_port(backend: str) -> int | None:
    return (urlsplit(POSTGRES).port or 5432) if backend == "postgresql" else None


@dataclass
class PgStats:
    """The server's WAL position and the rows inserted, updated and deleted in one schema."""

    wal: float = 0.0
    rows: dict[str, float] = field(default_factory=dict)
    sizes: dict[str, float] = field(default_factory=dict)  # bytes on disk by table, indexes included

    def since(self, before: PgStats) -> tuple[float, dict[str, float]]:
        rows = {t: n - before.rows.get(t, 0.0) for t, n in self.rows.items()}
        return self.wal - before.wal, {t: n for t, n in rows.items() if n}


STATS_FLUSH = 1.0  # seconds for the backends of a stopped relay to end and report their counts


def pg_stats(url: str) -> PgStats:
    """Nothing for SQLite. `url` names the schema (?schema=...)."""
    if not url.startswith("postgresql"):
        return PgStats()
    schema = dict(parse_qsl(urlsplit(url).query))["schema"]
    return asyncio.run(_pg_stats(schema))


async def _pg_stats(schema: str) -> PgStats:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES, timeout=5)
    try:
        wal = await conn.fetchval("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')")
        found = await conn.fetch(
            "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables WHERE schemaname = $1",
            schema,
        )
        sizes = await conn.fetch(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'",
            schema,
        )
    finally:
        await conn.close()
    rows = {f"{r[0]} {op}": float(r[i]) for r in found for i, op in _OPS}
    return PgStats(float(wal), rows, {r[0]: float(r[1]) for r in sizes})


_OPS = ((1, "inserted"), (2, "updated"), (3, "deleted"))


# -- the phases --------------------------------------------------------------------------------


@dataclass
class Pool:
    """Signed requests written beforehand (not inside a measured window)."""

    path: str
    distinct: int


def signed_pool(cfg: Config, prefix: str) -> Pool:
    distinct = int(duration(cfg) * 4000) + 2000
    path = cfg.workdir / f"replicas-{prefix}.tsv"
    write_signed_pool(path, distinct, stack.SIGNING_SECRET, prefix)
    return Pool(str(path), distinct)


def signed_wrk(cfg: Config, url: str, pool: Pool) -> dict[str, float]:
    """Distinct signed updates for the run's duration; raises if any was refused or repeated."""
    assert cfg.tools.wrk is not None
    args = [pool.path, "2", "/hooks/signed"]
    result = stack.wrk(cfg.tools.wrk, url, "signed.lua", args, duration=duration(cfg))
    if result["non2xx"] or result["requests"] > pool.distinct:
        raise RuntimeError(f"{url}: {result['non2xx']} refused, {result['requests']} of {pool.distinct} sent")
    return result


def delivered_since(sink: stack.Sink, start: float) -> tuple[int, float]:
    """Notifications that arrived after `start`, and the time from `start` to the last."""
    arrivals = [t for t, _ in sink.records() if t >= start]
    return len(arrivals), (max(arrivals) - start) if arrivals else 0.0


def all_roles(cfg: Config, procs: Processes, sink: stack.Sink, backend: str, n: int, tag: str) -> Phase:
    """`relay serve --workers N` under wrk while it delivers; then until all is delivered."""
    with database(cfg, backend, f"all{n}") as url:
        relay = start_relay(procs, rules(cfg, sink), url, n, "all", f"relay-{backend}-all{n}")
        sink.reset()
        stats, pool = pg_stats(url), signed_pool(cfg, f"{tag}a{n}")
        meter, start = Meter([relay.pid], pg_port(backend)), time.monotonic()
        result = signed_wrk(cfg, relay.url, pool)
        sink.wait_for(int(result["ok"]), DRAIN_TIMEOUT)
        used = meter.read()
        count, span = delivered_since(sink, start)
        procs.stop(relay)
        end = _settled(backend, url)
    wal, rows = end.since(stats)
    return Phase(result["ok"], result["duration_us"] / 1e6, count, span, used, wal, rows, end.sizes)


def _settled(backend: str, url: str) -> PgStats:
    """The schema's counts once the relay's backends have reported them: called after the
    relay stopped, as a backend reports its counts when it ends (an idle one, only after up to
    10 s in PostgreSQL 15)."""
    if backend == "postgresql":
        time.sleep(STATS_FLUSH)
    return pg_stats(url)


def split(
    cfg: Config, procs: Processes, sink: stack.Sink, backend: str, n: int, tag: str
) -> tuple[Phase, Phase]:
    """N ingest-only processes under wrk (the outbox fills), then N deliver-only processes
    draining it, on the same database, each measured alone. The deliver-only processes start
    first (their start-up is not measured) and are held with SIGSTOP until the backlog is
    written and the ingest-only ones are stopped."""
    with database(cfg, backend, f"split{n}") as url:
        deliver = start_relay(procs, rules(cfg, sink), url, n, "deliver", f"relay-{backend}-out{n}")
        os.killpg(deliver.pid, signal.SIGSTOP)
        try:
            ingest = start_relay(procs, rules(cfg, sink), url, n, "ingest", f"relay-{backend}-in{n}")
            sink.reset()
            stats, pool = pg_stats(url), signed_pool(cfg, f"{tag}s{n}")
            meter = Meter([ingest.pid], pg_port(backend))
            result = signed_wrk(cfg, ingest.url, pool)
            took_in = meter.read()
            procs.stop(ingest)
            middle = _settled(backend, url)
        finally:
            meter, start = Meter([deliver.pid], pg_port(backend)), time.monotonic()
            os.killpg(deliver.pid, signal.SIGCONT)
        sink.wait_for(int(result["ok"]), DRAIN_TIMEOUT)
        took_out = meter.read()
        count, span = delivered_since(sink, start)
        procs.stop(deliver)
        wal_out, rows_out = _settled(backend, url).since(middle)
    wal_in, rows_in = middle.since(stats)
    return (
        Phase(result["ok"], result["duration_us"] / 1e6, used=took_in, wal=wal_in, rows=rows_in),
        Phase(delivered=count, out_s=span, used=took_out, wal=wal_out, rows=rows_out),
    )


def baseline(cfg: Config, procs: Processes, workers: int, tag: str) -> Phase:
    assert cfg.tools.wrk is not None
    url = stack.start_baseline(procs, "group", cfg.fresh(f"rep-baseline-{workers}.db"), workers=workers)
    proc = procs.started[-1]
    meter = Meter([proc.pid])
    args = ["/hooks/bench", "run", f"{tag}b{workers}"]
    result = stack.wrk(cfg.tools.wrk, url, "updates.lua", args, duration=duration(cfg))
    used = meter.read()
    procs.stop(proc)
    return Phase(result["ok"], result["duration_us"] / 1e6, used=used)


def alertmanager(cfg: Config, procs: Processes, sink: stack.Sink, tag: str) -> Phase:
    """As in the side-by-side workload: distinct alerts, each its own group, to the sink."""
    assert cfg.tools.wrk is not None
    assert cfg.tools.alertmanager is not None
    events = 3000 if cfg.quick else 10000
    am = stack.start_alertmanager(procs, cfg.tools.alertmanager, cfg.workdir, sink.url)
    proc = procs.started[-1]
    sink.reset()
    meter, start = Meter([proc.pid]), time.monotonic()
    args = ["/api/v2/alerts", "alert", f"{tag}am", str(events // 2)]
    result = stack.wrk(cfg.tools.wrk, am, "updates.lua", args, duration=120, until_done=True)
    sink.wait_for(int(result["ok"]), DRAIN_TIMEOUT)
    used = meter.read()
    count, span = delivered_since(sink, start)
    procs.stop(proc)
    return Phase(result["ok"], result["duration_us"] / 1e6, count, span, used)


def rules(cfg: Config, sink: stack.Sink) -> str:
    return str(stack.relay_rules(cfg.workdir / "replicas-rules.yaml", sink.url + "/relay"))


def duration(cfg: Config) -> float:
    return 2.0 if cfg.quick else 8.0


def counts(cfg: Config) -> list[int]:
    return [1, 2] if cfg.quick else [1, 2, 3]


def split_counts(cfg: Config) -> list[int]:
    return [1] if cfg.quick else [1, 2, 3]


def baseline_workers(cfg: Config) -> list[int]:
    return [1] if cfg.quick else [1, 2]


# -- the workload ------------------------------------------------------------------------------


def replicas(cfg: Config) -> Section:
    title = "Several processes: 1, 2 and 3 relay processes on SQLite and PostgreSQL"
    if cfg.tools.wrk is None:
        return skipped("replicas", title, f"replicas: {cfg.tools.missing('wrk')}")
    results = Results()
    load_before = os.getloadavg()
    backends = BACKENDS
    if problem := postgres_problem():
        results.problems.append(problem)
        backends = BACKENDS[:1]
    for rep in range(1 if cfg.quick else cfg.reps):
        tag = f"r{rep}{secrets.token_hex(2)}"
        with Processes(cfg.workdir) as procs:
            sink = stack.start_sink(procs)
            for workers in baseline_workers(cfg):
                results.add(f"baseline-{workers}", baseline(cfg, procs, workers, tag))
            for backend, _ in backends:
                _measure(cfg, procs, sink, backend, tag, results)
            if cfg.tools.alertmanager:
                results.add("alertmanager", alertmanager(cfg, procs, sink, tag))
    section = _section(cfg, title, results, [b for b, _ in backends])
    section.notes.append(
        "The machine's load average (1, 5, 15 min) before this workload: "
        + ", ".join(f"{v:.1f}" for v in load_before)
        + "; after: "
        + ", ".join(f"{v:.1f}" for v in os.getloadavg())
        + " (before: the machine's other work, which competed for the same 2 cores; after: this"
        " workload's own processes included)."
    )
    return section


def _measure(
    cfg: Config, procs: Processes, sink: stack.Sink, backend: str, tag: str, results: Results
) -> None:
    for n in counts(cfg):
        phase = all_roles(cfg, procs, sink, backend, n, tag)
        results.add(f"{backend}-all-{n}", phase)
        if phase.delivered < phase.accepted:
            results.problems.append(
                f"{backend}, {n} process(es): {phase.delivered:.0f} of {phase.accepted:.0f} delivered"
            )
    for n in split_counts(cfg):
        ingest, deliver = split(cfg, procs, sink, backend, n, tag)
        results.add(f"{backend}-ingest-{n}", ingest)
        results.add(f"{backend}-deliver-{n}", deliver)
        if deliver.delivered < ingest.accepted:
            results.problems.append(
                f"{backend}, {n} deliver-only process(es): {deliver.delivered:.0f}"
                f" of {ingest.accepted:.0f} delivered"
            )


# -- the table ---------------------------------------------------------------------------------

HEADERS = [
    "database",
    "processes",
    "accepted/s",
    "delivered/s",
    "relay CPU ms per update",
    "relay CPU ms per delivery",
    "PostgreSQL CPU ms per item",
    "PostgreSQL rows written, WAL KB per item",
    "busy cores (machine)",
]


def _section(cfg: Config, title: str, results: Results, backends: list[str]) -> Section:
    section = Section("replicas", title, headers=HEADERS)
    section.intro = _intro(cfg)
    names = dict(BACKENDS)
    for backend in backends:
        for n in counts(cfg):
            _row(section, results, f"{backend}-all-{n}", names[backend], _procs(n, "all roles"), "mixed")
        for n in split_counts(cfg):
            _row(section, results, f"{backend}-ingest-{n}", names[backend], _procs(n, "--role ingest"), "in")
        for n in split_counts(cfg):
            label = _procs(n, "--role deliver") + ", from the backlog"
            _row(section, results, f"{backend}-deliver-{n}", names[backend], label, "out")
    for workers in baseline_workers(cfg):
        label = f"{workers} worker(s), one row per request"
        _row(section, results, f"baseline-{workers}", "group-commit baseline (SQLite)", label, "in")
    if "alertmanager" in results.phases:
        _row(section, results, "alertmanager", "Alertmanager (in memory)", "1 (Go, all cores)", "mixed")
    section.notes += results.problems or ["every accepted update was delivered (counted at the sink)"]
    section.notes += _derived(section.numbers, backends) + _rows_by_table(section.numbers)
    n = section.numbers
    section.summary = "replicas: " + "; ".join(
        f"{b} all roles 1/{max(counts(cfg))} processes: {n.get(f'{b}-all-1-in', 0):,.0f}"
        f"/{n.get(f'{b}-all-{max(counts(cfg))}-in', 0):,.0f} accepted/s"
        for b in backends
    )
    return section


def _procs(n: int, role: str) -> str:
    return f"{n} ({role})" if n == 1 else f"{n} (--workers {n}, {role})"


def _row(section: Section, results: Results, key: str, db: str, label: str, kind: str) -> None:
    phases = results.phases.get(key, [])
    if not phases:
        return
    ins = [p.rate_in() for p in phases]
    outs = [p.rate_out() for p in phases]
    relay_in = [p.ms_per(p.used.relay, p.accepted) for p in phases if p.used]
    relay_out = [p.ms_per(p.used.relay, p.delivered) for p in phases if p.used]
    items = [p.accepted if kind != "out" else p.delivered for p in phases]
    pg = [p.ms_per(p.used.postgres, i) for p, i in zip(phases, items, strict=True) if p.used]
    busy = [p.used.busy_cores for p in phases if p.used]
    rows = [sum(p.rows.values()) / i if i else float("nan") for p, i in zip(phases, items, strict=True)]
    wal = [p.wal / 1024 / i if i else float("nan") for p, i in zip(phases, items, strict=True)]
    dash = "-"
    with_delivery = " (with its delivery)" if kind == "mixed" else ""
    section.rows.append(
        [
            db,
            label,
            spread(ins) if kind != "out" else dash,
            spread(outs) if kind != "in" else dash,
            spread(relay_in, 2) + with_delivery if kind != "out" else dash,
            spread(relay_out, 2) if kind == "out" else dash,
            spread(pg, 2) if db == "PostgreSQL" else dash,
            f"{spread(rows, 1)}, {spread(wal, 1)} KB" if db == "PostgreSQL" else dash,
            spread(busy, 2),
        ]
    )
    nums = section.numbers
    if kind != "out":
        nums[f"{key}-in"], nums[f"{key}-cpu-update"] = median(ins), median(relay_in)
    if kind != "in":
        nums[f"{key}-out"] = median(outs)
    if kind == "out":
        nums[f"{key}-cpu-delivery"] = median(relay_out)
    if db == "PostgreSQL":
        nums[f"{key}-pg-cpu"], nums[f"{key}-rows"], nums[f"{key}-wal"] = median(pg), median(rows), median(wal)
        for table in sorted({t for p in phases for t in p.sizes}):
            per = [p.sizes.get(table, 0.0) / p.accepted for p in phases if p.accepted]
            nums[f"{key}-bytes-{table}"] = median(per)
        for table in sorted({t for p in phases for t in p.rows}):
            per = [p.rows.get(table, 0.0) / i for p, i in zip(phases, items, strict=True) if i]
            nums[f"{key}-rows-{table}"] = median(per)
    nums[f"{key}-busy"] = median(busy)


def _intro(cfg: Config) -> str:
    return (
        f"`python -m bench.replicas` (the same as `BENCH_ONLY=replicas make bench`; bench/replicas.py)."
        f" wrk, 2 threads, 16 connections, {duration(cfg):g} s per run, signed updates (one distinct"
        " `COMPLETED` run each, one rule, one signed webhook channel, as in the ingest section), each"
        " committed with its transition and delivery before the 202. **All roles**: `relay serve`"
        " (`--workers N` for N > 1: one port, N children) ingesting while it delivers to the"
        " recording sink; delivered/s is from the first request to the last notification."
        " **--role ingest**: the same load on ingest-only processes (nothing is sent; the outbox"
        " fills); then they stop and **--role deliver** processes on the same database drain that"
        " backlog. SQLite: one file for all processes; PostgreSQL 15 on 127.0.0.1: a fresh schema"
        " per case (dropped after), pool 10 per process, synchronous_commit on. CPU: user + system"
        " seconds from /proc of every process of the relay (supervisor and children), over the"
        " measured window only, per update accepted or per delivery made; PostgreSQL: its backends"
        " serving the relay's connections (matched by client port) plus its WAL writer,"
        " checkpointer, background writer and autovacuum, per update (per delivery in the"
        " deliver-only rows). Busy cores: the whole machine's CPU over"
        " the window (wrk and the sink included; 2.0 = both cores full). Baselines in the same run:"
        " bench/baseline.py with group commit (parse, one row into SQLite), and Alertmanager fed"
        " distinct alerts as in the side-by-side section (its CPU per alert includes the delivery)."
        " docs/scaling.md turns these per-update costs into replicas, cores and disks."
    )


def _derived(n: dict[str, float], backends: list[str]) -> list[str]:
    """What the 2 cores here allow, and what more cores would give, from the CPU measured."""
    notes: list[str] = []
    for b in backends:
        best = max((k for k in n if k.startswith(f"{b}-all-") and k.endswith("-in")), key=n.get, default=None)
        ingest, deliver = n.get(f"{b}-ingest-1-cpu-update"), n.get(f"{b}-deliver-1-cpu-delivery")
        both = n.get(f"{b}-all-1-cpu-update")
        if best is None or not ingest or not deliver or not both:
            continue
        line = (
            f"{dict(BACKENDS)[b]}: on these 2 cores the best all-roles figure is {n[best]:,.0f}"
            f" accepted/s ({best.split('-')[2]} process(es)), sharing them with wrk"
            f"{', the sink and PostgreSQL' if b == 'postgresql' else ' and the sink'}. A relay process"
            f" spends {both:.2f} ms of CPU per update with its delivery when it does both (all"
            f" roles, 1 process), {ingest:.2f} ms per update ingested and {deliver:.2f} ms per"
            f" delivery when split: one core carries ~{1000 / both:,.0f} updates/s end to end"
            f" (~{1000 / ingest:,.0f}/s of ingest alone, ~{1000 / deliver:,.0f}/s of delivery alone)."
        )
        pg = n.get(f"{b}-all-1-pg-cpu")
        if b == "postgresql" and pg is not None:
            line += (
                f" PostgreSQL spends another {pg:.2f} ms per update with its delivery. So C cores of"
                f" relay processes give ~C x {1000 / both:,.0f} updates/s while PostgreSQL keeps up"
                f" (~{pg / both:.1f} PostgreSQL core per relay core); 10,000 updates/s would take"
                f" ~{10 * both:.0f} relay cores and ~{10 * pg:.0f} PostgreSQL cores (CPU only; WAL,"
                " disk and connections in docs/scaling.md)."
            )
        else:
            line += (
                " More processes on one SQLite file do not add write capacity: every commit takes"
                " the file's one write lock (compare the 1, 2 and 3 rows)."
            )
        notes.append(line)
    return notes


def _rows_by_table(n: dict[str, float]) -> list[str]:
    """Which rows PostgreSQL writes for one update and for one delivery (1 process)."""
    notes = []
    for key, what in (("postgresql-ingest-1", "update (ingest)"), ("postgresql-deliver-1", "delivery")):
        prefix = f"{key}-rows-"
        parts = [f"{k[len(prefix) :]} {v:.2f}" for k, v in sorted(n.items()) if k.startswith(prefix) and v]
        if parts:
            notes.append(
                f"PostgreSQL rows written per {what}, from pg_stat_user_tables: {', '.join(parts)};"
                f" WAL {n.get(f'{key}-wal', float('nan')):.1f} KB (the whole server's WAL position,"
                " so other work on the machine counts too)."
            )
    prefix = "postgresql-all-1-bytes-"
    sizes = {k[len(prefix) :]: v for k, v in n.items() if k.startswith(prefix) and v >= 100}
    if sizes:
        parts = ", ".join(f"{t} {v:,.0f}" for t, v in sorted(sizes.items(), key=lambda kv: -kv[1]))
        notes.append(
            f"PostgreSQL storage per update delivered (all roles, 1 process; tables with their"
            f" indexes and TOAST, before any vacuum): {sum(sizes.values()) / 1024:.1f} KB, in bytes:"
            f" {parts}."
        )
    return notes


def main() -> int:
    """`python -m bench.replicas`: the harness with only this workload, then its table."""
    os.environ.setdefault("BENCH_ONLY", "replicas")
    from bench.run import main as run
    from bench.run import output

    code = run()
    text = output().read_text()
    start = text.find("## Several processes")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        print(text[start : end if end >= 0 else None])
    return code


if __name__ == "__main__":
    sys.exit(main())
