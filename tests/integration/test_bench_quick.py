"""`BENCH_QUICK=1 make bench` runs and produces its tables (benchmarks are never timed
assertions here: this checks the bench works, not how fast anything is).

Runs the Python-only workloads with wrk and Alertmanager treated as missing, as on a machine
where only the repository's own files were installed: their workloads must say so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKLOADS = ["ingest", "delivery", "alertmanager", "polling", "matching", "replicas"]


def test_quick_bench_prints_a_line_per_workload_and_writes_its_tables(tmp_path: Path) -> None:
    out, raw = tmp_path / "benchmarks.md", tmp_path / "benchmarks.json"
    env = {
        **os.environ,
        "BENCH_QUICK": "1",
        "BENCH_TOOLS": "none",
        "BENCH_ONLY": ",".join(WORKLOADS),
        "BENCH_OUT": str(out),
        "BENCH_JSON": str(raw),
    }
    done = subprocess.run(
        [sys.executable, "-m", "bench"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if not line.startswith("bench:")]
    assert [line.split(":", 1)[0].split()[0] for line in lines] == WORKLOADS
    assert "not installed: apt-get install wrk" in lines[0]
    assert "not installed: apt-get install prometheus-alertmanager" in lines[2]
    assert "transitions found 100 of 100" in lines[3]
    assert "not installed: apt-get install wrk" in lines[5]
    text = out.read_text()
    for header in (
        "| channel | deliveries/s |",
        "| measure | per cycle |",
        "| rules | full scan us | index us |",
    ):
        assert header in text
    numbers = json.loads(raw.read_text())["sections"]
    assert numbers["delivery"]["webhook"] > 0
    assert numbers["matching"]["index-1000"] > 0
