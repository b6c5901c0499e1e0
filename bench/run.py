"""`make bench`: run every workload, print one line each, write docs/benchmarks.md.

Environment:
  BENCH_QUICK=1        the reduced version (under a minute); writes bench/results/quick.md
  BENCH_ONLY=a,b       only these workloads (matching, polling, transport, delivery, latency,
                       ingest, alertmanager, footprint, replicas)
  BENCH_REPS=N         runs per measurement (default 3; quick: 1)
  BENCH_OUT=FILE       where the markdown goes; BENCH_JSON=FILE where the raw numbers go
  BENCH_TOOLS=none     act as if wrk and Alertmanager were missing (their workloads say so)
  BENCH_INSTALL=0      never apt-get install a missing tool, only report it
  BENCH_RELAY_SRC=DIR  run `relay serve` from another checkout (e.g. `git archive` of an older
                       commit), to measure "before"; BENCH_BEFORE=FILE: a JSON written by such a
                       run, shown as a before/after table next to this run's numbers
                       (default: bench/before.json, measured at the commit before the speed work)
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench import http_workloads as hw
from bench import local_workloads as lw
from bench.batches import batches
from bench.procs import ROOT
from bench.replicas import replicas
from bench.report import Section
from bench.tools import Tools, can_install, ensure

WORKLOADS: list[tuple[str, str, Callable[[hw.Config], Section]]] = [
    ("ingest", "Ingest", hw.ingest),
    ("latency", "End-to-end latency", hw.latency),
    ("delivery", "Delivery throughput", hw.delivery),
    ("alertmanager", "Side by side with Alertmanager", hw.side_by_side),
    ("batches", "Batches", batches),
    ("polling", "Polling", lw.polling),
    ("matching", "Rule matching", lw.matching),
    ("footprint", "Footprint", lw.footprint),
    ("transport", "Delivery transport", lw.transport),
    ("replicas", "Several processes", replicas),
]

KEPT = " Sections of workloads not in BENCH_ONLY are kept from the run before."
# (section, number, label, unit, better): the numbers the before/after table compares
COMPARED = [
    ("ingest", "relay-signed-1", "ingest, signed, 1 worker", "/s", "higher"),
    ("ingest", "relay-unsigned-1", "ingest, unsigned, 1 worker", "/s", "higher"),
    ("ingest", "relay-signed-2", "ingest, signed, 2 workers", "/s", "higher"),
    ("latency", "relay-100-p50", "end-to-end p50 at 100/s", " ms", "lower"),
    ("latency", "relay-100-p99", "end-to-end p99 at 100/s", " ms", "lower"),
    ("latency", "relay-1000-p50", "end-to-end p50 at 1,000/s", " ms", "lower"),
    ("latency", "relay-1000-p99", "end-to-end p99 at 1,000/s", " ms", "lower"),
    ("delivery", "webhook", "deliveries/s, webhook", "/s", "higher"),
    ("delivery", "webhook-500", "deliveries/s, webhook, 10% 500s", "/s", "higher"),
    ("delivery", "apprise", "deliveries/s, apprise", "/s", "higher"),
    ("batches", "many", "runs/s in 200-run bodies", "/s", "higher"),
    ("batches", "ratio", "200-run bodies vs one run per request", "x", "higher"),
    ("polling", "ms", "time per poll cycle", " ms", "lower"),
    ("footprint", "idle", "RSS with the stored runs", " MB", "lower"),
]


def main() -> int:
    quick = os.environ.get("BENCH_QUICK") == "1"
    only = {w for w in os.environ.get("BENCH_ONLY", "").split(",") if w}
    reps = int(os.environ.get("BENCH_REPS", "1" if quick else "3"))
    out = output()
    raw = Path(os.environ.get("BENCH_JSON", out.with_suffix(".json")))
    src = os.environ.get("BENCH_RELAY_SRC")
    if os.environ.get("BENCH_TOOLS") == "none":
        tools = Tools(None, None, ["BENCH_TOOLS=none: wrk and Alertmanager treated as missing"])
    else:
        tools = ensure(install=can_install())
    for note in tools.notes:
        print(f"bench: {note}", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="relay-bench-"))
    cfg = hw.Config(quick, reps, workdir, tools, Path(src).resolve() if src else None)
    started = time.monotonic()
    sections: list[Section] = []
    failed = False
    try:
        for key, title, run in WORKLOADS:
            if only and key not in only:
                continue
            t0 = time.monotonic()
            try:
                section = run(cfg)
            except Exception as exc:
                failed = True
                traceback.print_exc()
                section = Section(key, title, summary=f"{key}: FAILED: {type(exc).__name__}: {exc}")
                section.notes.append(section.summary)
            sections.append(section)
            print(f"{section.summary}  [{time.monotonic() - t0:.0f} s]", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.monotonic() - started
    if only:  # the other workloads' sections from the last run that wrote this file
        sections = _kept(raw, only, sections)
    before = _before()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(_document(sections, cfg, elapsed, before))
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_text(json.dumps(_numbers(sections, cfg), indent=1) + "\n")
    print(f"bench: wrote {_shown(out)} in {elapsed:.0f} s", flush=True)
    return 1 if failed else 0


def output() -> Path:
    """Where the markdown goes (BENCH_OUT, or by BENCH_QUICK)."""
    quick = os.environ.get("BENCH_QUICK") == "1"
    default_out = ROOT / ("bench/results/quick.md" if quick else "docs/benchmarks.md")
    return Path(os.environ.get("BENCH_OUT", default_out))


def _numbers(sections: list[Section], cfg: hw.Config) -> dict[str, object]:
    return {
        "commit": _git("rev-parse", "HEAD", cwd=cfg.relay_src or ROOT)
        if not cfg.relay_src
        else _src_commit(cfg),
        "quick": cfg.quick,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "sections": {s.key: s.numbers for s in sections},
        "markdown": {s.key: s.markdown() for s in sections},
        "summaries": {s.key: s.summary for s in sections},
    }


def _kept(raw: Path, only: set[str], fresh: list[Section]) -> list[Section]:
    if not raw.exists():
        return fresh
    old = json.loads(raw.read_text())
    by_key = {s.key: s for s in fresh}
    for key, title, _ in WORKLOADS:
        if key not in only and key in old.get("sections", {}):
            text = old.get("markdown", {}).get(key) or f"## {title}\n\n(numbers only, from {raw.name})\n"
            summary = old.get("summaries", {}).get(key, "")
            by_key[key] = Section(key, title, numbers=old["sections"][key], text=text, summary=summary)
    return [by_key[k] for k, _, _ in WORKLOADS if k in by_key]


def _src_commit(cfg: hw.Config) -> str:
    marker = (cfg.relay_src or ROOT) / "COMMIT"
    return marker.read_text().strip() if marker.exists() else str(cfg.relay_src)


def _before() -> dict[str, object] | None:
    path = os.environ.get("BENCH_BEFORE", str(ROOT / "bench" / "before.json"))
    if not path or not Path(path).exists() or os.environ.get("BENCH_RELAY_SRC"):
        return None
    data: dict[str, object] = json.loads(Path(path).read_text())
    return data


def _document(
    sections: list[Section], cfg: hw.Config, elapsed: float, before: dict[str, object] | None
) -> str:
    command = "BENCH_QUICK=1 make bench" if cfg.quick else "make bench"
    if os.environ.get("BENCH_ONLY"):
        command = f"BENCH_ONLY={os.environ['BENCH_ONLY']} {command}"
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `{command}` (bench/run.py) on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
        f" in {elapsed:.0f} s, relay at commit `{_git('rev-parse', '--short', 'HEAD')}`"
        f"{' plus uncommitted changes' if _dirty() else ''}."
        f"{KEPT if os.environ.get('BENCH_ONLY') else ''}"
        " Everything runs on 127.0.0.1 and is started and stopped by the script. Figures are"
        f" medians of {cfg.reps} run(s) with [min-max]; each ratio is against a baseline measured in"
        " the same run.",
        "",
        "## Machine",
        "",
        *[f"- {item}" for item in _machine(cfg)],
        "",
    ]
    lines += [_targets(sections), ""]
    if before is not None:
        lines += [_before_after(sections, before), ""]
    lines += [s.markdown() for s in sections]
    notes = ROOT / "bench" / "NOTES.md"
    if notes.exists() and not cfg.quick:
        lines += [notes.read_text()]
    return "\n".join(lines).rstrip() + "\n"


Target = tuple[str, str, bool]


def _targets(sections: list[Section]) -> str:
    """Each target of issue 3 against this run's numbers: met or missed, and by how much."""
    n = {s.key: s.numbers for s in sections}

    def get(section: str, key: str) -> float | None:
        value = n.get(section, {}).get(key)
        return None if value is None or value != value else value

    rows = _ingest_targets(get) + _latency_targets(get) + _other_targets(get)
    table = ["## Targets", "", "| target | measured | |", "| --- | --- | --- |"]
    table += [f"| {t} | {m} | {'met' if ok else 'MISSED'} |" for t, m, ok in rows]
    return "\n".join(table)


Get = Callable[[str, str], float | None]


def _ingest_targets(get: Get) -> list[Target]:
    rows: list[Target] = []
    relay, base = get("ingest", "relay-signed-1"), get("ingest", "baseline-group-1")
    am_in = get("alertmanager", "alertmanager-in")
    if relay and base:
        rows.append(
            (
                "ingest (signed, durable) >= 70% of the group-commit baseline",
                f"{relay / base:.0%}",
                relay >= 0.7 * base,
            )
        )
    if relay and am_in:
        rows.append(("ingest > Alertmanager's accepted/s", f"{relay:,.0f} vs {am_in:,.0f}/s", relay > am_in))
    return rows


def _latency_targets(get: Get) -> list[Target]:
    rows: list[Target] = []
    for rate in (100, 1000, 5000):
        p50 = get("latency", f"relay-{rate}-p50")
        if p50 is not None:
            rows.append((f"end-to-end p50 <= 5 ms at {rate:,}/s", f"{p50:.1f} ms", p50 <= 5))
        p99, am99 = get("latency", f"relay-{rate}-p99"), get("latency", f"alertmanager-{rate}-p99")
        if p99 is not None and am99 is not None:
            rows.append(
                (
                    f"end-to-end p99 <= Alertmanager's at {rate:,}/s",
                    f"{p99:.1f} vs {am99:.1f} ms",
                    p99 <= am99,
                )
            )
    return rows


def _other_targets(get: Get) -> list[Target]:
    rows: list[Target] = []
    out, am_out = get("delivery", "webhook"), get("alertmanager", "alertmanager-out")
    if out and am_out:
        rows.append(
            (
                "deliveries/s to a webhook >= Alertmanager's delivered/s",
                f"{out:,.0f} vs {am_out:,.0f}/s",
                out >= am_out,
            )
        )
    rows += _issue13_targets(get)
    calls = get("polling", "requests")
    if calls is not None:
        rows.append(
            (
                "polling: 1 list per page + 1 per run turned terminal (1 + 50)",
                f"{calls:.0f} per cycle",
                calls <= 51,
            )
        )
    match = get("matching", "index-1000")
    if match is not None:
        rows.append(("rule matching < 20 us per transition at 1,000 rules", f"{match:.1f} us", match < 20))
    idle, growth = get("footprint", "idle"), get("footprint", "growth")
    if idle is not None:
        rows.append(("RSS < 150 MB with the stored runs", f"{idle:.0f} MB", idle < 150))
    if growth is not None:
        rows.append(("RSS flat under sustained traffic (< 20 MB growth)", f"{growth:+.0f} MB", growth < 20))
    return rows


def _issue13_targets(get: Get) -> list[Target]:
    """Issue 13's rows: batches, the side-by-side finish and the poll cycle's time."""
    rows: list[Target] = []
    ratio, many = get("batches", "ratio"), get("batches", "many")
    if ratio is not None and many is not None:
        rows.append(("200-run bodies >= 10x one run per request", f"{ratio:.1f}x", ratio >= 10))
        rows.append(("200-run bodies >= 5,000 runs/s", f"{many:,.0f} runs/s", many >= 5000))
    last, am_last = get("alertmanager", "relay-last"), get("alertmanager", "alertmanager-last")
    if last is not None and am_last is not None:
        rows.append(
            (
                "side by side: last notification no later than Alertmanager's",
                f"{last:.2f} vs {am_last:.2f} s",
                last <= am_last,
            )
        )
    cycle = get("polling", "ms")
    if cycle is not None:
        rows.append(("polling: one cycle (1 list + 50 by id) <= 150 ms", f"{cycle:.0f} ms", cycle <= 150))
    return rows


def _before_after(sections: list[Section], before: dict[str, object]) -> str:
    now = {s.key: s.numbers for s in sections}
    old = before.get("sections", {})
    assert isinstance(old, dict)
    rows = [
        "## Before and after the speed work",
        "",
        f"Before: `relay serve` from commit `{str(before.get('commit', '?'))[:7]}` (the tree this work"
        f" started from, measured {before.get('date', '?')} with BENCH_RELAY_SRC, same machine, same"
        " bench); after: this run.",
        "",
        "| measure | before | after | change |",
        "| --- | --- | --- | --- |",
    ]
    for section, key, label, unit, better in COMPARED:
        a, b = old.get(section, {}).get(key), now.get(section, {}).get(key)
        if a is None or b is None or a != a or b != b:
            continue
        factor = (b / a if better == "higher" else a / b) if a and b else float("nan")
        rows.append(
            f"| {label} | {a:,.1f}{unit} | {b:,.1f}{unit} |"
            f" {factor:.1f}x {'better' if factor >= 1 else 'worse'} |"
        )
    return "\n".join(rows)


def _machine(cfg: hw.Config) -> list[str]:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = Path("/proc/meminfo").read_text().split("\n", 1)[0].split()[1]
    return [
        f"{os.cpu_count()} cores ({cpu}), {int(mem) / 1024 / 1024:.0f} GiB memory,"
        f" {platform.system()} {platform.release()}",
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, {_versions()}",
        f"wrk: {cfg.tools.wrk or 'missing'}; Alertmanager: {_am_version(cfg.tools.alertmanager)}",
        "load generators, sinks, peers and the relay share the 2 cores (nothing is pinned); the machine"
        " may carry other work (another engineer's test runs), which is why every figure is a median",
    ]


def _versions() -> str:
    from importlib.metadata import version

    names = ["uvicorn", "httptools", "uvloop", "starlette", "aiohttp", "httpx2", "apprise"]
    return ", ".join(f"{n} {version(n)}" for n in names)


def _am_version(binary: str | None) -> str:
    if binary is None:
        return "missing"
    done = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    return (done.stdout or done.stderr).split("\n", 1)[0].strip()


def _git(*args: str, cwd: Path = ROOT) -> str:
    done = subprocess.run(["git", *args], capture_output=True, text=True, cwd=cwd, check=False)
    return done.stdout.strip() or "unknown"


def _dirty() -> bool:
    return bool(_git("status", "--porcelain", "--", "relay", "bench") != "unknown")


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
