"""The machine's tools the bench needs: wrk and Prometheus Alertmanager (Debian packages).

`ensure()` installs what is missing with apt-get when it can (root, apt-get present, and
BENCH_INSTALL is not "0"), and otherwise says exactly what is missing; workloads that need a
missing tool report "not installed: apt-get install ..." in their line instead of failing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

PACKAGES = {"wrk": "wrk", "alertmanager": "prometheus-alertmanager"}
BINARIES = {"wrk": ("wrk",), "alertmanager": ("prometheus-alertmanager", "alertmanager")}


@dataclass
class Tools:
    wrk: str | None
    alertmanager: str | None
    notes: list[str]

    def missing(self, tool: str) -> str:
        return f"not installed: apt-get install {PACKAGES[tool]}"


def find(tool: str) -> str | None:
    for name in BINARIES[tool]:
        if path := shutil.which(name):
            return path
    return None


def ensure(install: bool) -> Tools:
    notes: list[str] = []
    missing = [t for t in PACKAGES if find(t) is None]
    if missing and install:
        notes += _apt_install([PACKAGES[t] for t in missing])
    tools = Tools(find("wrk"), find("alertmanager"), notes)
    for tool in PACKAGES:
        if find(tool) is None:
            notes.append(f"{tool}: {tools.missing(tool)} (workloads that need it are skipped)")
    return tools


def can_install() -> bool:
    return (
        os.environ.get("BENCH_INSTALL", "1") != "0"
        and shutil.which("apt-get") is not None
        and hasattr(os, "geteuid")
        and os.geteuid() == 0
    )


def _apt_install(packages: list[str]) -> list[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print(f"bench: installing {' '.join(packages)} with apt-get ...", flush=True)
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages]):
        try:
            done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return [f"{' '.join(argv)} failed: {exc}"]
        if done.returncode != 0:
            return [f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()[-300:]}"]
    return []
