"""The things a workload starts: the sink, the relay, the baseline, Alertmanager, and wrk.

Every server listens on 127.0.0.1 only and is started through `Processes`, which stops it.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.procs import PY, ROOT, Proc, Processes, free_port, get_json

SIGNING_SECRET = "whsec_" + "YmVuY2gtc2lnbmluZy1zZWNyZXQtMDEyMzQ1Njc4OQ=="
OUTBOUND_SECRET = "whsec_" + "YmVuY2gtb3V0Ym91bmQtc2VjcmV0LTAxMjM0NTY3ODk="
LOG_LEVEL = "WARNING"
WORKERS_SETTLE = 2.0  # seconds for every uvicorn worker to finish its startup


@dataclass
class Sink:
    proc: Proc
    url: str

    def count(self) -> dict[str, int]:
        data: dict[str, int] = get_json(f"{self.url}/_count")
        return data

    def records(self) -> list[tuple[float, str]]:
        return [(t, i) for t, i in get_json(f"{self.url}/_records", timeout=60)["records"]]

    def reset(self) -> None:
        get_json(f"{self.url}/_reset")

    def wait_for(self, count: int, timeout: float) -> float | None:
        """Bounded wait until `count` messages arrived: seconds waited, or None on time-out."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.count()["received"] >= count:
                return time.monotonic() - start
            time.sleep(0.02)
        return None


def start_sink(procs: Processes) -> Sink:
    port = free_port()
    proc = procs.start("sink", [PY, "-m", "bench.sink", "--port", str(port)], port=port)
    return Sink(proc, f"http://127.0.0.1:{port}")


def relay_rules(path: Path, channel: str, *, concurrency: int = 16, rules: int = 1) -> Path:
    """A rules file: source `bench` (unsigned, loopback only), source `signed` (Standard
    Webhooks), one channel `out` (`channel` is a URL: http(s) -> signed webhook, else apprise)."""
    if channel.startswith("http"):
        out = f"{{kind: webhook, url: '{channel}', secret: '{OUTBOUND_SECRET}'}}"
    else:
        out = f"'{channel}'"
    extra = "".join(
        f"  - name: other-{n}\n    match: {{task: other-task-{n}, status: FAILED}}\n    notify: [out]\n"
        for n in range(rules - 1)
    )
    path.write_text(
        "sources:\n"
        "  bench: {kind: recoup, base_url: 'http://127.0.0.1:9/api'}\n"
        "  signed: {kind: recoup, base_url: 'http://127.0.0.1:9/api',"
        f" webhook_secret: '{SIGNING_SECRET}'}}\n"
        f"channels:\n  out: {out}\n"
        "rules:\n"
        "  - name: done\n    match: {phase: succeeded}\n    notify: [out]\n"
        f"{extra}"
        f"delivery: {{concurrency: {concurrency}, quick_wait: 200ms, timeout: 10s}}\n"
    )
    return path


def start_relay(
    procs: Processes,
    rules: Path,
    db: Path,
    *,
    workers: int = 1,
    src: Path | None = None,
    deliver: bool = True,
    name: str = "relay",
) -> Proc:
    """`relay serve` from this checkout; 2+ workers, or no delivery: uvicorn over the same app
    (bench/relay_asgi.py: `relay serve` has no --workers option, and always delivers)."""
    port = free_port()
    env = {"RELAY_LOG_LEVEL": LOG_LEVEL, "RELAY_CONFIG": str(rules), "RELAY_DATABASE_URL": f"sqlite:///{db}"}
    if not deliver:
        env["BENCH_DELIVER"] = "0"
    if workers == 1 and deliver:
        argv = [PY, "-m", "relay.cli", "serve", "--port", str(port)]
    else:
        argv = [PY, "-m", "uvicorn", "--factory", "bench.relay_asgi:app", "--host", "127.0.0.1"]
        argv += ["--port", str(port), "--workers", str(workers), "--no-access-log", "--log-level", "warning"]
    if src is not None:  # another checkout's relay package (before/after), this one's bench
        env["PYTHONPATH"] = f"{src}:{ROOT}"
    proc = procs.start(name, argv, env=env, port=port, health="/healthz", timeout=30, cwd=src)
    if workers > 1:
        time.sleep(WORKERS_SETTLE)  # one worker answering does not mean all are serving
    return proc


def start_baseline(procs: Processes, mode: str, db: Path, *, workers: int = 1) -> str:
    port = free_port()
    argv = [PY, "-m", "uvicorn", "bench.baseline:app", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--workers", str(workers), "--no-access-log", "--log-level", "warning"]
    procs.start(
        f"baseline-{mode}-{workers}",
        argv,
        env={"BASELINE_MODE": mode, "BASELINE_DB": str(db)},
        port=port,
        timeout=30,
    )
    if workers > 1:
        time.sleep(WORKERS_SETTLE)
    return f"http://127.0.0.1:{port}"


def start_alertmanager(procs: Processes, binary: str, workdir: Path, sink_url: str) -> str:
    """One route, every alert its own group (group_by: ['...']), group_wait 0s (the smallest
    it accepts), a webhook receiver; no clustering (it would listen beyond loopback)."""
    port = free_port()
    config = workdir / "alertmanager.yml"
    config.write_text(
        "route:\n  receiver: sink\n  group_by: ['...']\n  group_wait: 0s\n"
        "  group_interval: 1m\n  repeat_interval: 24h\n"
        f"receivers:\n  - name: sink\n    webhook_configs:\n      - url: '{sink_url}/alertmanager'\n"
        "        send_resolved: false\n"
    )
    storage = workdir / f"am-data-{port}"
    storage.mkdir()
    argv = [
        binary,
        f"--config.file={config}",
        f"--storage.path={storage}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        "--log.level=warn",
    ]
    procs.start("alertmanager", argv, port=port, health="/-/ready", timeout=30)
    return f"http://127.0.0.1:{port}"


WRK_LINE = re.compile(r"^WRKJSON (\{.*\})$", re.M)


def wrk(
    binary: str,
    url: str,
    script: str,
    args: list[str],
    *,
    duration: float,
    threads: int = 2,
    connections: int = 16,
    until_done: bool = False,
) -> dict[str, Any]:
    """Run wrk; `until_done`: its script stops each thread after a fixed count, and wrk is
    interrupted as soon as all have stopped (it then reports the real elapsed time)."""
    argv = [binary, f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", "--timeout", "10s"]
    argv += ["-s", str(ROOT / "bench" / "wrk" / script), url, "--", *args]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if until_done:
        _interrupt_when_threads_end(proc, duration)
    try:
        stdout, stderr = proc.communicate(timeout=duration + 60)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
    found = WRK_LINE.search(stdout)
    if proc.returncode != 0 or not found:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {stdout[-500:]} {stderr[-500:]}")
    result: dict[str, Any] = json.loads(found.group(1))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["ok"] = result["requests"] - result["non2xx"]
    return result


def _interrupt_when_threads_end(proc: subprocess.Popen[str], duration: float) -> None:
    tasks = Path(f"/proc/{proc.pid}/task")
    deadline = time.monotonic() + duration
    started = False
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            count = len(list(tasks.iterdir()))
        except OSError:
            return
        if count > 1:
            started = True
        elif started:  # only the main thread is left: every worker thread met its count
            proc.send_signal(signal.SIGINT)
            return
        time.sleep(0.005)
