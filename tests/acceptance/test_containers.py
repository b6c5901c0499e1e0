"""The container files, checked without Docker (none runs here): the Dockerfile's layers and
HEALTHCHECK (run for real against a `relay serve` process), docker-compose.yml's services,
ports and health checks (parsed with PyYAML), nginx's upstreams, and .env.example's list."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.acceptance.harness import ROOT, relay_process
from tests.fakes.sinks import free_port

REPLICAS = ("relay-1", "relay-2", "relay-3")


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def dockerfile() -> list[str]:
    """Instructions, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def healthcheck_argv() -> list[str]:
    (line,) = [i for i in dockerfile() if i.startswith("HEALTHCHECK")]
    argv: list[str] = json.loads(line.split(" CMD ", 1)[1])
    return argv


def test_the_dependency_layer_comes_before_the_code() -> None:
    steps = dockerfile()
    index = {step: n for n, step in enumerate(steps)}
    deps = next(n for s, n in index.items() if s.startswith("RUN") and "pip install" in s and "-r " in s)
    assert steps[deps - 1] == "COPY pyproject.toml ./"  # nothing but the dependency list before it
    code = index["COPY relay ./relay"]
    assert deps < code
    assert "--no-deps" in next(s for s in steps[code:] if "pip install" in s)


def test_the_healthcheck_follows_relay_port(tmp_path: Path) -> None:
    argv = [sys.executable if a == "python" else a for a in healthcheck_argv()]
    assert "RELAY_PORT" in argv[-1]
    config = tmp_path / "rules.yaml"
    config.write_text("channels: {}\nrules: []\n")
    with relay_process(config, tmp_path / "relay.db") as relay:
        port = relay.url.rsplit(":", 1)[1]
        healthy = subprocess.run(argv, env={"RELAY_PORT": port}, capture_output=True, timeout=10)
        assert healthy.returncode == 0, healthy.stderr
        elsewhere = subprocess.run(
            argv, env={"RELAY_PORT": str(free_port())}, capture_output=True, timeout=10
        )
        assert elsewhere.returncode != 0
    # docker-compose.yml's replicas run the same check
    assert compose()["services"]["relay-1"]["healthcheck"]["test"] == ["CMD", *healthcheck_argv()]


def test_compose_runs_postgres_and_three_replicas_behind_one_port() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "nginx", *REPLICAS}
    assert services["postgres"]["image"] == "postgres:15"
    published = {name: s["ports"] for name, s in services.items() if "ports" in s}
    assert published == {"nginx": ["8080:8080"]}  # one port; the replicas are reached through it
    for name, service in services.items():
        assert service["healthcheck"]["test"], name
    ids = set()
    for name in REPLICAS:
        replica = services[name]
        env = replica["environment"]
        assert replica["build"] == "."
        assert env["RELAY_DATABASE_URL"].startswith("postgresql://relay:")
        assert env["RELAY_DATABASE_URL"].endswith("@postgres:5432/relay")
        assert env["RELAY_PORT"] == "8080" and env["RELAY_HOST"] == "0.0.0.0"
        assert replica["depends_on"]["postgres"]["condition"] == "service_healthy"
        ids.add(env["RELAY_REPLICA_ID"])
    assert ids == set(REPLICAS)  # each replica's claims and leases under its own name
    mounted = services["nginx"]["volumes"][0].split(":")
    assert (ROOT / mounted[0]).is_file() and mounted[1] == "/etc/nginx/nginx.conf"


def test_nginx_balances_over_the_three_replicas_on_the_published_port() -> None:
    conf = (ROOT / "deploy/nginx.conf").read_text()
    assert re.findall(r"^\s*server (relay-\d):8080\b", conf, re.MULTILINE) == list(REPLICAS)
    assert re.search(r"^\s*listen 8080;", conf, re.MULTILINE)
    assert "proxy_pass http://relay;" in conf


def test_env_example_lists_every_relay_variable_the_code_reads() -> None:
    read = {
        m
        for path in (ROOT / "relay").rglob("*.py")
        for m in re.findall(r"\bRELAY_[A-Z_]+\b", path.read_text())
    }
    listed = set(re.findall(r"^#? ?(RELAY_[A-Z_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert read - listed == set()
    assert {"RELAY_PORT", "RELAY_DATABASE_URL", "RELAY_LOG_FORMAT"} <= listed


def test_the_image_context_leaves_out_secrets_and_local_state() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".venv", "*.db*"} <= set(ignored)
