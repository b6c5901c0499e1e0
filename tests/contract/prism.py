"""Stoplight Prism, an OpenAPI mock server: `prism mock -d` answers every request with a random
response that is valid for the document, and rejects requests the document does not allow.
Installed with npm on first use (the npm registry is reachable here and in CI); a failed
install fails the test that needs it, never skips it."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.fakes.sinks import free_port

SPECS = Path(__file__).resolve().parent / "specs"  # copies of the platforms' documents
PRISM_PACKAGE = "@stoplight/prism-cli@5"
PRISM_DIR = Path(tempfile.gettempdir()) / "run-relay-prism"
INSTALL_TIMEOUT = 240.0
START_TIMEOUT = 60.0


def seed(name: str) -> Path:
    spec = SPECS / name
    if not spec.is_file():
        pytest.fail(f"{spec} is missing")
    return spec


def prism_binary() -> Path:
    """The Prism CLI, installed into PRISM_DIR with npm when missing (one install at a time)."""
    binary = PRISM_DIR / "node_modules" / ".bin" / "prism"
    if binary.exists():
        return binary
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is not on PATH: the OpenAPI contract tests install Stoplight Prism with it")
    PRISM_DIR.mkdir(parents=True, exist_ok=True)
    with open(PRISM_DIR / ".install-lock", "w") as lock:
        deadline = time.monotonic() + INSTALL_TIMEOUT
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"another process held {lock.name} for {INSTALL_TIMEOUT:g}s")
                time.sleep(0.5)
        if not binary.exists():
            _npm_install(npm)
    return binary


def _npm_install(npm: str) -> None:
    command = [npm, "install", "--prefix", str(PRISM_DIR), "--no-audit", "--no-fund", "--loglevel=error"]
    try:
        done = subprocess.run(
            [*command, PRISM_PACKAGE], capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"npm install {PRISM_PACKAGE} took longer than {INSTALL_TIMEOUT:g}s")
    if done.returncode != 0 or not (PRISM_DIR / "node_modules" / ".bin" / "prism").exists():
        pytest.fail(f"npm install {PRISM_PACKAGE} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")


@contextmanager
def prism_mock(spec: Path, log_dir: Path) -> Iterator[str]:
    """Prism serving `spec` on a free loopback port; stopped on exit. Yields its base URL."""
    binary = prism_binary()
    port = free_port()
    log_path = log_dir / "prism.log"
    with open(log_path, "w") as out:
        command = [str(binary), "mock", "-d", "-h", "127.0.0.1", "-p", str(port), str(spec)]
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            _wait_listening(proc, port, log_path)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def _wait_listening(proc: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while "Prism is listening" not in log_path.read_text():
        if proc.poll() is not None:
            pytest.fail(f"prism exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"prism did not listen on port {port} within {START_TIMEOUT:g}s")
        time.sleep(0.1)
