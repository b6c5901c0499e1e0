"""`relay` as a user runs it, when things go wrong: every expected failure is one `error:`
line (one per mistake in a rules file) and a non-zero exit, never a traceback, and never
the value of an environment variable."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from relay.ids import new_id
from relay.models import Delivery, DeliveryStatus, Message, RunState
from relay.store import Decision, open_store
from relay.store.base import Context
from relay.transitions import diff
from tests.acceptance.harness import ROOT, relay_cli, relay_cli_async, start_relay_cli
from tests.builders import T0, snap
from tests.fakes.recoup_api import FakeRecoupApi
from tests.fakes.sinks import free_port

API_KEY = "recoup-test-key-not-real"
ENV = {"RECOUP_API_KEY": API_KEY}
BROKEN = """\
sources:
  recoup:
    kind: recoup
    api_key: ${RECOUP_API_KEY}
    poll_every: ${RECOUP_API_KEY}
channels:
  ops: {kind: console}
rules:
  - name: switched-off
    match: {status: DISABLD}
    notify: [ops]
  - name: failures
    match: {phase: problem}
    notify: [slak]
"""


def test_check_prints_every_mistake_and_no_environment_value(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(BROKEN)
    result = relay_cli("check", str(rules), env={"RECOUP_API_KEY": API_KEY})
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: {rules}:5: source 'recoup': poll_every: expected a duration like 30s, 2m or 1h,"
        " got '${RECOUP_API_KEY}'",
        f"error: {rules}:10: rule 'switched-off': match: status: unknown status 'DISABLD'"
        " (did you mean 'DISABLED'?)",
        f"error: {rules}:14: rule 'failures': unknown channel 'slak' (defined: ops)",
    ]
    assert API_KEY not in result.stdout + result.stderr


def test_serve_refuses_to_start_and_lists_every_mistake(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(BROKEN)
    port = str(free_port())
    result = relay_cli("serve", "--config", str(rules), "--port", port, env={"RECOUP_API_KEY": API_KEY})
    assert result.returncode == 1
    assert [line.split(":")[2] for line in result.stderr.splitlines()] == ["5", "10", "14"]
    assert API_KEY not in result.stdout + result.stderr


def test_a_yaml_syntax_error_is_one_line(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("sources:\n  recoup:\n\tkind: recoup\n")
    result = relay_cli("check", str(rules))
    assert result.returncode == 1
    assert result.stderr == (
        f"error: {rules}:3: YAML syntax: found a tab character where indentation is expected"
        " (indent with spaces)\n"
    )


async def test_poll_once_against_a_platform_that_refuses_the_key(tmp_path: Path) -> None:
    async with FakeRecoupApi(api_key="placeholder-recoup-key-the_right_one_0123") as recoup:
        rules = _polling_rules(tmp_path, recoup.base_url)
        result = await relay_cli_async("poll-once", "--config", str(rules), *_db(tmp_path), env=ENV)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: recoup: ") and "HTTP 401" in line
    assert API_KEY not in result.stdout + result.stderr


async def test_poll_once_against_a_platform_that_is_not_there(tmp_path: Path) -> None:
    rules = _polling_rules(tmp_path, f"http://127.0.0.1:{free_port()}/api")  # nothing listens
    result = await relay_cli_async("poll-once", "--config", str(rules), *_db(tmp_path), env=ENV)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: recoup: GET http://127.0.0.1:") and "ConnectError" in line


async def test_poll_once_polls_every_source_when_one_fails(tmp_path: Path) -> None:
    async with (
        FakeRecoupApi(api_key="placeholder-recoup-key-another_key_0123") as refusing,
        FakeRecoupApi(api_key=API_KEY) as answering,
    ):
        answering.put_run("run_a", status="COMPLETED")
        rules = tmp_path / "rules.yaml"
        rules.write_text(f"""
sources:
  a-refusing: {{kind: recoup, base_url: "{refusing.base_url}", api_key: "${{RECOUP_API_KEY}}"}}
  b-answering: {{kind: recoup, base_url: "{answering.base_url}", api_key: "${{RECOUP_API_KEY}}"}}
channels: {{ops: {{kind: console}}}}
rules: [{{name: r, match: {{phase: terminal}}, notify: [ops]}}]
""")
        result = await relay_cli_async("poll-once", "--config", str(rules), *_db(tmp_path), env=ENV)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: a-refusing: ") and "HTTP 401" in line
    assert "b-answering: listed 1," in result.stdout and "ingested 1" in result.stdout


async def test_ctrl_c_while_waiting_for_a_platform(tmp_path: Path) -> None:
    async with FakeRecoupApi(api_key=API_KEY) as recoup:
        recoup.delay_next(60)  # the platform takes its time
        rules = _polling_rules(tmp_path, recoup.base_url)
        proc = await start_relay_cli("poll-once", "--config", str(rules), *_db(tmp_path), env=ENV)
        for _ in range(3000):
            if recoup.requests or proc.returncode is not None:
                break
            await asyncio.sleep(0.01)
        assert recoup.requests, "the relay never asked the platform"
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert (proc.returncode, err.decode()) == (130, "error: interrupted\n")


def test_a_database_that_cannot_be_opened(tmp_path: Path) -> None:
    directory = ["--database", f"sqlite:///{tmp_path}"]
    expected = f"error: cannot open the database {tmp_path}: unable to open database file\n"
    serve = ["serve", "--config", str(ROOT / "rules.yaml"), "--port", str(free_port())]
    for command in (["deliveries"], serve):
        result = relay_cli(*command, *directory)
        assert (result.returncode, result.stderr) == (1, expected)
    other = relay_cli("deliveries", "--database", "mysql://db.example.com/relay")
    assert other.returncode == 1
    expected = "error: unsupported database URL scheme: 'mysql' (use sqlite:///FILE or postgresql://...)\n"
    assert other.stderr == expected


def test_a_reader_that_goes_away_ends_the_listing_quietly(tmp_path: Path) -> None:
    asyncio.run(_write_deliveries(tmp_path / "relay.db", 3000))  # far more than a pipe holds
    proc = subprocess.Popen(
        [sys.executable, "-m", "relay.cli", "deliveries", "--limit", "3000", *_db(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline()  # `relay deliveries | head -1`
    proc.stdout.close()
    assert proc.wait(60) == 1
    assert proc.stderr.read() == b""
    proc.stderr.close()


def test_version_and_every_command_in_the_help() -> None:
    assert relay_cli("--version").stdout == f"relay {version('run-relay')}\n"
    listed = relay_cli("--help").stdout
    for name in ("serve", "check", "poll-once", "deliveries", "preview", "silence", "replay"):
        assert any(line.startswith(f"  {name} ") for line in listed.splitlines()), name


def _polling_rules(tmp_path: Path, base_url: str) -> Path:
    rules = tmp_path / "rules.yaml"
    rules.write_text(f"""
sources: {{recoup: {{kind: recoup, base_url: "{base_url}", api_key: "${{RECOUP_API_KEY}}"}}}}
channels: {{ops: {{kind: console}}}}
rules: [{{name: r, match: {{phase: terminal}}, notify: [ops]}}]
""")
    return rules


def _db(tmp_path: Path) -> list[str]:
    return ["--database", f"sqlite:///{tmp_path / 'relay.db'}"]


async def _write_deliveries(path: Path, count: int) -> None:
    store = await open_store(f"sqlite:///{path}")
    run = snap("COMPLETED")

    def decide(previous: RunState | None, context: Context) -> Decision:
        t = diff(previous, run, now=T0, watching_since=context.watching_since, ids=new_id)
        assert t is not None
        return Decision(run, t, [_delivery(t.id, n) for n in range(count)])

    try:
        await store.record(run, decide, T0)
    finally:
        await store.close()


def _delivery(transition_id: str, n: int) -> Delivery:
    return Delivery(
        id=f"d-{n}",
        transition_id=transition_id,
        rule="r",
        channel="ops",
        idempotency_key=f"k-{n}",
        message=Message(f"message {n}", "body"),
        payload={},
        status=DeliveryStatus.SENT,
        attempts=1,
        next_attempt_at=T0,
        created_at=T0,
    )
